import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  hostileSpellings,
  approvalsForm,
  oauthForm,
  publicClient,
  type SignInForm,
} from './signin-helpers.ts';

const PASSWORD = 'office password';
const spellings = Object.entries(hostileSpellings('office@example.com'));

/** ARCHITECTURE.md §8 "one sign-in service": one email spelling for lookup, throttle, audit and uniqueness. */
describe.each(databaseKinds())('one sign-in service for both forms (%s)', (kind) => {
  let t: TestServer;
  let forms: Array<[string, SignInForm]>;
  let officeId: string;

  beforeAll(async () => {
    t = await startTestServer(kind);
    officeId = (
      await t.server.users.create({
        email: 'office@example.com',
        password: PASSWORD,
        roles: ['developer'],
      })
    ).id;
    await t.server.users.create({
      email: 'locked@example.com',
      password: PASSWORD,
      roles: ['developer'],
    });
    forms = [
      ['authorization form', oauthForm(t, await publicClient(t))],
      ['approvals form', approvalsForm(t)],
    ];
  });
  afterAll(async () => t?.close());

  it('every hostile spelling of an email signs in to that one account on both forms', async () => {
    for (const [name, email] of spellings) {
      for (const [form, post] of forms) {
        expect(await post(email, PASSWORD), `${form}, ${name}`).toBe(303);
      }
    }
    await t.server.audit.flush();
    const events = await t.server.db.db
      .selectFrom('audit_event')
      .select(['action', 'actor'])
      .where('result', '=', 'success')
      .where('action', 'in', ['login', 'approver.login'])
      .execute();
    expect(events).toHaveLength(spellings.length * 2);
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set([officeId]));
  });

  it('failures under any spelling on either form share one budget; once locked, no spelling and not the right password gets in', async () => {
    const locked = Object.values(hostileSpellings('locked@example.com'));
    // Five wrong passwords, each under another spelling, alternating between the forms.
    for (let i = 0; i < 5; i++)
      expect(await forms[i % 2]![1](locked[i]!, 'wrong password')).toBe(401);
    for (const email of [...locked, 'locked@example.com']) {
      for (const [form, post] of forms)
        expect(await post(email, PASSWORD), `${form}, ${JSON.stringify(email)}`).toBe(429);
    }
    await t.server.audit.flush();
    const failures = await t.server.db.db
      .selectFrom('audit_event')
      .select(['data', 'result'])
      .where('action', 'in', ['login', 'approver.login'])
      .where('result', 'in', ['failure', 'denied'])
      .execute();
    // Audit records carry the one spelling, whatever was typed.
    expect(new Set(failures.map((e) => (e.data as { email: string }).email))).toEqual(
      new Set(['locked@example.com']),
    );
    expect(failures.filter((e) => e.result === 'failure')).toHaveLength(5);
  });

  it('a second account cannot be created under another spelling of an existing email', async () => {
    for (const [name, email] of spellings) {
      await expect(
        t.server.users.create({ email, password: PASSWORD }),
        name,
      ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    }
    const created = await t.server.users.create({
      email: ' Ｎｅｗ@Example.com\u00a0',
      password: PASSWORD,
    });
    expect(created.email).toBe('new@example.com');
  });

  it('an address with hidden characters is refused at creation and never matches at sign-in', async () => {
    for (const email of [
      'off\u200bice@example.com',
      'office@example.com\u202e',
      'off\u0000ice@example.com',
    ]) {
      await expect(t.server.users.create({ email, password: PASSWORD })).rejects.toMatchObject({
        code: 'ERR_INVALID',
      });
    }
    for (const [, post] of forms)
      expect(await post('off\u0000ice@example.com', PASSWORD)).toBe(400); // NUL: the input boundary
  });
});
