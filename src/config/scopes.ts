import { readFile } from 'node:fs/promises';
import { AppError } from '../errors.ts';
import {
  CatalogueSchema,
  formatZodIssues,
  validateCatalogue,
  type Catalogue,
} from '../policy/index.ts';

/** Thrown when scopes.json cannot be read or is invalid; the message names the path of each problem. */
export class CatalogueError extends AppError<'ERR_CATALOGUE'> {
  constructor(message: string) {
    super('ERR_CATALOGUE', message);
  }
}

/** Reads and validates the scope catalogue; `roleNames` are the roles `minRole` may name. */
export async function loadCatalogue(
  file: string,
  roleNames: readonly string[],
): Promise<Readonly<Catalogue>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON';
    throw new CatalogueError(`SCOPES_FILE ${file}: ${why}`);
  }
  const parsed = CatalogueSchema.safeParse(raw);
  if (!parsed.success)
    throw new CatalogueError(`${file}: ${formatZodIssues(parsed.error).join('; ')}`);
  const problems = validateCatalogue(parsed.data, roleNames);
  if (problems.length) throw new CatalogueError(`${file}: ${problems.join('; ')}`);
  return Object.freeze(parsed.data);
}

/** Names of the catalogue's elevated scopes (those with a `minRole`). */
export function isElevated(catalogue: Catalogue, scope: string): boolean {
  return catalogue.scopes[scope]?.minRole !== undefined;
}
