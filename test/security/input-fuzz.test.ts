import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Server } from '../../src/main.ts';
import { mountedRouters } from '../../src/app.ts';
import { databaseKinds } from '../helpers/databases.ts';
import { registerAgent, userToken } from '../helpers/agents.ts';
import { startAdminFixture, type AdminFixture } from '../admin/fixture.ts';
import { truncateCodePoints, codePointLength } from '../../src/http/text.ts';

/** Hostile inputs tried per database (`FUZZ_RUNS` overrides). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const PARAM = 'PARAM';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

type Route = { method: string; path: string };

/**
 * Every route the server answers: the tables of the routers the app mounted (so a new route is
 * fuzzed without editing this list) and oidc-provider's named routes resolved by the provider.
 */
function routeTable(server: Server): Route[] {
  const { provider } = server;
  const routers = mountedRouters(provider);
  // A catch-all layer lists every HTTP method; the ones the server implements are enough (an
  // unknown method is answered 501 by design, RFC 9110 §15.6.2).
  const ours = routers.flatMap((r) =>
    r.stack.flatMap((layer) =>
      layer.methods
        .filter((m) => METHODS.includes(m))
        .map((method) => ({
          method,
          path: String(layer.path).replace(/\{\/\*\w+\}|\*\w+|:\w+/g, (m) =>
            m.startsWith('{') ? `/${PARAM}` : PARAM,
          ),
        })),
    ),
  );
  const named = [
    'authorization',
    'resume',
    'userinfo',
    'token',
    'jwks',
    'discovery',
    'registration',
    'client',
    'revocation',
    'introspection',
    'end_session',
    'end_session_confirm',
    'end_session_success',
    'device_authorization',
    'code_verification',
    'device_resume',
    'pushed_authorization_request',
    'backchannel_authentication',
    'challenge',
    'credential',
  ];
  const theirs = named.flatMap((name) => {
    try {
      const path = provider.pathFor(name, { uid: PARAM, clientId: PARAM } as never);
      return ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path }));
    } catch {
      return []; // a feature that is not enabled has no route
    }
  });
  const seen = new Set<string>();
  return [...ours, ...theirs].filter(
    (r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`),
  );
}

// The hostile strings, by kind: each kind must be answered with a 4xx (or accepted) anywhere.
const KINDS = {
  nul: fc
    .constantFrom('\u0000', 'a\u0000b', '%00', 'x%00')
    .chain((t) => fc.string({ maxLength: 8 }).map((p) => p + t)),
  surrogate: fc.constantFrom('\ud800', '\udfff', 'x\ud83d', '\ude80y', '%ED%A0%80', '\\ud800'),
  number: fc.oneof(
    fc.constantFrom(
      '9999999999999999999',
      '-1',
      '1e400',
      'NaN',
      '0x7fffffff',
      '18446744073709551616',
      '-0',
      '1.5',
    ),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  ),
  overlong: fc.integer({ min: 300, max: 12_000 }).map((n) => 'x'.repeat(n)),
  bidi: fc.constantFrom('\u202etxt.exe', '\u2066x\u2069', '\u200b', '\ufeff', '\u00ad', '\u061c'),
  emoji: fc
    .constantFrom('🚀'.repeat(201), '👩‍👩‍👧‍👦', '🇫🇷', '🚀'.repeat(160))
    .chain((e) => fc.string({ unit: 'grapheme', maxLength: 8 }).map((g) => g + e)),
  percent: fc.constantFrom('%', '%zz', '%E0%A4%A', '%u0000', '%%', '%C0%80', '%F4%90%80%80'),
  json: fc.constantFrom(
    '{"a":',
    '[[[[[[[[',
    'null',
    '{"__proto__":{"x":1}}',
    '[{"type":"mcp_tool_call","tool":"t\\u0000"}]',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    '"\\ud800"',
    '{"events":[{"id":"\\u0000"}]}',
  ),
  binary: fc.string({ unit: 'binary', maxLength: 64 }),
};
type Kind = keyof typeof KINDS;
const hostileText = fc.oneof(...Object.values(KINDS));
const NAMES = [
  'client_id',
  'code',
  'refresh_token',
  'auth_req_id',
  'token',
  'scope',
  'resource',
  'grant_type',
  'redirect_uri',
  'binding_message',
  'authorization_details',
  'login_hint_token',
  'cursor',
  'limit',
  'actor',
  'action',
  'since',
  'id',
  'email',
  'password',
  'justification',
  'comment',
  'csrf',
  'decision',
  'events',
  'name',
  'client_name',
  'redirect_uris',
  'members',
  'roles',
  'permissions',
  'order',
  'from',
  'to',
  'subject',
];
const names = fc.constantFrom(...NAMES);
const PLACEMENTS = ['path', 'query', 'form', 'json', 'raw-json'] as const;
type Placement = (typeof PLACEMENTS)[number];
const placement = fc.constantFrom(...PLACEMENTS);

/**
 * Percent-encodes text for a URL or form, except percent-garbage which is sent as written. A lone
 * surrogate goes as the bytes a careless encoder would write for it (generalised UTF-8).
 */
function inUrl(text: string): string {
  if (/^%|%[0-9A-Fa-f]/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    out +=
      ch.length === 1 && c >= 0xd800 && c <= 0xdfff
        ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join('')
        : encodeURIComponent(ch);
  }
  return out;
}

// Named for the count it proves: the number is measured below and printed with the result.
describe.each(databaseKinds())(
  `hostile inputs (a sweep plus ${RUNS} random) over every route never give a 5xx (%s)`,
  { timeout: 600_000 },
  (kind) => {
    let f: AdminFixture;
    let routes: Route[];
    let auth: Record<string, string>;

    beforeAll(async () => {
      f = await startAdminFixture(kind);
      routes = routeTable(f.t.server);
      const agent = await registerAgent(f.t);
      await f.t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      auth = {
        admin: `Bearer ${await f.token()}`,
        user: `Bearer ${(await userToken(agent, 'dev@example.com', 'dev password')).access_token}`,
        agent: `Basic ${Buffer.from('agent:agent-secret-value').toString('base64')}`,
      };
    }, 600_000);
    afterAll(async () => f?.close());

    it('the route table covers our routers and oidc-provider', () => {
      const paths = new Set(routes.map((r) => r.path));
      for (const p of [
        '/token',
        '/auth',
        '/reg',
        '/reg/PARAM',
        '/backchannel',
        '/token/revocation',
        '/interaction/PARAM/confirm',
        '/elevation/v1/elevations/PARAM',
        '/audit/v1/events',
        '/admin/v1/audit',
        '/admin/v1/users/PARAM',
        '/approvals/PARAM',
      ]) {
        expect(paths, p).toContain(p);
      }
    });

    /** The credentials a route expects: the hostile input then reaches past authentication. */
    const credentialsFor = (path: string) =>
      path.startsWith('/admin/')
        ? 'admin'
        : path.startsWith('/elevation/')
          ? 'user'
          : path.startsWith('/approvals') || path.startsWith('/interaction')
            ? 'none'
            : 'agent';

    /** Sends `text` as `names` in one place of `route`; returns the status. */
    async function send(
      route: Route,
      where: Placement,
      fields: string[],
      text: string,
      who: string,
    ): Promise<number> {
      let path = route.path.replaceAll(PARAM, where === 'path' ? inUrl(text) : 'some-id');
      const headers: Record<string, string> = who === 'none' ? {} : { authorization: auth[who]! };
      const pairs = fields.map((n) => `${n}=${inUrl(text)}`).join('&');
      let body: string | undefined;
      if (where === 'query') path += `?${pairs}`;
      if (where === 'form') {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = `${pairs}&grant_type=client_credentials`;
      }
      if (where === 'json') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify({
          ...Object.fromEntries(fields.map((n) => [n, text])),
          events: [{ id: text, tool: text }],
        });
      }
      if (where === 'raw-json') {
        headers['content-type'] = 'application/json';
        body = text;
      }
      const method = body !== undefined && route.method === 'GET' ? 'POST' : route.method;
      const res = await fetch(`${f.t.url}${path}`, { method, headers, body, redirect: 'manual' });
      await res.arrayBuffer();
      expect(
        res.status,
        `${method} ${path.slice(0, 120)} ${where} ${fields.join(',').slice(0, 60)}=${JSON.stringify(text).slice(0, 80)}`,
      ).toBeLessThan(500);
      return res.status;
    }

    const tally = { requests: 0, statuses: new Map<number, number>() };
    const count = (status: number) => {
      tally.requests++;
      tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    };

    it('answers each kind of hostile input in each place of each route with a status below 500', async () => {
      // A sweep: every route × place × kind once, every parameter name at once (with the route's
      // credentials for half the kinds, without for the others), so no combination is left to luck.
      const kinds = Object.keys(KINDS) as Kind[];
      for (const route of routes) {
        for (const where of PLACEMENTS) {
          if (where === 'path' && !route.path.includes(PARAM)) continue;
          for (const [i, kind] of kinds.entries()) {
            const [text] = fc.sample(KINDS[kind], 1);
            count(
              await send(route, where, NAMES, text!, i % 2 ? 'none' : credentialsFor(route.path)),
            );
          }
        }
      }
    });

    it('answers random hostile inputs with a status below 500', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: routes.length - 1 }),
          placement,
          fc.array(names, { minLength: 1, maxLength: 3 }),
          hostileText,
          fc.constantFrom('none', 'admin', 'user', 'agent'),
          async (index, where, fields, text, who) =>
            count(await send(routes[index]!, where, fields, text, who)),
        ),
        { numRuns: RUNS },
      );
    });

    it('answers a body it cannot decode (broken gzip or deflate, unknown encoding) below 500 on every route that reads one', async () => {
      // The class the fuzz above cannot reach: bytes that fail before any field is read.
      const encodings: Array<[string, Buffer]> = [
        ['gzip', Buffer.from('not a gzip stream')],
        ['deflate', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0x00])],
        ['br', Buffer.from('not brotli either')],
        ['x-unknown', Buffer.from('csrf=x')],
      ];
      const types = ['application/x-www-form-urlencoded', 'application/json'];
      for (const route of routes.filter((r) => r.method !== 'GET')) {
        for (const [encoding, body] of encodings) {
          for (const type of types) {
            const res = await fetch(`${f.t.url}${route.path}`, {
              method: route.method,
              headers: { 'content-type': type, 'content-encoding': encoding },
              body,
              redirect: 'manual',
            });
            await res.arrayBuffer();
            expect(res.status, `${route.method} ${route.path} ${type} ${encoding}`).toBeLessThan(
              500,
            );
            count(res.status);
          }
        }
      }
    });

    it('is still healthy afterwards; the count of hostile requests is recorded', async () => {
      expect((await fetch(`${f.t.url}/healthz`)).status).toBe(200);
      console.log(
        `input fuzz (${kind}): ${tally.requests} hostile requests over ${routes.length} routes × ` +
          `${PLACEMENTS.length} places × ${Object.keys(KINDS).length} kinds; statuses`,
        Object.fromEntries(tally.statuses),
      );
      expect(tally.requests).toBeGreaterThan(RUNS + routes.length * 4 * Object.keys(KINDS).length);
    });
  },
);

describe('cutting text by code points', () => {
  it('keeps a prefix of at most n code points that is well-formed whenever the text is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.nat(100), (text, n) => {
        const cut = truncateCodePoints(text, n);
        expect(text.startsWith(cut)).toBe(true);
        expect(codePointLength(cut)).toBe(Math.min(n, codePointLength(text)));
        expect(cut.isWellFormed()).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
