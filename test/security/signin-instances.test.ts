import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { approvalsForm, hostileSpellings, oauthForm, publicClient } from './signin-helpers.ts';

const PASSWORD = 'shared password';

/** ARCHITECTURE.md §8: the sign-in throttle is shared by every instance on one PostgreSQL database. */
describe.skipIf(!process.env.TEST_DATABASE_URL)('sign-in throttle across two instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const port = await freePort();
    const env = { ISSUER: `http://127.0.0.1:${port}` };
    const dir = () => mkdtemp(join(tmpdir(), 'mcpe-signin-'));
    a = await startTestServer('postgres', env, { db, dataDir: await dir(), port });
    b = await startTestServer('postgres', env, {
      db,
      dataDir: await dir(),
      port: await freePort(),
    });
    await a.server.users.create({ email: 'shared@example.com', password: PASSWORD });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    await Promise.all(
      [a, b].filter(Boolean).map((t) => rm(t.dataDir, { recursive: true, force: true })),
    );
  });

  it('failures on two instances draw on one budget, and the account is then locked on both', async () => {
    const spellings = Object.values(hostileSpellings('shared@example.com'));
    const posts = [oauthForm(a, await publicClient(a)), approvalsForm(b)];
    for (let i = 0; i < 5; i++)
      expect(await posts[i % 2]!(spellings[i]!, 'wrong password')).toBe(401);
    for (const post of [...posts, approvalsForm(a), oauthForm(b, await publicClient(a))]) {
      expect(await post('shared@example.com', PASSWORD)).toBe(429);
    }
  });
});
