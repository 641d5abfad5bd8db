import { RoleSchema } from './schema.ts';
import type { Role, RoleInput } from './schema.ts';

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

const SEED: RoleInput[] = [
  {
    name: 'viewer',
    description: 'Reads state: list, get and check tools, and read-only MCP resources.',
    permissions: [
      { resource: 'tool:list_*' },
      { resource: 'tool:get_*' },
      { resource: 'tool:check_*' },
      { resource: 'resource:*', action: 'read' },
    ],
  },
  {
    name: 'developer',
    description: 'Builds and tests, and deploys to development and staging.',
    inherits: ['viewer'],
    permissions: [
      { resource: 'tool:run_tests' },
      { resource: 'tool:build_artifact' },
      { resource: 'tool:deploy_service', conditions: { environment: ['development', 'staging'] } },
    ],
  },
  {
    name: 'senior_developer',
    description: 'Everything a developer does, plus production deployments and rollbacks.',
    inherits: ['developer'],
    permissions: [
      { resource: 'tool:deploy_service', conditions: { environment: ['production'] } },
      { resource: 'tool:rollback_deployment' },
    ],
  },
  {
    name: 'admin',
    description: 'Unrestricted: every action on every resource, including administration.',
    inherits: ['senior_developer'],
    permissions: [{ resource: '*', action: '*' }],
  },
];

/**
 * The roles a fresh installation starts with (the migration seeds them):
 * `viewer` ⊂ `developer` ⊂ `senior_developer` ⊂ `admin`. Deeply frozen; copy before editing.
 */
export const DEFAULT_ROLES: readonly Role[] = deepFreeze(
  SEED.map((role) => RoleSchema.parse(role)),
);
