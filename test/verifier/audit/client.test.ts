import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditClient } from '../../../src/verifier/audit/client.ts';
import type { AuditClient, AuditClientOptions } from '../../../src/verifier/audit/client.ts';
import type { AuditEventInput } from '../../../src/verifier/observability/audit-event.ts';
import { IngestServer, waitFor } from './ingest-server.ts';

const event = (n: number, extra: Partial<AuditEventInput> = {}): AuditEventInput => ({
  subject: 'dave',
  clientId: 'agent-1',
  tool: 'deploy_service',
  params: { n, password: 'hunter2' },
  result: 'success',
  decision: 'allow',
  ...extra,
});

let ingest: IngestServer;
let dir: string;
const clients: AuditClient[] = [];

beforeEach(async () => {
  ingest = new IngestServer();
  await ingest.start();
  dir = mkdtempSync(join(tmpdir(), 'audit-'));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await ingest.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(options: Partial<AuditClientOptions> = {}): AuditClient {
  const c = createAuditClient({
    endpoint: ingest.url,
    getAccessToken: async () => 'token-1',
    flushIntervalMs: 60_000,
    retryBaseMs: 20,
    retryMaxMs: 80,
    closeTimeoutMs: 2_000,
    ...options,
  });
  clients.push(c);
  return c;
}

describe('audit client batching', () => {
  it('N events go out in ceil(N / batchSize) authenticated JSON POSTs with redacted params', async () => {
    const audit = client({ batchSize: 10 });
    const ids = Array.from({ length: 25 }, (_, n) => audit.record(event(n)).id);
    await audit.close();

    expect(ingest.posts.map((p) => p.size)).toEqual([10, 10, 5]);
    expect(ingest.posts.every((p) => p.authorization === 'Bearer token-1')).toBe(true);
    expect(ingest.posts.every((p) => p.contentType === 'application/json')).toBe(true);
    expect([...ingest.events.keys()].sort()).toEqual([...ids].sort());
    const stored = ingest.events.get(ids[3]);
    expect(stored).toMatchObject({
      subject: 'dave',
      clientId: 'agent-1',
      tool: 'deploy_service',
      result: 'success',
    });
    expect(stored?.params).toEqual({ n: 3, password: '[REDACTED]' });
    expect(stored?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(stored!.time).toISOString()).toBe(stored?.time);
  });

  it('a queued event goes out after flushIntervalMs without reaching a full batch', async () => {
    const audit = client({ batchSize: 100, flushIntervalMs: 50 });
    audit.record(event(1));
    await waitFor(() => ingest.events.size === 1);
  });

  it('a denied event is flushed at once, together with what was queued before it', async () => {
    const audit = client({ batchSize: 100 });
    audit.record(event(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ingest.posts).toHaveLength(0);

    audit.record(event(2, { result: 'denied', decision: 'deny' }));
    await waitFor(() => ingest.events.size === 2, 1_000);
    expect(ingest.posts).toHaveLength(1);
  });

  it('a critical event is flushed at once', async () => {
    const audit = client({ batchSize: 100 });
    audit.record(event(1, { critical: true }));
    await waitFor(() => ingest.events.size === 1, 1_000);
  });
});

describe('audit client across endpoint outages', () => {
  it('503s then recovery: every event id arrives, each stored exactly once', async () => {
    let refusals = 4;
    ingest.behaviour = () => (refusals-- > 0 ? 503 : 200);
    const audit = client({ batchSize: 10, flushIntervalMs: 30 });
    const ids = Array.from({ length: 35 }, (_, n) => audit.record(event(n)).id);

    await waitFor(() => ingest.events.size === 35);
    // The ingest stores a batch before it answers: wait for the client to read the last answer.
    await waitFor(() => audit.stats().inFlight === 0);
    expect(new Set(ids)).toEqual(new Set(ingest.events.keys()));
    expect([...ingest.deliveries.values()].every((count) => count === 1)).toBe(true);
    expect(ingest.posts.filter((p) => p.status === 503)).toHaveLength(4);
    expect(audit.stats()).toMatchObject({ sent: 35, queued: 0, failedAttempts: 4, dropped: 0 });
  });

  it('a stopped endpoint that comes back receives everything recorded while it was down', async () => {
    const audit = client({ batchSize: 5, flushIntervalMs: 30 });
    const ids = [audit.record(event(0, { critical: true })).id];
    await waitFor(() => ingest.events.size === 1);

    await ingest.stop();
    for (let n = 1; n <= 20; n++) ids.push(audit.record(event(n)).id);
    await waitFor(() => audit.stats().failedAttempts > 0);
    await ingest.start();

    await waitFor(() => ingest.events.size === 21);
    expect(new Set(ids)).toEqual(new Set(ingest.events.keys()));
    expect([...ingest.deliveries.values()].every((count) => count === 1)).toBe(true);
  });

  it('beyond maxQueue events spill to the spool file, memory stays bounded, and all arrive after recovery', async () => {
    ingest.behaviour = () => 503;
    const spoolFile = join(dir, 'audit.ndjson');
    const audit = client({ batchSize: 5, maxQueue: 5, flushIntervalMs: 20, spoolFile });
    const ids = Array.from({ length: 40 }, (_, n) => audit.record(event(n)).id);
    await waitFor(() => audit.stats().failedAttempts >= 2);

    const { queued, inFlight, spooled } = audit.stats();
    expect(queued + inFlight).toBeLessThanOrEqual(5);
    expect(spooled).toBe(35);
    const lines = readFileSync(spoolFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(35);
    expect(JSON.parse(lines[0]).params).toEqual({ n: 5, password: '[REDACTED]' });

    ingest.behaviour = () => 200;
    await waitFor(() => ingest.events.size === 40);
    expect(new Set(ids)).toEqual(new Set(ingest.events.keys()));
    expect(audit.stats()).toMatchObject({ spooled: 0, dropped: 0 });
    await waitFor(() => !existsSync(spoolFile));
  });

  it('events undelivered at close() are kept in the spool and sent by the next client', async () => {
    const spoolFile = join(dir, 'audit.ndjson');
    await ingest.stop();
    const first = client({ spoolFile, closeTimeoutMs: 100 });
    const ids = Array.from({ length: 12 }, (_, n) => first.record(event(n)).id);
    const stats = await first.close();
    expect(stats).toMatchObject({ queued: 0, spooled: 12 });
    expect(readFileSync(spoolFile, 'utf8').trim().split('\n')).toHaveLength(12);

    await ingest.start();
    const second = client({ spoolFile });
    await second.flush();
    expect(new Set(ingest.events.keys())).toEqual(new Set(ids));
    expect(existsSync(spoolFile)).toBe(false);
  });

  it('without a spool, overflow drops the oldest non-critical event and counts it', async () => {
    ingest.behaviour = () => 503;
    const audit = client({ maxQueue: 3, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    const critical = audit.record(event(0, { critical: true })).id;
    await waitFor(() => audit.stats().failedAttempts === 1); // now backing off for a minute
    const oldest = audit.record(event(1)).id;
    const kept = [audit.record(event(2)).id, audit.record(event(3)).id];
    expect(audit.stats()).toMatchObject({ queued: 3, dropped: 1 });

    ingest.behaviour = () => 200;
    await audit.flush();
    expect(new Set(ingest.events.keys())).toEqual(new Set([critical, ...kept]));
    expect(ingest.events.has(oldest)).toBe(false);
  });

  it('close() keeps retrying an endpoint that recovers within closeTimeoutMs', async () => {
    let refusals = 3;
    ingest.behaviour = () => (refusals-- > 0 ? 503 : 200);
    const audit = client({ batchSize: 50 });
    for (let n = 0; n < 7; n++) audit.record(event(n));
    const stats = await audit.close();
    expect(stats).toMatchObject({ sent: 7, queued: 0 });
    expect(ingest.events.size).toBe(7);
  });

  it('a batch the server refuses with 400 is dropped, counted, and does not block later events', async () => {
    ingest.behaviour = () => 400;
    const errors: Error[] = [];
    const audit = client({ onError: (e) => errors.push(e) });
    audit.record(event(1));
    await audit.flush();
    ingest.behaviour = () => 200;
    const later = audit.record(event(2)).id;
    await audit.flush();
    expect([...ingest.events.keys()]).toEqual([later]);
    expect(audit.stats()).toMatchObject({ rejected: 1, sent: 1 });
    expect(errors).toHaveLength(1);
  });
});

describe('audit client credentials', () => {
  it('a 401 refreshes the access token once and the batch is delivered with the new one', async () => {
    ingest.behaviour = (req) => (req.headers.authorization === 'Bearer fresh' ? 200 : 401);
    const tokens = ['stale', 'fresh'];
    let calls = 0;
    const audit = client({ getAccessToken: async () => tokens[Math.min(calls++, 1)] });
    audit.record(event(1));
    await audit.flush();
    expect(ingest.posts.map((p) => [p.authorization, p.status])).toEqual([
      ['Bearer stale', 401],
      ['Bearer fresh', 200],
    ]);
    expect(calls).toBe(2);

    audit.record(event(2));
    await audit.flush();
    expect(calls).toBe(2); // the refreshed token is reused
    expect(ingest.events.size).toBe(2);
  });

  it('a token the server keeps refusing is refreshed only once per attempt and the events stay queued', async () => {
    ingest.behaviour = () => 401;
    let calls = 0;
    const audit = client({ getAccessToken: async () => `t${++calls}` });
    audit.record(event(1));
    await audit.flush();
    expect(calls).toBe(2);
    expect(ingest.posts).toHaveLength(2);
    expect(audit.stats()).toMatchObject({ queued: 1, failedAttempts: 1 });
    ingest.behaviour = () => 200;
  });

  it('record() after close() is a caller mistake', async () => {
    const audit = client();
    await audit.close();
    expect(() => audit.record(event(1))).toThrow(TypeError);
  });
});
