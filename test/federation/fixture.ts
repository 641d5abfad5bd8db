import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpBrowser } from '../helpers/browser.ts';
import { createTestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.ts';

/**
 * A server with four upstreams: `corp` (a real OpenID Provider, linking allowed), `partner` (the
 * same provider, linking not allowed), `down` (nothing listens), `junk` (answers garbage).
 */
export interface FederatedServer {
  t: TestServer;
  idp: UpstreamIdp;
  close(): Promise<void>;
}

/** The rules of `corp`: its `groups` claim grants roles and approver groups. */
export const CORP_RULES = [
  { claim: 'groups', equals: 'engineering', roles: ['developer'] },
  { claim: 'groups', equals: 'release-managers', roles: ['senior_developer'] },
  { claim: 'groups', equals: 'sre', roles: ['developer'], groups: ['sre-oncall'] },
];

/** Starts the upstream and a server trusting it; `corp` options override the defaults. */
export async function startFederated(
  kind: 'pglite' | 'postgres',
  opts: { env?: Record<string, string>; corp?: Record<string, unknown> } = {},
): Promise<FederatedServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startUpstreamIdp([
    `${url}/federation/corp/callback`,
    `${url}/federation/partner/callback`,
  ]);
  const junk: HttpServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"issuer": 42, "this is": not json');
  });
  junk.listen(0, '127.0.0.1');
  await once(junk, 'listening');
  const dataDir = await mkdtemp(join(tmpdir(), 'mcpe-fed-'));
  const file = join(dataDir, 'federation.json');
  await writeFile(
    file,
    JSON.stringify({
      upstreams: [
        {
          id: 'corp',
          name: 'Corp SSO',
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecretEnv: 'CORP_CLIENT_SECRET',
          scopes: ['openid', 'email', 'profile', 'groups'],
          rules: CORP_RULES,
          allowLinking: true,
          ...opts.corp,
        },
        {
          id: 'partner',
          name: 'Partner SSO',
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecretEnv: 'CORP_CLIENT_SECRET',
        },
        {
          id: 'down',
          name: 'Offline IdP',
          issuer: `http://127.0.0.1:${await freePort()}`,
          clientId: 'x',
          clientSecret: 'never-sent-secret',
        },
        {
          id: 'junk',
          name: 'Broken IdP',
          issuer: `http://127.0.0.1:${(junk.address() as AddressInfo).port}`,
          clientId: 'x',
          clientSecret: 'never-sent-secret',
        },
      ],
    }),
  );
  process.env.CORP_CLIENT_SECRET = idp.clientSecret;
  const t = await startTestServer(
    kind,
    { FEDERATION_FILE: file, OUTBOUND_ALLOW: '127.0.0.1', ...opts.env },
    { db: await createTestDatabase(kind), dataDir, port },
  );
  return {
    t,
    idp,
    async close() {
      await t.close();
      await idp.close();
      junk.closeAllConnections();
      junk.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The href of the button labelled `Sign in with <name>` on a sign-in page. */
export function upstreamLink(html: string, name: string): string {
  const m = new RegExp(`<a href="([^"]+)">Sign in with ${name}</a>`).exec(html);
  if (!m) throw new Error(`no button for ${name}`);
  return m[1]!.replace(/&amp;/g, '&');
}

/**
 * Signs in at `/login` through `corp` as the upstream's `signInAs`, coming back to `next`.
 * Returns the browser (with its web session) and the final response.
 */
export async function webSignIn(
  f: FederatedServer,
  next = '/approvals',
  browser = new HttpBrowser(),
  opts: { upstream?: string; stopAt?: string } = {},
): Promise<{ browser: HttpBrowser; url: string; res: Response }> {
  const page = await browser.request(`${f.t.url}/login?next=${encodeURIComponent(next)}`);
  const href = upstreamLink(await page.text(), opts.upstream ?? 'Corp SSO');
  const step = await browser.follow(new URL(href, f.t.url).href, opts.stopAt);
  return { browser, ...step };
}
