import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { connect, type Db } from '../../src/db/connect.ts';
import { UserRepository } from '../../src/accounts/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { freePort, type TestServer } from '../helpers/server.ts';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.ts';
import { runCli } from '../helpers/cli.ts';
import { AGENT_REDIRECT, CIBA, RESOURCE, userToken } from '../helpers/agents.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { hiddenField, type HttpBrowser } from '../helpers/browser.ts';
import { approvalsForm, hostileSpellings } from '../security/signin-helpers.ts';
import {
  PASSWORD,
  PRODUCTION,
  approver,
  postDecision,
  scopesWithQuorum,
  ticketPage,
} from '../approvals/fixture.ts';

const SECRET = 'agent-secret-value';
const basic = (id: string, secret: string) =>
  'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

/**
 * Two `mcp-elevate serve` processes on one PostgreSQL database behind one issuer, as behind a
 * load balancer, with a real SMTP server: one audit chain with checkpoints signed by both, each
 * mail sent once, quorum exact under racing approvals, CIBA `slow_down` across instances, one
 * sign-in throttle, DPoP replay detection shared, and a SIGTERM in the middle of a burst losing no request and no event.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)(
  'two serve processes on one PostgreSQL database',
  { timeout: 90_000 },
  () => {
    let db: TestDatabase;
    let handle: Db;
    let smtp: TestSmtpServer;
    let scopes: Awaited<ReturnType<typeof scopesWithQuorum>>;
    let a: ServeProcess;
    let b: ServeProcess;
    let env: Record<string, string>;
    const tickets: string[] = [];
    /** The approval helpers only need an instance's URL. */
    const at = (p: ServeProcess) => ({ url: p.url }) as unknown as TestServer;

    beforeAll(async () => {
      [smtp, db, scopes] = await Promise.all([
        startSmtpServer(),
        createTestDatabase('postgres'),
        scopesWithQuorum(2),
      ]);
      const [portA, portB] = [await freePort(), await freePort()];
      env = {
        DATABASE_URL: db.url!,
        ISSUER: `http://localhost:${portA}`,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        SCOPES_FILE: scopes.file,
        CIBA_POLL_INTERVAL: '3',
        AUDIT_CHECKPOINT_EVERY_EVENTS: '5',
        AUDIT_CHECKPOINT_EVERY_SECONDS: '1',
        LOG_LEVEL: 'warn',
      };
      // The first one migrates and creates the keys; the second finds them.
      a = await startServeProcess({ env, port: portA });
      [b, handle] = await Promise.all([
        startServeProcess({ env, port: portB }),
        connect({ databaseUrl: db.url, dataDir: a.dataDir }),
      ]);
      const users = new UserRepository(handle.db);
      await Promise.all([
        users.create({
          email: 'senior@example.com',
          password: PASSWORD,
          roles: ['senior_developer'],
        }),
        users.create({
          email: 'lead@example.com',
          password: PASSWORD,
          roles: ['developer'],
          groups: ['tech-lead'],
        }),
        users.create({
          email: 'lead2@example.com',
          password: PASSWORD,
          roles: ['developer'],
          groups: ['tech-lead'],
        }),
        users.create({
          email: 'sre@example.com',
          password: PASSWORD,
          roles: ['viewer'],
          groups: ['sre-oncall'],
        }),
      ]);
      const added = await runCli(
        [
          'clients',
          'add',
          '--id',
          'agent',
          '--secret',
          SECRET,
          '--redirect-uri',
          AGENT_REDIRECT,
        ].concat(['--grant-type', 'authorization_code', '--grant-type', CIBA]),
        { DATABASE_URL: db.url, DATA_DIR: a.dataDir, SCOPES_FILE: scopes.file },
      );
      expect(added).toMatchObject({ code: 0, stderr: '' });
    }, 240_000);

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await handle?.close();
      await db?.drop();
      await smtp?.close();
      await scopes?.remove();
    });

    const ticketOf = async (authReqId: string) =>
      (
        await handle.db
          .selectFrom('elevation_ticket')
          .select(['id', 'status'])
          .where('ref', '=', authReqId)
          .executeTakeFirstOrThrow()
      ).id;
    const poll = (p: ServeProcess, authReqId: string) =>
      fetch(`${p.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('agent', SECRET),
        },
        body: new URLSearchParams({ grant_type: CIBA, auth_req_id: authReqId, resource: RESOURCE }),
      });

    it('CIBA requests on both, slow_down across instances, and racing approvals reach exactly the quorum', async () => {
      const agent = await client.discovery(
        new URL(a.url),
        'agent',
        undefined,
        client.ClientSecretBasic(SECRET),
        { execute: [client.allowInsecureRequests] },
      );
      const user = await userToken(agent, 'senior@example.com', PASSWORD);
      const started: string[] = [];
      for (const p of [a, b, a, b]) {
        const res = await fetch(`${p.url}/backchannel`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic('agent', SECRET),
          },
          body: new URLSearchParams({
            scope: `openid ${PRODUCTION}`,
            resource: RESOURCE,
            binding_message: 'hotfix across instances',
            login_hint_token: user.access_token,
          }),
        });
        expect(res.status).toBe(200);
        started.push(((await res.json()) as { auth_req_id: string }).auth_req_id);
      }
      // A poll on A, and at once one on B: the interval is shared, B says slow_down.
      const first = await poll(a, started[0]!);
      expect(((await first.json()) as { error: string }).error).toBe('authorization_pending');
      const second = await poll(b, started[0]!);
      expect(((await second.json()) as { error: string }).error).toBe('slow_down');

      const [lead, lead2, sre] = await Promise.all([
        approver(at(a), 'lead@example.com'),
        approver(at(b), 'lead2@example.com'),
        approver(at(b), 'sre@example.com'),
      ]);
      for (const [i, authReqId] of started.entries()) {
        const id = await ticketOf(authReqId);
        tickets.push(id);
        // Three approvers, quorum two, through both instances at the same moment.
        const cast: Array<[HttpBrowser, ServeProcess]> = [
          [lead, a],
          [lead2, b],
          [sre, i % 2 ? a : b],
        ];
        const csrf = await Promise.all(
          cast.map(async ([who, p]) =>
            hiddenField((await ticketPage(who, at(p), id)).html, 'csrf'),
          ),
        );
        const answers = await Promise.all(
          cast.map(([who, p], k) => postDecision(who, at(p), id, 'approve', { csrf: csrf[k]! })),
        );
        expect(answers.map((r) => r.status)).toEqual([303, 303, 303]);
        const ticket = await handle.db
          .selectFrom('elevation_ticket')
          .select('status')
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        expect(ticket.status).toBe('approved');
        const decisions = await handle.db
          .selectFrom('ticket_decision')
          .select('approver_id')
          .where('ticket_id', '=', id)
          .execute();
        expect(decisions).toHaveLength(2);
        const elevations = await handle.db
          .selectFrom('elevation')
          .select('id')
          .where('ticket_id', '=', id)
          .execute();
        expect(elevations).toHaveLength(1);
      }
      // The agent's next poll, after the interval, on the other instance: the elevated token.
      await new Promise((r) => setTimeout(r, 3_100));
      const done = await poll(b, started[0]!);
      expect(done.status).toBe(200);
    });

    it('each mail is sent exactly once though both instances send', async () => {
      await expect
        .poll(
          async () =>
            (
              await handle.db
                .selectFrom('mail_outbox')
                .select('id')
                .where('sent_at', 'is', null)
                .where('failed_at', 'is', null)
                .execute()
            ).length,
          { timeout: 30_000 },
        )
        .toBe(0);
      // A duplicate would come from the other worker's next round: give both time to run again.
      await new Promise((r) => setTimeout(r, 1_500));
      const count = (to: string, subject: string, id: string) =>
        smtp.received.filter(
          (m) =>
            m.rcptTo.includes(to) && m.subject.startsWith(subject) && (m.text ?? '').includes(id),
        ).length;
      expect(tickets).toHaveLength(4);
      for (const id of tickets)
        for (const to of ['lead@example.com', 'lead2@example.com', 'sre@example.com'])
          expect(count(to, 'Approval needed', id), `${to}, ticket ${id}`).toBe(1);
      expect(smtp.received.filter((m) => m.rcptTo.includes('senior@example.com'))).toHaveLength(4);
    });

    it('sign-in failures on both instances draw on one budget; the account is then locked on both', async () => {
      await new UserRepository(handle.db).create({
        email: 'throttled@example.com',
        password: PASSWORD,
        roles: ['viewer'],
      });
      const spellings = Object.values(hostileSpellings('throttled@example.com'));
      const forms = [approvalsForm(at(a)), approvalsForm(at(b))];
      for (let i = 0; i < 5; i++)
        expect(await forms[i % 2]!(spellings[i]!, 'wrong password')).toBe(401);
      for (const form of forms) expect(await form('throttled@example.com', PASSWORD)).toBe(429);
    });

    it('a DPoP proof used at one instance is refused as a replay at the other', async () => {
      const added = await runCli(
        ['clients', 'add', '--id', 'dpop-bot', '--secret', SECRET, '--role', 'developer'],
        { DATABASE_URL: db.url, DATA_DIR: a.dataDir, SCOPES_FILE: scopes.file },
      );
      expect(added).toMatchObject({ code: 0, stderr: '' });
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const jwk = await exportJWK(publicKey);
      const proof = () =>
        new SignJWT({ htm: 'POST', htu: `${env.ISSUER}/token`, jti: randomUUID() })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
          .setIssuedAt()
          .sign(privateKey);
      const token = (p: ServeProcess, dpop: string) =>
        fetch(`${p.url}/token`, {
          method: 'POST',
          headers: {
            authorization: basic('dpop-bot', SECRET),
            'content-type': 'application/x-www-form-urlencoded',
            dpop,
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
        });
      const used = await proof();
      const first = await token(a, used);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ token_type: 'DPoP' });
      // A fresh proof works at the other instance; the used one is a replay there
      // (oidc-provider answers a replay at /token as invalid_grant).
      expect((await token(b, await proof())).status).toBe(200);
      const replayed = await token(b, used);
      expect(replayed.status).toBe(400);
      expect(await replayed.json()).toMatchObject({ error: 'invalid_grant' });
    });

    it('SIGTERM to one instance in the middle of a burst: every request answered, every event chained', async () => {
      const total = 60;
      let answered = 0;
      let retried = 0;
      let stopping: Promise<void> | undefined;
      const attempt = (p: ServeProcess, i: number) =>
        fetch(`${p.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic(`burst-${i}`, 'wrong secret'),
          },
          body: new URLSearchParams({ grant_type: 'client_credentials' }),
        });
      const send = async (i: number): Promise<number> => {
        let res: Response;
        try {
          res = await attempt(b, i);
        } catch {
          // Refused by the instance that is going away: the load balancer sends it to the other.
          retried++;
          res = await attempt(a, i);
        }
        if (++answered === 15) stopping = b.stop();
        return res.status;
      };
      const statuses: number[] = [];
      for (let i = 0; i < total; i += 6)
        statuses.push(...(await Promise.all([0, 1, 2, 3, 4, 5].map((k) => send(i + k)))));
      await stopping;
      expect(statuses).toEqual(Array(total).fill(401));
      expect(retried).toBeGreaterThan(0);
      // Every failure is one event, whichever instance answered it, chained once.
      await expect
        .poll(
          async () =>
            (
              await handle.db
                .selectFrom('audit_event')
                .select('client_id')
                .where('action', '=', 'client.authentication_failed')
                .where('client_id', 'like', 'burst-%')
                .execute()
            ).length,
          { timeout: 10_000 },
        )
        .toBe(total);
      const inbox = await handle.db.selectFrom('audit_inbox').select('id').execute();
      expect(inbox).toHaveLength(0);
      expect(b.output()).not.toMatch(/"level":(50|60)/);
    });

    it('one unbroken chain, with checkpoints signed by both instances', async () => {
      await a.stop();
      const lines = async (p: ServeProcess) => {
        const dir = join(p.dataDir, 'audit-checkpoints');
        const files = (await readdir(dir)).sort();
        const all: string[] = [];
        for (const f of files)
          all.push(...(await readFile(join(dir, f), 'utf8')).trim().split('\n'));
        return all;
      };
      const [fromA, fromB] = [await lines(a), await lines(b)];
      expect(fromA.length).toBeGreaterThan(0);
      expect(fromB.length).toBeGreaterThan(0);
      const stored = await handle.db
        .selectFrom('audit_checkpoint')
        .select(['n', 'jws'])
        .orderBy('n')
        .execute();
      expect(stored.map((c) => Number(c.n))).toEqual(stored.map((_, i) => i + 1));
      expect([...fromA, ...fromB].sort()).toEqual(stored.map((c) => c.jws).sort());
      const res = await runCli(
        [
          'audit',
          'verify',
          '--json',
          '--checkpoints',
          join(a.dataDir, 'audit-checkpoints'),
          '--checkpoints',
          join(b.dataDir, 'audit-checkpoints'),
        ],
        { DATABASE_URL: db.url, DATA_DIR: a.dataDir },
      );
      expect(res.stderr).toBe('');
      const verified = JSON.parse(res.stdout) as {
        ok: boolean;
        head: { seq: string };
        checkpoints: { checked: number; refused: unknown[]; latest: { seq: string } };
      };
      expect(verified).toMatchObject({
        ok: true,
        checkpoints: { checked: stored.length, refused: [] },
      });
      expect(res.code).toBe(0);
      // The instance stopped last signed the head on its way out.
      expect(verified.checkpoints.latest.seq).toBe(verified.head.seq);
    });
  },
);
