import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { HttpBrowser, formAction, hiddenField } from '../helpers/browser.ts';
import {
  AGENT_REDIRECT,
  RESOURCE,
  registerAgent,
  requestElevation,
  userToken,
} from '../helpers/agents.ts';

const EMOJI = '🚀';
/**
 * The class of justifications an approver could not read as written: each kind of invisible
 * format character (Cf), controls (Cc), blank text in every spelling, and one code point too many
 * (emoji: two UTF-16 units each, so a cut in code units would split one).
 */
const REFUSED: Array<[string, string]> = [
  ['a right-to-left override (U+202E)', 'invoice_\u202etxt.exe'],
  ['a zero-width space (U+200B)', 'deploy\u200b now'],
  ['a left-to-right isolate (U+2066)', 'deploy \u2066now\u2069'],
  ['a byte order mark (U+FEFF)', '\ufeffdeploy now'],
  ['a soft hyphen (U+00AD)', 'de\u00adploy now'],
  ['a line break (Cc)', 'deploy\napproved: yes'],
  ['an escape character (Cc)', 'deploy \u001b[31m now'],
  ['a line separator (U+2028)', 'deploy\u2028approved'],
  ['only spaces', '    '],
  ['only no-break spaces', '\u00a0\u00a0\u00a0'],
  ['only an ideographic space and a tab-free mix', '\u3000 \u2003'],
  ['201 code points of emoji', EMOJI.repeat(201)],
];
// Accepted at the limit: 200 code points (400 UTF-16 units).
const AT_LIMIT = EMOJI.repeat(200);

describe.each(databaseKinds())(
  'one justification rule for approvers (%s)',
  { timeout: 120_000 },
  (kind) => {
    let t: TestServer;
    let agent: client.Configuration;
    let dev: string;
    let senior: string;

    beforeAll(async () => {
      t = await startTestServer(kind);
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      await t.server.users.create({
        email: 'senior@example.com',
        password: 'senior password',
        roles: ['senior_developer'],
      });
      await t.server.users.create({
        email: 'lead@example.com',
        password: 'lead password',
        roles: ['developer'],
        groups: ['tech-lead'],
      });
      agent = await registerAgent(t);
      dev = (await userToken(agent, 'dev@example.com', 'dev password')).access_token;
      senior = (await userToken(agent, 'senior@example.com', 'senior password')).access_token;
    }, 600_000);
    afterAll(async () => t?.close());

    const tickets = async () =>
      (await t.server.db.db.selectFrom('elevation_ticket').select('justification').execute()).map(
        (r) => r.justification,
      );

    describe('at CIBA (binding_message)', () => {
      it.each(REFUSED)('refuses %s with invalid_binding_message', async (_what, text) => {
        await expect(
          requestElevation(agent, dev, 'mcp:deploy:staging', text),
        ).rejects.toMatchObject({ error: 'invalid_binding_message' });
      });

      it('refuses a gated scope without binding_message, and without creating a ticket', async () => {
        const before = await tickets();
        const start = client.initiateBackchannelAuthentication(agent, {
          scope: 'openid mcp:deploy:production',
          login_hint_token: senior,
          resource: RESOURCE,
        });
        await expect(start).rejects.toMatchObject({
          error: 'invalid_binding_message',
          error_description: expect.stringContaining('required'),
        });
        expect(await tickets()).toEqual(before);
      });

      it('accepts 200 code points of emoji, stored whole on the ticket and whole in the approver mail', async () => {
        await requestElevation(agent, senior, 'mcp:deploy:production', AT_LIMIT);
        expect(await tickets()).toContain(AT_LIMIT);
        const mail = await t.server.db.db
          .selectFrom('mail_outbox')
          .select(['text_body', 'html_body'])
          .where('to', '=', 'lead@example.com')
          .execute();
        const text = mail.map((m) => m.text_body).find((b) => b.includes(EMOJI));
        expect(text).toContain(`"${AT_LIMIT}"`);
        expect(mail.find((m) => m.text_body === text)?.html_body).toContain(`<q>${AT_LIMIT}</q>`);
      });

      it('accepts a missing binding_message for a scope that needs no approval', async () => {
        const started = await client.initiateBackchannelAuthentication(agent, {
          scope: 'openid mcp:deploy:staging',
          login_hint_token: dev,
          resource: RESOURCE,
        });
        expect(started.auth_req_id).toEqual(expect.any(String));
      });
    });

    describe('on the consent form', () => {
      /** Signs in through the pages and returns the consent form for an elevated scope. */
      async function consentForm(email: string, password: string, scope: string) {
        const browser = new HttpBrowser();
        const url = client.buildAuthorizationUrl(agent, {
          redirect_uri: AGENT_REDIRECT,
          resource: RESOURCE,
          scope,
          prompt: 'consent',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        });
        let step = await browser.follow(url.href, AGENT_REDIRECT);
        let html = await step.res.text();
        step = await browser.submit(
          formAction(html, step.url),
          { csrf: hiddenField(html, 'csrf'), email, password },
          AGENT_REDIRECT,
        );
        html = await step.res.text();
        expect(html).toContain('name="justification"');
        return { browser, html, action: formAction(html, step.url) };
      }

      async function submit(
        form: Awaited<ReturnType<typeof consentForm>>,
        fields: Record<string, string>,
      ) {
        const step = await form.browser.submit(
          form.action,
          { csrf: hiddenField(form.html, 'csrf'), decision: 'allow', ...fields },
          AGENT_REDIRECT,
        );
        return { status: step.res.status, url: step.url, html: await step.res.text() };
      }

      // One consent form, refused once per kind of input and shown again each time, then completed:
      // a refusal grants nothing and keeps the interaction usable.
      let form: Awaited<ReturnType<typeof consentForm>>;
      beforeAll(async () => {
        form = await consentForm('dev@example.com', 'dev password', 'openid mcp:deploy:staging');
      }, 600_000);

      it.each(REFUSED)('shows the form again with the reason for %s', async (_what, text) => {
        const res = await submit(form, { justification: text });
        expect(res.status).toBe(400);
        expect(res.html).toMatch(/role="alert">Please correct the form: the justification/);
        expect(res.html).toContain('name="justification"');
        form = { ...form, html: res.html };
      });

      it('completes the same interaction once the justification is printable', async () => {
        const done = await submit(form, { justification: 'deploying the fix for INC-42' });
        expect(done.url.startsWith(AGENT_REDIRECT)).toBe(true);
        expect(new URL(done.url).searchParams.get('code')).toEqual(expect.any(String));
      });

      it('refuses a missing justification for a gated scope with the form error', async () => {
        const form = await consentForm(
          'senior@example.com',
          'senior password',
          'openid mcp:deploy:production',
        );
        const res = await submit(form, {});
        expect(res.status).toBe(400);
        expect(res.html).toContain('a justification is required for approval-gated scopes');
      });

      it('accepts 200 code points of emoji and puts them whole on the ticket', async () => {
        const form = await consentForm(
          'senior@example.com',
          'senior password',
          'openid mcp:deploy:production',
        );
        const res = await submit(form, { justification: `${AT_LIMIT.slice(0, -2)}🎉` });
        expect(res.url).toMatch(/\/wait$/);
        expect(await tickets()).toContain(`${AT_LIMIT.slice(0, -2)}🎉`);
      });
    });
  },
);
