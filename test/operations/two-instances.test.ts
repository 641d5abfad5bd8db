import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { outboxDepth } from '../../src/mail/outbox.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { HttpBrowser, hiddenField } from '../helpers/browser.ts';
import {
  PASSWORD,
  PRODUCTION,
  approver,
  elevationCount,
  postDecision,
  ticketPage,
  ticketStatus,
} from '../approvals/fixture.ts';

/**
 * ARCHITECTURE.md §6 and §8 with two server instances behind one issuer, as behind a load balancer: one
 * PostgreSQL database, one SMTP server, both instances running their outbox and expiry workers.
 * Instance A's URL is the issuer of both; each is reached on its own port.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)(
  'two server instances on one PostgreSQL database',
  () => {
    let db: TestDatabase;
    let smtp: TestSmtpServer;
    let a: TestServer;
    let b: TestServer;
    let issuer: string;
    const ids = { senior: '', lead: '', sre: '' };
    /** Every ticket the tests opened: each must have brought exactly one mail to each approver. */
    const tickets: string[] = [];

    beforeAll(async () => {
      smtp = await startSmtpServer();
      db = await createTestDatabase('postgres');
      const portA = await freePort();
      issuer = `http://127.0.0.1:${portA}`;
      const env = {
        ISSUER: issuer,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        CIBA_POLL_INTERVAL: '1',
      };
      // One after the other: the first migrates and creates the keys, the second finds them.
      a = await startTestServer('postgres', env, {
        db,
        dataDir: await mkdtemp(join(tmpdir(), 'mcpe-a-')),
        port: portA,
      });
      b = await startTestServer('postgres', env, {
        db,
        dataDir: await mkdtemp(join(tmpdir(), 'mcpe-b-')),
        port: await freePort(),
      });
      const create = async (email: string, roles: string[], groups: string[] = []) =>
        (await a.server.users.create({ email, password: PASSWORD, roles, groups })).id;
      ids.senior = await create('senior@example.com', ['senior_developer']);
      ids.lead = await create('lead@example.com', ['developer'], ['tech-lead']);
      ids.sre = await create('sre@example.com', ['viewer'], ['sre-oncall']);
    });
    afterAll(async () => {
      // Both instances share the database: stop both before dropping it.
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
      await smtp?.close();
      await Promise.all(
        [a, b].filter(Boolean).map((t) => rm(t.dataDir, { recursive: true, force: true })),
      );
    });

    /** Opens a production ticket through an instance's elevation service, as its CIBA endpoint does. */
    async function openTicket(t: TestServer): Promise<string> {
      const outcome = await t.server.elevation.request({
        principal: { kind: 'user', id: ids.senior, roles: ['senior_developer'] },
        clientId: 'agent',
        scopes: [PRODUCTION],
        resource: RESOURCE,
        justification: 'race test',
        channel: 'ciba',
        ref: randomUUID(),
      });
      if (outcome.status !== 'pending') throw new Error('expected a pending ticket');
      tickets.push(outcome.ticket.id);
      return outcome.ticket.id;
    }

    it('both instances publish the same issuer and signing keys', async () => {
      const [metaA, metaB] = await Promise.all(
        [a, b].map(
          async (t) =>
            (await fetch(`${t.url}/.well-known/oauth-authorization-server`)).json() as Promise<{
              issuer: string;
            }>,
        ),
      );
      expect(metaA.issuer).toBe(issuer);
      expect(metaB.issuer).toBe(issuer);
      const [jwksA, jwksB] = await Promise.all(
        [a, b].map(async (t) => (await fetch(`${t.url}/jwks`)).json()),
      );
      expect(jwksB).toEqual(jwksA);
    });

    it(
      "a CIBA request made on A is approved on B's approval pages, and the agent's next poll on A returns the elevated token",
      { timeout: 60_000 },
      async () => {
        const agent = await registerAgent(a);
        const user = await userToken(agent, 'senior@example.com', PASSWORD);
        const started = await requestElevation(
          agent,
          user.access_token,
          PRODUCTION,
          'Hotfix INC-7 across instances',
        );
        const ticket = (await a.server.elevation.ticketByRef(started.auth_req_id))!;
        tickets.push(ticket.id);
        expect(ticket.status).toBe('pending');

        // The approver follows the link from the mail; the load balancer happens to send them to B.
        await expect
          .poll(
            () =>
              smtp.received.find(
                (m) => m.rcptTo.includes('lead@example.com') && m.text?.includes(ticket.id),
              ),
            { timeout: 20_000 },
          )
          .toBeTruthy();
        const mail = smtp.received.find(
          (m) => m.rcptTo.includes('lead@example.com') && m.text?.includes(ticket.id),
        )!;
        expect(mail.text).toContain(`${issuer}/approvals/${ticket.id}`);
        const lead = await approver(b, 'lead@example.com');
        expect(
          (await postDecision(lead, b, ticket.id, 'approve', { comment: 'approved on B' })).status,
        ).toBe(303);

        const tokens = await client.pollBackchannelAuthenticationGrant(agent, started, {
          resource: RESOURCE,
        });
        // B publishes A's keys: a verifier may fetch the JWKS from either instance.
        const { payload } = await jwtVerify(
          tokens.access_token,
          createRemoteJWKSet(new URL(`${b.url}/jwks`)),
          { issuer, audience: RESOURCE, typ: 'at+jwt' },
        );
        expect(String(payload.scope).split(' ')).toContain(PRODUCTION);
        expect(payload.exp! - payload.iat!).toBe(1800);
        expect(payload.elevation).toBe((await a.server.elevation.ticket(ticket.id))!.elevation_id);
      },
    );

    it(
      "approvals posted on A's and on B's pages at the same moment grant exactly one elevation",
      { timeout: 60_000 },
      async () => {
        const [leadOnA, sreOnB] = await Promise.all([
          approver(a, 'lead@example.com'),
          approver(b, 'sre@example.com'),
        ]);
        for (let i = 0; i < 5; i++) {
          const id = await openTicket(a);
          // Each session fetches its CSRF token first, so that the two posts leave together.
          const csrfOf = async (browser: HttpBrowser, t: TestServer) =>
            hiddenField((await ticketPage(browser, t, id)).html, 'csrf');
          const [csrfA, csrfB] = await Promise.all([csrfOf(leadOnA, a), csrfOf(sreOnB, b)]);
          const answers = await Promise.all([
            postDecision(leadOnA, a, id, 'approve', { csrf: csrfA }),
            postDecision(sreOnB, b, id, 'approve', { csrf: csrfB }),
          ]);
          // The loser changed nothing: its page says the ticket was closed by someone else.
          expect(answers.map((r) => r.status)).toEqual([303, 303]);
          expect(answers.map((r) => r.headers.get('location')!.split('?done=')[1]).sort()).toEqual([
            'approve',
            'closed',
          ]);
          expect(await ticketStatus(a, id)).toBe('approved');
          expect(await elevationCount(a, id)).toBe(1);
        }
      },
    );

    it('ten tickets opened at once through A and B, decided by racing approvers on both: one decision wins each, and an elevation exists exactly for approved tickets', async () => {
      // All at once, so that the two instances also append to the audit chain at the same moments.
      const opened = await Promise.all(
        Array.from({ length: 10 }, (_, i) => openTicket(i % 2 === 0 ? a : b)),
      );
      await Promise.all(
        opened.map(async (id, i) => {
          const second = i % 4 < 2 ? 'approve' : 'deny';
          const results = await Promise.allSettled([
            a.server.elevation.decide(id, ids.lead, 'approve'),
            b.server.elevation.decide(id, ids.sre, second),
          ]);
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r) => r.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost.map((r) => (r.reason as { code?: string }).code)).toEqual([
            'ERR_TICKET_CLOSED',
          ]);
          const status = (won[0] as PromiseFulfilledResult<{ status: string }>).value.status;
          expect(await ticketStatus(a, id)).toBe(status);
          expect(await elevationCount(a, id)).toBe(status === 'approved' ? 1 : 0);
          // Exactly one decision was recorded: the loser's transaction changed nothing.
          const decisions = await a.server.db.db
            .selectFrom('ticket_decision')
            .select('approver_id')
            .where('ticket_id', '=', id)
            .execute();
          expect(decisions).toHaveLength(1);
        }),
      );
    });

    it(
      'each approver received exactly one request mail per ticket, and the requester one outcome mail, though both instances send',
      { timeout: 60_000 },
      async () => {
        await expect.poll(() => outboxDepth(a.server.db.db), { timeout: 40_000 }).toBe(0);
        // A duplicate would come from the other worker's next round: give both time to run again.
        await new Promise((r) => setTimeout(r, 2_000));
        const count = (to: string, subject: string, id: string) =>
          smtp.received.filter(
            (m) =>
              m.rcptTo.includes(to) && m.subject.startsWith(subject) && (m.text ?? '').includes(id),
          ).length;
        for (const id of tickets) {
          expect(count('lead@example.com', 'Approval needed', id), `lead, ticket ${id}`).toBe(1);
          expect(count('sre@example.com', 'Approval needed', id), `sre, ticket ${id}`).toBe(1);
        }
        const outcomes = smtp.received.filter((m) => m.rcptTo.includes('senior@example.com'));
        expect(outcomes).toHaveLength(tickets.length);
        expect(new Set(outcomes.map((m) => m.headers.get('message-id'))).size).toBe(tickets.length);
        // Whichever instance sent it, a link names the public issuer.
        const requests = smtp.received.filter((m) => m.subject.startsWith('Approval needed'));
        expect(requests).toHaveLength(tickets.length * 2);
        for (const m of requests) expect(m.text).toContain(`${issuer}/approvals/`);
      },
    );

    it('the audit chain that both instances appended to verifies, from either instance', async () => {
      const [fromA, fromB] = await Promise.all([a.server.audit.verify(), b.server.audit.verify()]);
      expect(fromA).toMatchObject({ ok: true });
      expect(fromB).toEqual(fromA);
      // Opened, decided and closed for every ticket, plus the users and logins: a real chain.
      expect(fromA.count).toBeGreaterThan(tickets.length * 3);
    });
  },
);
