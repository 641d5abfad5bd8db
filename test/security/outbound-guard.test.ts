import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.ts';
import { createOutboundGuard, isForbiddenAddress } from '../../src/http/outbound.ts';
import { parseOutboundAllow } from '../../src/config/outbound-allow.ts';

/** Every class of non-public address, each in the spellings a URL or a resolver may produce. */
const FORBIDDEN: Record<string, string[]> = {
  loopback: [
    '127.0.0.1',
    '127.1',
    '0x7f000001',
    '2130706433',
    '0177.0.0.1',
    '0x7f.1',
    '[::1]',
    '[0:0:0:0:0:0:0:1]',
  ],
  'v4-mapped and v4-compatible v6': [
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::ffff:10.0.0.1]',
    '[::127.0.0.1]',
  ],
  'NAT64, 6to4 and Teredo': [
    '[64:ff9b::7f00:1]',
    '[64:ff9b::a9fe:a9fe]',
    '[2002:7f00:1::]',
    '[2001::1]',
  ],
  unspecified: ['0.0.0.0', '0', '[::]'],
  private: ['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '0xa000001', '012.0.0.1'],
  'link-local (cloud metadata)': ['169.254.169.254', '0xa9fea9fe', '2852039166', '[fe80::1]'],
  'unique-local': ['[fc00::1]', '[fd12:3456::1]'],
  multicast: ['224.0.0.1', '239.255.255.250', '[ff02::1]'],
  'broadcast and reserved': [
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '[2001:db8::1]',
  ],
  'carrier-grade NAT and benchmarking': [
    '100.64.0.1',
    '100.127.255.255',
    '198.18.0.1',
    '198.19.255.255',
  ],
};
const PUBLIC = ['8.8.8.8', '1.1.1.1', '[2606:4700:4700::1111]'];

/** A TCP listener that counts the connections it receives (and drops them). */
async function listener(
  host = '127.0.0.1',
): Promise<{ port: number; connections: () => number; close: () => void }> {
  let n = 0;
  const server: NetServer = createNetServer((socket) => {
    n++;
    socket.destroy();
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    close: () => server.close(),
  };
}

describe('the outbound-fetch guard (ARCHITECTURE.md §8)', () => {
  const guard = createOutboundGuard();
  afterAll(() => guard.close());

  describe.each(Object.entries(FORBIDDEN))('refuses %s addresses', (_kind, hosts) => {
    it.each(hosts)('in the spelling %s', async (host) => {
      const url = new URL(`https://${host}/client.json`);
      expect(isForbiddenAddress(url.hostname)).toBe(true);
      expect(await guard.permits(url.href)).toBe(false);
    });
  });

  it('admits public unicast addresses (checked without connecting)', async () => {
    for (const host of PUBLIC)
      expect(await guard.permits(`https://${host}/client.json`), host).toBe(true);
  });

  it('refuses a DNS name that resolves to loopback, and schemes other than http(s)', async () => {
    for (const url of [
      'https://localhost/c.json',
      'https://LOCALHOST./c.json',
      'https://a.b.localhost/c.json',
      'file:///etc/passwd',
      'ftp://8.8.8.8/x',
      'not a url',
    ]) {
      expect(await guard.permits(url), url).toBe(false);
    }
  });

  it('a fetch to a listening loopback server, in any spelling, never reaches it', async () => {
    const target = await listener();
    try {
      const spellings = [
        '127.0.0.1',
        '127.1',
        '0x7f000001',
        '2130706433',
        '0177.0.0.1',
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        'localhost',
        'LocalHost.',
      ];
      for (const host of spellings) {
        for (const scheme of ['http', 'https']) {
          const error = await guard.fetch(`${scheme}://${host}:${target.port}/c.json`).then(
            () => undefined,
            (err: Error) => err,
          );
          expect(error, `${scheme}://${host}`).toBeInstanceOf(Error);
          expect((error!.cause as { code?: string }).code, `${scheme}://${host}`).toBe(
            'ERR_OUTBOUND_REFUSED',
          );
        }
      }
      expect(target.connections()).toBe(0);
    } finally {
      target.close();
    }
  });

  describe('through the allow-list', () => {
    let big: HttpServer;
    let silent: NetServer;
    let sent = 0;
    const allowed = createOutboundGuard({
      allow: parseOutboundAllow('127.0.0.0/8, localhost'),
      timeoutMs: 1_000,
      maxBytes: 64 * 1024,
    });
    beforeAll(async () => {
      // 10 MB in 64 KiB chunks, as fast as the client takes them.
      big = createHttpServer((_req, res) => {
        const chunk = Buffer.alloc(64 * 1024, 'x');
        res.writeHead(200, { 'content-type': 'application/json' });
        const write = () => {
          while (sent < 10 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', write);
          }
          res.end();
        };
        write();
      });
      big.listen(0, '127.0.0.1');
      silent = createNetServer(() => {}); // accepts and never answers
      silent.listen(0, '127.0.0.1');
      await Promise.all([once(big, 'listening'), once(silent, 'listening')]);
    });
    afterAll(async () => {
      big.closeAllConnections();
      big.close();
      silent.close();
      await allowed.close();
    });

    it('admits an allow-listed loopback host and range', async () => {
      const target = createHttpServer((_req, res) => res.end('{"ok":true}'));
      target.listen(0, '127.0.0.1');
      await once(target, 'listening');
      const { port } = target.address() as { port: number };
      try {
        expect(await (await allowed.fetch(`http://127.0.0.1:${port}/c.json`)).json()).toEqual({
          ok: true,
        });
        expect(await (await allowed.fetch(`http://localhost:${port}/c.json`)).json()).toEqual({
          ok: true,
        });
        expect(await allowed.permits(`https://127.0.0.1:${port}/c.json`)).toBe(true);
      } finally {
        target.close();
      }
    });

    it('stops reading a response larger than the size limit', async () => {
      const { port } = big.address() as { port: number };
      const read = allowed.fetch(`http://127.0.0.1:${port}/big.json`).then((r) => r.arrayBuffer());
      await expect(read).rejects.toThrow();
      expect(sent).toBeLessThan(10 * 1024 * 1024);
    });

    it('gives up on a server that never answers after the time limit', async () => {
      const { port } = silent.address() as { port: number };
      await expect(allowed.fetch(`http://127.0.0.1:${port}/slow.json`)).rejects.toThrow();
    });

    it('never follows a redirect, not even to an allowed host', async () => {
      let followed = 0;
      const target = createHttpServer((req, res) => {
        if (req.url === '/next') followed++;
        res.writeHead(302, { location: '/next' }).end();
      });
      target.listen(0, '127.0.0.1');
      await once(target, 'listening');
      const { port } = target.address() as { port: number };
      try {
        expect((await allowed.fetch(`http://127.0.0.1:${port}/c.json`)).status).toBe(302);
        expect(followed).toBe(0);
      } finally {
        target.close();
      }
    });
  });

  it('OUTBOUND_ALLOW is validated at start, naming the variable', () => {
    expect(
      loadConfig({ OUTBOUND_ALLOW: 'cimd.internal, 10.0.0.0/8, fd00::7' }).outboundAllow.hosts,
    ).toEqual(new Set(['cimd.internal']));
    for (const bad of ['10.0.0.0/33', 'exa mple.com', 'http://x', '-bad-.com']) {
      expect(() => loadConfig({ OUTBOUND_ALLOW: bad }), bad).toThrow(/^OUTBOUND_ALLOW: /);
    }
  });
});
