/**
 * Serialises JSON data canonically in the manner of RFC 8785 (JCS): object keys sorted by UTF-16
 * code units, no whitespace, numbers and strings as ECMAScript's `JSON.stringify` prints them.
 * Equal data always yields the same string, so the server can hash tool-call arguments and bind an
 * approval to them. Hashing itself is left to the caller to keep this module dependency-free.
 *
 * Object properties whose value is `undefined` are omitted, as JSON.stringify does.
 *
 * @throws {TypeError} For values JSON cannot carry faithfully: non-finite numbers, bigint,
 *   functions, symbols, `undefined` outside an object property, strings with lone surrogates,
 *   objects that are not plain objects or arrays, and cycles.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, new Set());
}

function serialise(value: unknown, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed())
        throw new TypeError('canonicalJson: string contains a lone surrogate');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
  if (value === null) return 'null';
  if (ancestors.has(value)) throw new TypeError('canonicalJson: cyclic structure');
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = `[${value.map((item) => serialise(item, ancestors)).join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      throw new TypeError('canonicalJson: only plain objects and arrays');
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is exactly RFC 8785's ordering.
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    out = `{${keys.map((key) => `${serialise(key, ancestors)}:${serialise(record[key], ancestors)}`).join(',')}}`;
  }
  ancestors.delete(value);
  return out;
}
