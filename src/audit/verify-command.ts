import type { JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { auditJwks } from './audit-keys.ts';
import { AuditLog } from './audit-log.ts';
import { readCheckpoints, readJwks, SourceError } from './sinks.ts';
import {
  verifyAudit,
  type AuditVerification,
  type CheckpointSource,
  type Checkpoints,
} from './verify.ts';

/**
 * Exit codes of `mcp-elevate audit verify`, for cron and monitoring:
 * 0 intact; 1 tampering found (the output names its kind and first `seq`); 2 bad usage or
 * configuration; 3 verification could not run (database or a source unreachable or unreadable).
 */
export const VERIFY_EXIT = { ok: 0, tampered: 1, usage: 2, unavailable: 3 } as const;

/** Every checkpoint the database holds, oldest first. */
async function storedCheckpoints(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('audit_checkpoint').select('jws').orderBy('n').execute();
  return rows.map((r) => r.jws);
}

/**
 * The checkpoints a server or an operator beside it has: the instance's checkpoint folder and the
 * database's list, each verified with the database's audit keys (or `jwks`).
 */
export function localCheckpointSources(opts: {
  db: Kysely<Database>;
  dir: string;
  issuer?: string;
  jwks?: JSONWebKeySet;
}): CheckpointSource {
  return async () => {
    const jwks = opts.jwks ?? (await auditJwks(opts.db));
    return [
      { name: opts.dir, list: await readCheckpoints(opts.dir), jwks, issuer: opts.issuer },
      { name: 'database', list: await storedCheckpoints(opts.db), jwks, issuer: opts.issuer },
    ];
  };
}

/** One line for a person: what was verified, or what was found. */
export function describeVerification(v: AuditVerification): string {
  if (v.brokenAt) {
    const { kind, seq, id, reason } = v.brokenAt;
    return `tampered: ${kind} at seq ${seq}${id ? ` (${id})` : ''}: ${reason}`;
  }
  const latest = v.checkpoints.latest;
  return latest
    ? `ok: ${v.count} events; checkpoints: ${v.checkpoints.checked}, the latest n ${latest.n} at seq ${latest.seq}`
    : `ok: ${v.count} events`;
}

/**
 * `mcp-elevate audit verify [--checkpoints <file|dir|url>]... [--jwks <file|url>] [--json]`:
 * chains what is pending, verifies the chain and the checkpoints (by default the checkpoint
 * folder and the database's list), prints the outcome and returns the exit code
 * ({@link VERIFY_EXIT}).
 */
export async function runAuditVerify(opts: {
  db: Kysely<Database>;
  checkpoints?: string[];
  jwks?: string;
  dir: string;
  issuer?: string;
  json: boolean;
}): Promise<number> {
  let result: AuditVerification;
  try {
    const jwks = opts.jwks ? await readJwks(opts.jwks) : undefined;
    let sources: Checkpoints[];
    if (opts.checkpoints?.length) {
      const keys = jwks ?? (await auditJwks(opts.db));
      sources = [];
      for (const spec of opts.checkpoints)
        sources.push({
          name: spec,
          list: await readCheckpoints(spec),
          jwks: keys,
          issuer: opts.issuer,
        });
    } else {
      sources = await localCheckpointSources({
        db: opts.db,
        dir: opts.dir,
        issuer: opts.issuer,
        jwks,
      })();
    }
    await new AuditLog(opts.db).flush();
    result = await verifyAudit(opts.db, sources);
  } catch (err) {
    const reason = err instanceof SourceError ? err.message : `database: ${(err as Error).message}`;
    if (opts.json) console.log(JSON.stringify({ ok: false, error: reason.split('\n')[0] }));
    else console.error(`mcp-elevate: could not verify: ${reason.split('\n')[0]}`);
    return VERIFY_EXIT.unavailable;
  }
  if (opts.json) console.log(JSON.stringify(result));
  else if (result.ok) console.log(describeVerification(result));
  else console.error(describeVerification(result));
  return result.ok ? VERIFY_EXIT.ok : VERIFY_EXIT.tampered;
}
