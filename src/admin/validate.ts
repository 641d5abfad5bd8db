import type { z } from 'zod';
import { AppError } from '../errors.ts';
import { formatPath } from '../policy/index.ts';

/** One problem with a request, as listed in a 400 problem's `errors`. */
export interface FieldError {
  /** Where the problem is, written as in JavaScript: `inherits[0]`, `permissions[2].resource`. */
  path: string;
  message: string;
}

/** Which part of the request a schema checked. */
export type RequestPart = 'body' | 'query' | 'path';

// A 400 detail names at most this many problems; the `errors` array carries them all.
const DETAIL_LIMIT = 5;

/** Turns zod issues into field errors; an unknown key gets one error of its own, with the key in the path. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return out;
}

/** The 400 problem for a request part that does not match its schema; `detail` names the fields. */
export function validationProblem(part: RequestPart, error: z.ZodError): AppError {
  const errors = fieldErrors(error);
  const shown = errors
    .slice(0, DETAIL_LIMIT)
    .map((e) => `${e.path}: ${e.message}`)
    .join('; ');
  const more = errors.length > DETAIL_LIMIT ? ` (and ${errors.length - DETAIL_LIMIT} more)` : '';
  return new AppError('ERR_VALIDATION', `invalid request ${part}: ${shown}${more}`, {
    errors,
  });
}

/**
 * Parses one request part with its schema. A missing body gets its own message rather than
 * zod's "expected object, received undefined" at `(root)`.
 *
 * @throws {AppError} `ERR_VALIDATION` (400) naming every offending field.
 */
export function parsePart<S extends z.ZodType>(
  part: RequestPart,
  schema: S,
  value: unknown,
): z.output<S> {
  if (part === 'body' && value === undefined && !schema.safeParse(undefined).success) {
    throw new AppError('ERR_VALIDATION', 'a JSON request body is required', {
      errors: [{ path: '(root)', message: 'required' }],
    });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationProblem(part, parsed.error);
  return parsed.data;
}
