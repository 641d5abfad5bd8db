import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { startFederated, webSignIn, type FederatedServer } from './fixture.ts';

/** The page is HTML with this status, and carries no stack trace or secret. */
async function expectPage(res: Response, status: number, text: RegExp): Promise<string> {
  const body = await res.text();
  expect(res.status, body.slice(0, 300)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(body).toMatch(text);
  expect(body).not.toMatch(/\bat .+\.[jt]s:\d+|never-sent-secret|upstream-client-secret/);
  return body;
}

describe('enterprise sign-in refuses what is not its own, and explains (pglite)', () => {
  let f: FederatedServer;
  let callbackAt: string;
  beforeAll(async () => {
    f = await startFederated('pglite');
    callbackAt = `${f.t.url}/federation/corp/callback`;
    f.idp.accounts.set('eve-sub', {
      email: 'eve@corp.example',
      email_verified: true,
      name: 'Eve',
      groups: [],
    });
    await f.t.server.users.create({ email: 'carol@example.com', password: 'carol password' });
  }, 180_000);
  afterAll(async () => f?.close());

  /** Runs a sign-in up to the upstream's redirect back, without following it. */
  async function toCallback(): Promise<{ browser: HttpBrowser; callback: URL }> {
    f.idp.signInAs = 'eve-sub';
    const { browser, url } = await webSignIn(f, '/approvals', new HttpBrowser(), {
      stopAt: callbackAt,
    });
    return { browser, callback: new URL(url) };
  }

  it('answers an unknown upstream with 404', async () => {
    await expectPage(
      await fetch(`${f.t.url}/federation/nope/start?next=/approvals`),
      404,
      /no sign-in provider/,
    );
  });

  it('answers 503 when the upstream is down and 502 when it answers garbage, and audits both', async () => {
    await expectPage(
      await fetch(`${f.t.url}/federation/down/start`),
      503,
      /Offline IdP cannot be reached/,
    );
    await expectPage(
      await fetch(`${f.t.url}/federation/junk/start`),
      502,
      /Broken IdP sent an answer/,
    );
    // Retried: still down is still a page, not a stack.
    await expectPage(await fetch(`${f.t.url}/federation/down/start`), 503, /try again/i);
    await f.t.server.audit.flush();
    const failures = await f.t.server.db.db
      .selectFrom('audit_event')
      .select('data')
      .where('action', '=', 'federation.login')
      .where('result', '=', 'failure')
      .execute();
    expect(failures.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ upstream: 'down', reason: 'ERR_UPSTREAM_UNAVAILABLE' }),
        expect.objectContaining({ upstream: 'junk', reason: 'ERR_UPSTREAM_INVALID' }),
      ]),
    );
  });

  it('refuses to start for an authorization flow that does not exist', async () => {
    await expectPage(
      await fetch(`${f.t.url}/federation/corp/start?interaction=no-such-flow`),
      400,
      /expired/,
    );
  });

  it('refuses a callback whose state is not the one this browser started with', async () => {
    const { browser, callback } = await toCallback();
    callback.searchParams.set('state', 'forged-state');
    await expectPage(await browser.request(callback.href), 400, /start again/);
  });

  it('refuses a callback naming another issuer (RFC 9207)', async () => {
    const { browser, callback } = await toCallback();
    expect(callback.searchParams.get('iss')).toBe(f.idp.issuer);
    callback.searchParams.set('iss', 'https://evil.example');
    await expectPage(await browser.request(callback.href), 400, /start again/);
  });

  it('answers a callback once: replayed, or in another browser, it is refused', async () => {
    const { browser, callback } = await toCallback();
    const first = await browser.request(callback.href);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/approvals');
    await expectPage(await browser.request(callback.href), 400, /already used/);
    await expectPage(await new HttpBrowser().request(callback.href), 400, /start again/);
    const failures = await f.t.server.db.db
      .selectFrom('audit_event')
      .selectAll()
      .where('action', '=', 'federation.login')
      .where('result', '=', 'failure')
      .execute();
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.at(-1)!.data).toMatchObject({
      upstream: 'corp',
      reason: 'ERR_FEDERATION_STATE',
    });
  });

  it('links to an existing local account only with a verified email and linking allowed', async () => {
    const carol = (await f.t.server.users.findCredentials('carol@example.com'))!;
    f.idp.accounts.set('carol-sub', {
      email: 'CAROL@example.com',
      email_verified: false,
      name: 'Carol',
      groups: [],
    });
    f.idp.signInAs = 'carol-sub';
    const unverified = await webSignIn(f);
    await expectPage(unverified.res, 409, /does not say this address is verified/);

    f.idp.accounts.get('carol-sub')!.email_verified = true;
    const partner = await webSignIn(f, '/approvals', new HttpBrowser(), {
      upstream: 'Partner SSO',
    });
    await expectPage(partner.res, 409, /Linking accounts from Partner SSO is turned off/);
    expect(
      await f.t.server.db.db
        .selectFrom('federated_identity')
        .selectAll()
        .where('user_id', '=', carol.id)
        .execute(),
    ).toEqual([]);

    const linked = await webSignIn(f);
    expect(linked.url).toBe(`${f.t.url}/approvals`);
    expect(linked.res.status).toBe(200);
    const identity = await f.t.server.db.db
      .selectFrom('federated_identity')
      .selectAll()
      .where('subject', '=', 'carol-sub')
      .executeTakeFirstOrThrow();
    expect(identity.user_id).toBe(carol.id);
  });
});
