import { createHash, randomBytes } from 'node:crypto';
import {
  AGENT_ID,
  AGENT_REDIRECT,
  CIBA_GRANT,
  DEMO_USERS,
  EXAMPLE_CLIENT_ID,
  type DemoCredentials,
} from './seed.ts';

/** What the walkthrough needs to know about the running demo. */
export interface WalkthroughInput {
  issuer: string;
  /** The example MCP server's resource URL (= its MCP endpoint). */
  resource: string;
  /** Where mail goes: a folder of .eml files, or the SMTP server. */
  mail: { dir: string } | { smtp: true };
  credentials: DemoCredentials;
  pollInterval: number;
}

/** Title line of the walkthrough; printed once both servers answer. */
export const READY = '=== mcp-elevate demo is running ===';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The agent's browser sign-in for a user: an authorization request with PKCE (S256). */
function signIn(input: WalkthroughInput): { url: string; verifier: string } {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${input.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: AGENT_ID,
    response_type: 'code',
    redirect_uri: AGENT_REDIRECT,
    scope: 'openid mcp:tools:read',
    resource: input.resource,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    prompt: 'login',
  }).toString();
  return { url: url.href, verifier };
}

/** The text a newcomer follows: who is who, which URLs to open, and the agent's requests as curl commands. */
export function walkthrough(input: WalkthroughInput): string {
  const { issuer, resource, credentials } = input;
  const prm = `${new URL(resource).origin}/.well-known/oauth-protected-resource${new URL(resource).pathname}`;
  const mail =
    'dir' in input.mail
      ? `${input.mail.dir}/*.eml (one file per message; the links are logged too)`
      : 'sent to SMTP_URL';
  const width = Math.max(...DEMO_USERS.map((u) => u.email.length));
  const users = DEMO_USERS.map(
    (u) =>
      `  ${u.email.padEnd(width)}  ${credentials.passwords[u.email]!.padEnd(14)}${[...u.roles, ...u.groups.map((g) => `group ${g}`)].join(', ').padEnd(32)}${u.part}`,
  );
  const { url, verifier } = signIn(input);
  const ciba = (scope: string, why: string) =>
    `  REQ=$(curl -s -u "$AGENT" --data-urlencode "login_hint_token=$USER_TOKEN" -d 'scope=openid ${scope}' -d resource=$MCP --data-urlencode ${q(`binding_message=${why}`)} $AS/backchannel | jq -r '.auth_req_id // .')`;
  const poll = `  curl -s -u "$AGENT" -d grant_type=${CIBA_GRANT} -d auth_req_id=$REQ -d resource=$MCP $AS/token | jq`;
  const mcp = (token: string, call: string) => [
    `  H=(-H "Authorization: Bearer $${token}" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')`,
    `  SESSION=$(curl -si "\${H[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' $MCP | sed -n 's/^mcp-session-id: *//Ip' | tr -d '\\r')`,
    `  curl -s "\${H[@]}" -H "Mcp-Session-Id: $SESSION" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":${call}}' $MCP`,
  ];
  const deploy = (environment: string) =>
    `{"name":"deploy_service","arguments":{"service":"checkout","environment":"${environment}","version":"2.4.1"}}`;
  return [
    '',
    READY,
    `Authorization server   ${issuer}`,
    `  discovery            ${issuer}/.well-known/oauth-authorization-server`,
    `  approvals            ${issuer}/approvals`,
    `Example MCP server     ${resource}`,
    `  resource metadata    ${prm}`,
    `Mail                   ${mail}`,
    '',
    'Demo users (email, password, roles and approver groups):',
    ...users,
    '',
    `Demo agent: client_id ${AGENT_ID}, secret ${credentials.agentSecret}`,
    '  (authorization_code, client_credentials and CIBA; no roles of its own)',
    `The example MCP server sends its audit events as client ${EXAMPLE_CLIENT_ID} (scope audit:write).`,
    '',
    'Walkthrough (bash, curl and jq). First paste:',
    `  AS=${issuer} MCP=${resource} AGENT=${q(`${AGENT_ID}:${credentials.agentSecret}`)}`,
    '',
    '1. The agent gets a token of its own (client_credentials): base scopes only, and no role to elevate with.',
    "   It elevates only on behalf of a user, with that user's roles:",
    `  curl -s -u "$AGENT" -d grant_type=client_credentials -d resource=$MCP $AS/token | jq`,
    '',
    '2. A user signs in for the agent. Open this URL in a browser, sign in as developer@example.com, allow:',
    `  ${url}`,
    `   The browser then fails to load ${AGENT_REDIRECT}?code=...: copy the code from the address bar.`,
    `  CODE=paste-the-code-here`,
    `  USER_TOKEN=$(curl -s -u "$AGENT" -d grant_type=authorization_code -d code=$CODE -d redirect_uri=${AGENT_REDIRECT} -d code_verifier=${verifier} -d resource=$MCP $AS/token | jq -r .access_token)`,
    '   (a code is good for 60 s; for another one, open the URL again)',
    '',
    "3. The agent asks for staging deploys on the developer's behalf (CIBA, login_hint_token = the user's token):",
    ciba('mcp:deploy:staging', 'Deploy the checkout fix to staging'),
    poll,
    '   -> no approval needed: the first poll returns a 1-hour token with mcp:deploy:staging.',
    '   The same request for mcp:deploy:production is refused: the developer is not a senior_developer.',
    '',
    `4. Production needs a tech lead's or the on-call SRE's approval. Redo step 2 as senior@example.com, then:`,
    ciba('mcp:deploy:production', 'Hotfix INC-42: checkout 2.4.1 to production'),
    poll,
    `   -> authorization_pending (poll at most every ${input.pollInterval} s, or you get slow_down).`,
    `   lead@example.com and sre@example.com now have mail (${'dir' in input.mail ? input.mail.dir : 'SMTP'}). Open ${issuer}/approvals`,
    '   in a private window, sign in as lead@example.com, open the request and approve it. Then poll again:',
    `  TOKEN=$(curl -s -u "$AGENT" -d grant_type=${CIBA_GRANT} -d auth_req_id=$REQ -d resource=$MCP $AS/token | jq -r .access_token)`,
    '   -> a 30-minute token with mcp:deploy:production; senior@example.com is mailed the outcome.',
    '',
    '5. Call the MCP server with it (Streamable HTTP: initialize, then tools/call):',
    ...mcp('TOKEN', deploy('production')),
    '   With $USER_TOKEN instead, the call is answered 403 with WWW-Authenticate: Bearer error="insufficient_scope"',
    '   naming the scope to ask for: the challenge on which MCP clients step up.',
    '',
    'Stop with Ctrl-C. Everything is kept for the next run; delete the data folder to start over.',
    '',
  ].join('\n');
}
