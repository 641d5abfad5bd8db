import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NdjsonSpool } from '../../../src/verifier/audit/spool.ts';
import type { AuditEvent } from '../../../src/verifier/observability/audit-event.ts';

const ev = (n: number): AuditEvent => ({
  id: `id-${n}`,
  time: new Date(0).toISOString(),
  subject: 's',
  clientId: 'c',
  tool: 't',
  params: { n },
  result: 'success',
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('NDJSON spool', () => {
  it('returns events first in, first out, across several takes, and removes the file when drained', async () => {
    const spool = new NdjsonSpool(join(dir, 's.ndjson'));
    for (let n = 0; n < 10; n++) spool.append(ev(n));
    expect(spool.size).toBe(10);
    expect((await spool.take(4)).map((e) => e.id)).toEqual(['id-0', 'id-1', 'id-2', 'id-3']);
    spool.append(ev(10));
    expect((await spool.take(100)).map((e) => e.id)).toEqual([
      'id-4',
      'id-5',
      'id-6',
      'id-7',
      'id-8',
      'id-9',
      'id-10',
    ]);
    expect(spool.size).toBe(0);
    expect(existsSync(spool.path)).toBe(false);
  });

  it('compact() drops what was read, so a new spool on the same file starts with the rest', async () => {
    const path = join(dir, 's.ndjson');
    const spool = new NdjsonSpool(path);
    for (let n = 0; n < 5; n++) spool.append(ev(n));
    await spool.take(2);
    await spool.compact();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3);
    const reopened = new NdjsonSpool(path);
    expect(reopened.size).toBe(3);
    expect((await reopened.take(10)).map((e) => e.id)).toEqual(['id-2', 'id-3', 'id-4']);
  });

  it('skips a torn line left by a crash and counts it', async () => {
    const path = join(dir, 's.ndjson');
    appendFileSync(path, `${JSON.stringify(ev(1))}\n{"id":"torn`);
    appendFileSync(path, `\n${JSON.stringify(ev(2))}\n`);
    const spool = new NdjsonSpool(path);
    expect((await spool.take(10)).map((e) => e.id)).toEqual(['id-1', 'id-2']);
    expect(spool.corrupt).toBe(1);
  });
});
