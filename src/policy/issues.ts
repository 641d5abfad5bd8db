import type { z } from 'zod';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Renders a path the way a reader would write it in JavaScript:
 * `['scopes', 'mcp:admin', 'approval', 'quorum']` → `scopes["mcp:admin"].approval.quorum`.
 * Keys that are not identifiers are JSON-quoted, so a key containing `.` or `"` stays unambiguous.
 * The empty path renders as `(root)`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${String(key)}]`;
    else if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Turns a zod error (or its issues) into one `path: message` line per problem, in the same style
 * as {@link validateCatalogue}, so a config loader can print them all at once.
 * Unknown keys get one line each with the key in the path (`scopes["x"].grnats: unknown key`).
 */
export function formatZodIssues(error: z.ZodError | readonly z.core.$ZodIssue[]): string[] {
  const issues = Array.isArray(error) ? error : (error as z.ZodError).issues;
  const lines: string[] = [];
  for (const issue of issues as readonly z.core.$ZodIssue[]) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown key`);
    } else if (issue.code === 'invalid_key') {
      const why = issue.issues.map((i) => i.message).join('; ');
      lines.push(`${formatPath(issue.path)}: invalid key (${why})`);
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}
