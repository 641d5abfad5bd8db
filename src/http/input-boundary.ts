import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import { answerOAuthError } from './oauth-error.ts';
import { PROBLEM_TYPE, problemBody, problemOf } from './problem.ts';
import { unsafeText, type UnsafeText } from './text.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { readAndPutBack } from './request-body.ts';

/**
 * The one input boundary in front of every route (ARCHITECTURE.md §8 "Trust boundaries"), oidc-provider's
 * own endpoints included. Rules:
 * - no NUL (U+0000) and no lone UTF-16 surrogate in the path, a query parameter (name or value),
 *   the client credentials of an HTTP Basic `Authorization` header, or the body: every key and
 *   string of a JSON body, every name and value of a form, the raw text of any other body; a
 *   query or form value that is itself JSON (`authorization_details`, `claims`) is read as JSON
 *   too. PostgreSQL text and jsonb cannot store either character, so they are refused here
 *   rather than failing deep inside a route;
 * - a body larger than {@link INPUT_MAX_BODY_BYTES} is refused (413) before it is read whole.
 *
 * Refusals are 400 `invalid_request`: RFC 9457 problem JSON under the JSON APIs (`/admin/`,
 * `/audit/`, `/api/`), an OAuth error object (RFC 6749 §5.2) everywhere else. Malformed JSON is
 * left to the route's own parser, which answers it in its own words.
 *
 * The body is read from the socket with a bounded reader and put back on the request stream
 * (`unshift`), so the parsers behind (oidc-provider's own, `@koa/bodyparser`) read it as sent.
 */
export function inputBoundary(opts: { maxBodyBytes?: number } = {}) {
  const maxBodyBytes = opts.maxBodyBytes ?? INPUT_MAX_BODY_BYTES;
  return async (ctx: Context, next: Next): Promise<void> => {
    const refusal = refusalOfUrl(ctx) ?? refusalOfAuthorization(ctx.get('authorization'));
    if (refusal) return refuse(ctx, 'ERR_INVALID_REQUEST', refusal);
    if (hasBody(ctx.req)) {
      const declared = Number(ctx.get('content-length'));
      if (declared > maxBodyBytes) return refuse(ctx, 'ERR_BODY_TOO_LARGE', tooLarge(maxBodyBytes));
      let raw: Buffer | undefined;
      try {
        raw = await readAndPutBack(ctx.req, maxBodyBytes);
      } catch {
        // The client went away or broke the stream: nothing is left to answer.
        return refuse(ctx, 'ERR_INVALID_REQUEST', 'the request body could not be read');
      }
      if (!raw) return refuse(ctx, 'ERR_BODY_TOO_LARGE', tooLarge(maxBodyBytes));
      const found = refusalOfBody(ctx, raw, maxBodyBytes);
      if (found) return refuse(ctx, 'ERR_INVALID_REQUEST', found);
    }
    await next();
  };
}

/** Largest request body any route reads (audit ingest batches: 4 MiB), in bytes. */
export const INPUT_MAX_BODY_BYTES = DEFAULTS.inputMaxBodyBytes;

const WHAT: Record<UnsafeText, string> = {
  nul: 'a NUL character (U+0000)',
  lone_surrogate: 'an unpaired UTF-16 surrogate',
};

const tooLarge = (max: number) => `the request body exceeds ${Math.floor(max / 1024)} KiB`;

function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

/** Percent-decodes like the routers do, keeping an escaped NUL visible in text that is not valid. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path.replace(/%00/g, '\0');
  }
}

function refusalOfUrl(ctx: Context): string | undefined {
  const inPath = unsafeText(decodePath(ctx.path));
  if (inPath) return `the request path holds ${WHAT[inPath]}`;
  return ctx.querystring
    ? refusalOfValues(parseQuery(ctx.querystring), 'query parameter')
    : undefined;
}

// Client credentials in a Basic header are form-encoded (RFC 6749 §2.3.1) before base64.
function refusalOfAuthorization(header: string): string | undefined {
  const m = /^basic +([A-Za-z0-9+/=._~-]+)$/i.exec(header);
  if (!m) return undefined;
  const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
  const found = unsafeText(pair) ?? unsafeText(decodePath(pair.replace(/\+/g, ' ')));
  return found && `the client credentials in the Authorization header hold ${WHAT[found]}`;
}

function refusalOfBody(ctx: Context, raw: Buffer, max: number): string | undefined {
  const bytes = decoded(ctx.get('content-encoding'), raw, max);
  if (!bytes) return undefined;
  const text = bytes.toString('utf8');
  if (ctx.is('application/x-www-form-urlencoded'))
    return refusalOfValues(parseQuery(text), 'form field');
  if (ctx.is('json', '+json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    return refusalOfJson(value, 'the JSON body');
  }
  const found = unsafeText(text);
  return found && `the request body holds ${WHAT[found]}`;
}

/** The body as sent, or as the parsers will inflate it; undefined when it cannot be inflated. */
function decoded(encoding: string, raw: Buffer, max: number): Buffer | undefined {
  const opts = { maxOutputLength: max };
  try {
    switch (encoding.trim().toLowerCase()) {
      case '':
      case 'identity':
        return raw;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(raw, opts);
      case 'deflate':
        return inflateSync(raw, opts);
      case 'br':
        return brotliDecompressSync(raw, opts);
      default:
        return undefined;
    }
  } catch {
    // Not inflatable (or larger than allowed inflated): the route's parser answers it.
    return undefined;
  }
}

function refusalOfValues(
  values: Record<string, string | string[] | undefined>,
  kind: string,
): string | undefined {
  for (const [name, value] of Object.entries(values)) {
    const found = unsafeText(name);
    if (found) return `a ${kind} name holds ${WHAT[found]}`;
    for (const v of Array.isArray(value) ? value : [value ?? '']) {
      const inValue = unsafeText(v) ?? (/^\s*[[{]/.test(v) ? jsonProblem(v) : undefined);
      if (inValue) return `the ${kind} ${label(name)}holds ${WHAT[inValue]}`;
    }
  }
  return undefined;
}

// A parameter name is quoted in the answer only when it is plainly a name.
const label = (name: string) => (/^[\w.:-]{1,64}$/.test(name) ? `${name} ` : '');

function jsonProblem(text: string): UnsafeText | undefined {
  try {
    return firstUnsafe(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function refusalOfJson(value: unknown, where: string): string | undefined {
  const found = firstUnsafe(value);
  return found && `${where} holds ${WHAT[found]}`;
}

/** The first unsafe key or string anywhere in a parsed JSON value (iterative: depth is free). */
function firstUnsafe(root: unknown): UnsafeText | undefined {
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      const found = unsafeText(v);
      if (found) return found;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const found = unsafeText(k);
        if (found) return found;
        stack.push(child);
      }
    }
  }
  return undefined;
}

/** Answers a refusal here (this runs in front of the error middleware), in the edge's own shape. */
function refuse(
  ctx: Context,
  code: 'ERR_INVALID_REQUEST' | 'ERR_BODY_TOO_LARGE',
  detail: string,
): void {
  const err = new AppError(code, detail);
  ctx.set('Cache-Control', 'no-store');
  if (!/^\/(admin|audit|api)\//.test(ctx.path)) return answerOAuthError(ctx, err);
  const problem = problemOf(err)!;
  ctx.status = problem.status;
  ctx.type = PROBLEM_TYPE;
  ctx.body = problemBody(problem);
}
