import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { AppError } from '../errors.ts';

/**
 * Where checkpoints go outside the database, and where verification reads them back:
 * - a folder of append-only files, one per UTC day (`checkpoints-YYYY-MM-DD.jws`), one compact
 *   JWS a line, in the order this instance signed them;
 * - an HTTPS webhook (see the checkpointer);
 * - `GET /audit/v1/checkpoints` of any instance (JSON).
 * @module
 */

/** The file of `dir` a checkpoint signed at `time` goes to. */
export function checkpointFile(dir: string, time: Date): string {
  return join(dir, `checkpoints-${time.toISOString().slice(0, 10)}.jws`);
}

/** Appends one checkpoint as a line, and waits until it is on disk. */
export async function appendCheckpoint(dir: string, jws: string, time = new Date()): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = await open(checkpointFile(dir, time), 'a', 0o644);
  try {
    await file.write(`${jws}\n`);
    await file.datasync();
  } finally {
    await file.close();
  }
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Thrown when a checkpoint or key source cannot be read; verification could not run. */
export class SourceError extends AppError<'ERR_AUDIT_SOURCE'> {
  constructor(message: string) {
    super('ERR_AUDIT_SOURCE', message);
  }
}

async function fetchText(url: string, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: 'error' });
  } catch (err) {
    throw new SourceError(`${what} ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new SourceError(`${what} ${url}: HTTP ${res.status}`);
  return res.text();
}

const isUrl = (spec: string) => /^https?:\/\//i.test(spec);

/**
 * Reads checkpoints, oldest first, from a file (one JWS a line), a folder of such files (in name
 * order: by day), or a URL answering `GET /audit/v1/checkpoints` JSON (or lines). A folder that
 * does not exist holds none.
 * @throws SourceError when the source cannot be read.
 */
export async function readCheckpoints(spec: string): Promise<string[]> {
  if (isUrl(spec)) {
    const text = await fetchText(spec, 'checkpoints');
    try {
      const body = JSON.parse(text) as { checkpoints?: Array<{ jws?: unknown }> };
      if (!Array.isArray(body.checkpoints)) throw new Error('no checkpoints list');
      return body.checkpoints.map((c) => String(c.jws ?? ''));
    } catch {
      return lines(text);
    }
  }
  try {
    const info = await stat(spec).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!info) return [];
    if (!info.isDirectory()) return lines(await readFile(spec, 'utf8'));
    const names = (await readdir(spec)).filter((n) => n.endsWith('.jws')).sort();
    const all: string[] = [];
    for (const name of names) all.push(...lines(await readFile(join(spec, name), 'utf8')));
    return all;
  } catch (err) {
    throw new SourceError(`checkpoints ${spec}: ${(err as Error).message}`);
  }
}

/**
 * Reads a JWKS from a file or URL.
 * @throws SourceError when it cannot be read or is not a JWKS.
 */
export async function readJwks(spec: string): Promise<JSONWebKeySet> {
  let text: string;
  try {
    text = isUrl(spec) ? await fetchText(spec, 'jwks') : await readFile(spec, 'utf8');
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`jwks ${spec}: ${(err as Error).message}`);
  }
  try {
    const jwks = JSON.parse(text) as JSONWebKeySet;
    if (!Array.isArray(jwks?.keys)) throw new Error();
    return jwks;
  } catch {
    throw new SourceError(`jwks ${spec}: not a JSON Web Key Set`);
  }
}
