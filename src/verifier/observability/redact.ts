/**
 * Redaction of secrets in structured data before it leaves the process (spans, audit events,
 * logs). Shared by the verifier and the server, so it depends on nothing.
 *
 * Rules it enforces:
 * - a key that contains `password`, `token`, `secret` or `apikey` / `api_key` / `api-key`
 *   (any case) has its whole value replaced by {@link REDACTED}, at any depth, in objects and in
 *   objects inside arrays;
 * - the input is never mutated: the result is a deep copy of plain JSON-like data;
 * - cycles become {@link CIRCULAR} and nesting past `maxDepth` becomes {@link TRUNCATED}, so hostile
 *   or accidental graphs cannot blow the stack or hang a request.
 */

/** Placeholder for a sensitive value. */
export const REDACTED = '[REDACTED]';
/** Placeholder for a reference back to an object on the current path. */
export const CIRCULAR = '[Circular]';
/** Placeholder for a value nested deeper than `maxDepth`. */
export const TRUNCATED = '[Truncated]';

/** Key pattern of {@link redact}: matched anywhere in the key, case-insensitively. */
export const SENSITIVE_KEY = /password|token|secret|api[-_]?key/i;

/** Options of {@link redact}. */
export interface RedactOptions {
  /** Keys whose values are replaced. Default: {@link SENSITIVE_KEY}. */
  sensitiveKey?: RegExp;
  /** Deepest nesting copied; deeper values become `[Truncated]`. Default: `32`. */
  maxDepth?: number;
}

/**
 * Returns a deep copy of `value` with the values of sensitive keys replaced by `"[REDACTED]"`.
 *
 * Non-JSON values are made JSON-safe on the way: `bigint` becomes a string, functions and symbols
 * are dropped, objects with `toJSON` (Date, URL) are copied through it, `Map` becomes an object and
 * `Set` an array (their contents redacted like any other).
 */
export function redact(value: unknown, options: RedactOptions = {}): unknown {
  const pattern = options.sensitiveKey ?? SENSITIVE_KEY;
  const maxDepth = options.maxDepth ?? 32;
  // Only the objects on the current path count as cycles; a value shared by two siblings is
  // simply copied twice.
  const path = new Set<object>();

  const copy = (input: unknown, depth: number): unknown => {
    if (typeof input === 'bigint') return input.toString();
    if (typeof input === 'function' || typeof input === 'symbol') return undefined;
    if (input === null || typeof input !== 'object') return input;
    if (path.has(input)) return CIRCULAR;
    if (depth >= maxDepth) return TRUNCATED;

    path.add(input);
    try {
      if (Array.isArray(input)) return input.map((item) => copy(item, depth + 1) ?? null);
      if (input instanceof Set) return [...input].map((item) => copy(item, depth + 1) ?? null);
      const entries: Iterable<[unknown, unknown]> =
        input instanceof Map ? input.entries() : Object.entries(input);
      if (!(input instanceof Map) && typeof (input as { toJSON?: unknown }).toJSON === 'function') {
        return copy((input as { toJSON(): unknown }).toJSON(), depth);
      }
      const out: Record<string, unknown> = {};
      for (const [rawKey, item] of entries) {
        const key = String(rawKey);
        const safe = pattern.test(key) ? REDACTED : copy(item, depth + 1);
        if (safe !== undefined) out[key] = safe;
      }
      return out;
    } finally {
      path.delete(input);
    }
  };

  return copy(value, 0);
}
