import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { CHECKPOINT_TYP } from '../../src/audit/checkpoints.ts';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Checkpoints at their cadence: signed with the audit key (not the token key), posted to the
 * webhook through the outbound guard, listed at /audit/v1/checkpoints, verifiable with
 * /audit/v1/jwks alone, and measured in /metrics.
 */
describe.each(databaseKinds())('audit checkpoints (%s)', { timeout: 120_000 }, (kind) => {
  let t: TestServer;
  let hook: HttpServer;
  const posted: Array<{ checkpoint: string; n: number; seq: number }> = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        posted.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    }).listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const { port } = hook.address() as AddressInfo;
    t = await startTestServer(kind, {
      AUDIT_CHECKPOINT_EVERY_EVENTS: '3',
      AUDIT_CHECKPOINT_EVERY_SECONDS: '3600',
      AUDIT_CHECKPOINT_WEBHOOK: `http://127.0.0.1:${port}/checkpoints`,
      OUTBOUND_ALLOW: '127.0.0.1',
    });
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    hook?.close();
  });

  it('every 3 events: a checkpoint of the head, posted to the webhook, listed, verifiable with the audit JWKS only', async () => {
    const events = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        action: 'checkpoint.test',
        result: 'success',
        data: { i },
      }));
    await t.server.audit.append(...events(3));
    await t.server.audit.flush();
    await expect.poll(() => posted.length, { timeout: 20_000 }).toBeGreaterThan(0);
    const head = await t.server.db.db
      .selectFrom('audit_event')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    const [first] = posted;
    expect(first).toMatchObject({ n: 1, seq: Number(head.seq) });

    const jwks = (await (await fetch(`${t.url}/audit/v1/jwks`)).json()) as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(
      first!.checkpoint,
      createLocalJWKSet(jwks),
      {
        issuer: t.url,
        typ: CHECKPOINT_TYP,
      },
    );
    expect(payload).toMatchObject({ n: 1, seq: Number(head.seq), hash: head.hash });
    // Not the token signing key.
    const tokenKeys = (await (await fetch(`${t.url}/jwks`)).json()) as JSONWebKeySet;
    expect(tokenKeys.keys.map((k) => k.kid)).not.toContain(protectedHeader.kid);
    expect(jwks.keys.every((k) => (k as { d?: string }).d === undefined)).toBe(true);

    const listed = (await (await fetch(`${t.url}/audit/v1/checkpoints`)).json()) as {
      checkpoints: Array<{ n: number; seq: string; jws: string; kid: string }>;
    };
    expect(listed.checkpoints[0]).toMatchObject({
      n: 1,
      seq: String(head.seq),
      jws: first!.checkpoint,
    });
    expect(decodeProtectedHeader(listed.checkpoints[0]!.jws).kid).toBe(listed.checkpoints[0]!.kid);

    // Three more: the next one, numbered 2.
    await t.server.audit.append(...events(3));
    await t.server.audit.flush();
    await expect.poll(() => posted.length, { timeout: 20_000 }).toBe(2);
    expect(posted[1]!.n).toBe(2);
    const after = (await (
      await fetch(`${t.url}/audit/v1/checkpoints?after=1`)
    ).json()) as typeof listed;
    expect(after.checkpoints.map((c) => c.n)).toEqual([2]);
  });

  it('bad list queries are 400 problems, not errors', async () => {
    for (const q of ['limit=0', 'limit=100000', 'after=-1', 'after=x', 'other=1']) {
      const res = await fetch(`${t.url}/audit/v1/checkpoints?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('metrics: the latest checkpoint age, events it does not cover, the seq verified', async () => {
    await t.server.audit.verify();
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('mcp_elevate_audit_checkpoint_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('mcp_elevate_audit_checkpoint_age_seconds')).toBeLessThan(600);
    expect(value('mcp_elevate_audit_unchecked_events')).toBeGreaterThanOrEqual(0);
    expect(value('mcp_elevate_audit_verified_seq')).toBeGreaterThanOrEqual(6);
  });
});

describe('audit checkpoint configuration', () => {
  it('refuses a plain-http webhook unless its host is admitted, and documents the defaults', () => {
    expect(() => loadConfig({ AUDIT_CHECKPOINT_WEBHOOK: 'http://collector.example/x' })).toThrow(
      ConfigError,
    );
    expect(
      loadConfig({
        AUDIT_CHECKPOINT_WEBHOOK: 'http://10.0.0.7/x',
        OUTBOUND_ALLOW: '10.0.0.0/8',
      }).auditCheckpoints.webhook,
    ).toBe('http://10.0.0.7/x');
    expect(loadConfig({ DATA_DIR: '/srv/data' }).auditCheckpoints).toEqual({
      everyEvents: 1000,
      everySeconds: 60,
      dir: '/srv/data/audit-checkpoints',
    });
    expect(() => loadConfig({ AUDIT_CHECKPOINT_EVERY_SECONDS: '0' })).toThrow(
      /^AUDIT_CHECKPOINT_EVERY_SECONDS: /,
    );
  });
});
