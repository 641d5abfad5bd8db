import { readFileSync } from 'node:fs';
import { DEFAULT_ROLES, buildRoleGraph, parseCatalogue } from '../../src/policy/index.ts';

/** Reads a JSON file at the repository root. */
export const readRootJson = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));

/** The default roles and the shipped scopes.json, as the server loads them. */
export const defaultRoles = buildRoleGraph(DEFAULT_ROLES);
export const defaultCatalogue = parseCatalogue(
  readRootJson('scopes.json'),
  defaultRoles.roles.keys(),
);
