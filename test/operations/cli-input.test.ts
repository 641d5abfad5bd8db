import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

/**
 * The command line takes users and clients through the admin API's input rules: whatever the
 * API refuses, the CLI refuses too, with one line naming the flag and exit code 2, before it
 * opens any database.
 */
describe('CLI input follows the admin API rules', () => {
  const refused: Array<[string, string[], RegExp]> = [
    [
      'an email that is not one',
      ['users', 'add', '--email', 'not-an-email', '--password', 'long enough password'],
      /^mcp-elevate: --email: /,
    ],
    [
      'a short password',
      ['users', 'add', '--email', 'a@example.com', '--password', 'short'],
      /^mcp-elevate: --password: must be at least 8 characters$/,
    ],
    [
      'a malformed role name',
      [
        'users',
        'add',
        '--email',
        'a@example.com',
        '--password',
        'long enough password',
        '--role',
        'no spaces allowed',
      ],
      /^mcp-elevate: --role: /,
    ],
    [
      'a client id with a space',
      ['clients', 'add', '--id', 'bad id'],
      /^mcp-elevate: --id: must be 1-128 characters/,
    ],
    [
      'a redirect URI that is not a URL',
      ['clients', 'add', '--id', 'app', '--redirect-uri', 'not a url'],
      /^mcp-elevate: --redirect-uri: /,
    ],
    [
      'an unsupported grant type',
      ['clients', 'add', '--id', 'app', '--grant-type', 'implicit'],
      /^mcp-elevate: --grant-type: /,
    ],
  ];
  it.each(refused)(
    'refuses %s with one line and exit 2',
    { timeout: 60_000 },
    async (_, args, message) => {
      // DATA_DIR names nothing that exists: the refusal comes before any database is opened.
      const res = await runCli(args, { DATA_DIR: '/nonexistent/mcp-elevate-cli-input' });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr.trim()).toMatch(message);
    },
  );
});
