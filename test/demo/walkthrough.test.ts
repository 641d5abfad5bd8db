import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { simpleParser } from 'mailparser';
import { AGENT_REDIRECT, CIBA_GRANT } from '../../scripts/demo/seed.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { connectWithToken, toolJson } from '../example/stack.ts';
import {
  agentPost,
  readWalkthrough,
  startDemo,
  type DemoProcess,
  type Walkthrough,
} from './helpers.ts';

/** Step 2: the user signs in for the agent in a browser; the code from the address bar is exchanged with the printed verifier. */
async function userToken(w: Walkthrough, email: string): Promise<string> {
  const callback = await completeAuthorization({
    authorizationUrl: w.authorizationUrl,
    redirectUri: AGENT_REDIRECT,
    email,
    password: w.passwords[email]!,
  });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.href}`);
  const res = await agentPost(w, '/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: AGENT_REDIRECT,
    code_verifier: w.codeVerifier,
    resource: w.resource,
  });
  if (res.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

const backchannel = (w: Walkthrough, userToken: string, scope: string, why: string) =>
  agentPost(w, '/backchannel', {
    login_hint_token: userToken,
    scope: `openid ${scope}`,
    resource: w.resource,
    binding_message: why,
  });
const poll = (w: Walkthrough, authReqId: string) =>
  agentPost(w, '/token', { grant_type: CIBA_GRANT, auth_req_id: authReqId, resource: w.resource });

/** The `to` of every message in the demo's mail folder. */
async function mailRecipients(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, 'mail');
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.eml'));
  const mails = await Promise.all(
    files.map(async (f) => simpleParser(await readFile(join(dir, f), 'utf8'))),
  );
  return mails.flatMap((mail) => [mail.to ?? []].flat().map((to) => to.text));
}

/** Step 4: the approver signs in on /approvals, opens the one pending request and approves it. */
async function approveAs(w: Walkthrough, email: string): Promise<void> {
  const browser = new HttpBrowser();
  const form = await (await browser.request(`${w.issuer}/approvals/login?next=/approvals`)).text();
  await browser.request(`${w.issuer}/approvals/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      csrf: hiddenField(form, 'csrf'),
      next: '/approvals',
      email,
      password: w.passwords[email]!,
    }),
  });
  const list = await (await browser.request(`${w.issuer}/approvals`)).text();
  const id = /\/approvals\/([0-9a-f-]{36})/.exec(list)?.[1];
  if (!id) throw new Error(`no pending request listed for ${email}`);
  const page = await (await browser.request(`${w.issuer}/approvals/${id}`)).text();
  const res = await browser.request(`${w.issuer}/approvals/${id}/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      csrf: hiddenField(page, 'csrf'),
      decision: 'approve',
      comment: 'go ahead',
    }),
  });
  if (res.status !== 303) throw new Error(`approval answered ${res.status}`);
}

describe('following the demo walkthrough', () => {
  let dataDir: string;
  let demo: DemoProcess;
  let w: Walkthrough;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcpe-demo-walk-'));
    demo = await startDemo(dataDir, { CIBA_POLL_INTERVAL: '1' });
    w = readWalkthrough(demo.stdout());
  }, 180_000);
  afterAll(async () => {
    expect(await demo?.stop('SIGTERM')).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('step 1: the agent alone gets the base scopes and no roles', async () => {
    const res = await agentPost(w, '/token', {
      grant_type: 'client_credentials',
      resource: w.resource,
    });
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.body.access_token);
    expect(String(claims.scope).split(' ').sort()).toEqual([
      'mcp:resources:read',
      'mcp:tools:read',
    ]);
    expect(claims.roles).toEqual([]);
  });

  it('steps 2-3: for the developer, staging is granted on the first poll and deploys; production is refused naming the role', async () => {
    const dev = await userToken(w, 'developer@example.com');
    const started = await backchannel(
      w,
      dev,
      'mcp:deploy:staging',
      'Deploy the checkout fix to staging',
    );
    expect(started.status).toBe(200);
    const granted = await poll(w, started.body.auth_req_id);
    expect(granted.status).toBe(200);
    expect(granted.body.expires_in).toBe(3600);
    expect(granted.body.scope.split(' ')).toContain('mcp:deploy:staging');

    const mcp = await connectWithToken(w.resource, granted.body.access_token);
    try {
      const result = await mcp.callTool({
        name: 'deploy_service',
        arguments: { service: 'checkout', environment: 'staging', version: '2.4.1' },
      });
      expect(toolJson(result).deployment).toMatchObject({
        service: 'checkout',
        environment: 'staging',
        version: '2.4.1',
      });
    } finally {
      await mcp.close();
    }

    const refused = await backchannel(w, dev, 'mcp:deploy:production', 'Hotfix INC-42');
    expect(refused.body).toMatchObject({
      error: 'access_denied',
      error_description: expect.stringContaining('senior_developer'),
    });
  });

  it('steps 4-5: for the senior developer, production waits, both approvers get mail, the tech lead approves, the token deploys', async () => {
    const senior = await userToken(w, 'senior@example.com');
    // Without the elevation, the MCP server answers the step-up challenge the walkthrough describes.
    const challenge = await fetch(w.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${senior}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'deploy_service',
          arguments: { service: 'checkout', environment: 'production', version: '2.4.1' },
        },
      }),
    });
    expect(challenge.status).toBe(403);
    expect(challenge.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*scope="[^"]*mcp:deploy:production/,
    );

    const started = await backchannel(
      w,
      senior,
      'mcp:deploy:production',
      'Hotfix INC-42: checkout 2.4.1 to production',
    );
    expect(started.status).toBe(200);
    expect((await poll(w, started.body.auth_req_id)).body.error).toBe('authorization_pending');
    await expect
      .poll(() => mailRecipients(dataDir), { timeout: 20_000 })
      .toEqual(expect.arrayContaining(['lead@example.com', 'sre@example.com']));

    await approveAs(w, 'lead@example.com');
    await new Promise((r) => setTimeout(r, 1000)); // the printed interval: 1 s here
    const granted = await poll(w, started.body.auth_req_id);
    expect(granted.status).toBe(200);
    expect(granted.body.expires_in).toBe(1800);

    const mcp = await connectWithToken(w.resource, granted.body.access_token);
    try {
      const result = await mcp.callTool({
        name: 'deploy_service',
        arguments: { service: 'checkout', environment: 'production', version: '2.4.1' },
      });
      expect(result.isError).toBeFalsy();
      expect(toolJson(result).deployment).toMatchObject({
        environment: 'production',
        version: '2.4.1',
      });
    } finally {
      await mcp.close();
    }
    await expect
      .poll(() => mailRecipients(dataDir), { timeout: 20_000 })
      .toContain('senior@example.com');
  });
});
