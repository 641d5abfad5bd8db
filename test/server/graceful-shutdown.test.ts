import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/server.ts';
import { runCli } from '../helpers/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/mcp-elevate.js', import.meta.url));

/** One token request on its own connection: 'ok' with a complete body, 'refused', or what went wrong. */
function tokenRequest(port: number): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    resource: 'http://localhost:4000/mcp',
  }).toString();
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/token',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          authorization: 'Basic ' + Buffer.from('bot:bot-secret-1234').toString('base64'),
        },
      },
      (res) => {
        let data = '';
        res.on('data', (d) => {
          data += d;
        });
        res.on('end', () => {
          try {
            resolve(
              res.statusCode === 200 && JSON.parse(data).access_token
                ? 'ok'
                : `status ${res.statusCode}`,
            );
          } catch {
            resolve('truncated body');
          }
        });
        res.on('error', (e) => resolve(`response error ${(e as NodeJS.ErrnoException).code}`));
      },
    );
    req.on('error', (e) =>
      resolve(
        (e as NodeJS.ErrnoException).code === 'ECONNREFUSED'
          ? 'refused'
          : `request error ${(e as NodeJS.ErrnoException).code}`,
      ),
    );
    req.end(body);
  });
}

describe('graceful shutdown', () => {
  it(
    'gives every accepted token request a complete response when SIGTERM arrives mid-burst',
    { timeout: 240_000 },
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'mcpe-term-'));
      try {
        expect(
          (
            await runCli(
              ['clients', 'add', '--id', 'bot', '--secret', 'bot-secret-1234', '--role', 'viewer'],
              { DATA_DIR: dataDir },
            )
          ).code,
        ).toBe(0);
        const port = await freePort();
        const child = spawn(process.execPath, [BIN, 'serve'], {
          env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout!.on('data', (d) => {
          stdout += d;
        });
        // Wait until it serves; exactly one of these requests reaches the server (the first 'ok').
        for (let i = 0; i < 450 && (await tokenRequest(port)) !== 'ok'; i++)
          await new Promise((r) => setTimeout(r, 200));

        const results: Promise<string>[] = [];
        let sent = 0;
        const burst = setInterval(() => {
          for (let i = 0; i < 10 && sent < 400; i++, sent++) results.push(tokenRequest(port));
        }, 5);
        await new Promise((r) => setTimeout(r, 150));
        child.kill('SIGTERM');
        const [code] = await once(child, 'exit');
        clearInterval(burst);
        const outcomes = await Promise.all(results);
        const counts = outcomes.reduce<Record<string, number>>(
          (acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }),
          {},
        );
        expect(code).toBe(0);
        // The server's own count of requests it began handling, logged when it closed.
        const closed = stdout
          .split('\n')
          .filter((l) => l.includes('http server closed'))
          .map((l) => JSON.parse(l) as { requests: { started: number; completed: number } })[0];
        expect(closed, stdout).toBeDefined();
        expect(closed!.requests.completed).toBe(closed!.requests.started);
        // Every request the server began (the warm-up one plus the burst's) reached its client
        // complete; the others never got past the closing listener (refused, or reset unread).
        expect(counts.ok).toBeGreaterThan(0);
        expect(closed!.requests.started, JSON.stringify(counts)).toBe(1 + counts.ok!);
        expect(
          Object.keys(counts).filter(
            (k) =>
              k.startsWith('status') || k === 'truncated body' || k.startsWith('response error'),
          ),
          JSON.stringify(counts),
        ).toEqual([]);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
