/**
 * The command line's help texts: `main` for `mcp-elevate --help`, and one per command (`users add`,
 * `gateway`, …) for `<command> --help`. A command without an entry here is unknown.
 * @module
 */

export const HELP: Record<string, string> = {
  main: `Usage: mcp-elevate <command> [options]

Commands:
  serve                 start the authorization server (default port 3000)
  migrate               bring the database schema up to date
  users add|list|roles  manage local users and the roles they hold
  clients add|list|roles
                        register OAuth clients (agents, MCP servers, apps) and set their roles
  keys rotate           add a new signing key; old keys stay published until their tokens expire
  audit verify          check the audit log's hash chain for tampering
  example-mcp-server    start the example MCP server protected by the verifier (port 4000)
  gateway               protect any MCP server (any language) as a reverse proxy (port 4200)

Configuration comes from environment variables (see README). Use '<command> --help' for details.`,
  serve:
    'Usage: mcp-elevate serve\n\nStarts the server with the configuration from the environment.',
  migrate: 'Usage: mcp-elevate migrate\n\nApplies pending database migrations and exits.',
  'users add': `Usage: mcp-elevate users add --email E --password P [--name N] [--role R]... [--group G]... [--break-glass]
  --break-glass   the account may sign in with its password even when LOCAL_LOGIN=false`,
  'users list':
    'Usage: mcp-elevate users list\n\nPrints one user a line: email, name, roles, groups.',
  'users roles': `Usage: mcp-elevate users roles --email E [--role R]...

Sets the roles the user holds to exactly those given (none without --role), as the admin API's
PUT /admin/v1/users/{id}/roles does; audited as user.roles_set. Tokens issued from then on carry
them; a running server applies the change within 5 s.`,
  'clients add': `Usage: mcp-elevate clients add --id ID [--secret S] [--redirect-uri U]... [--grant-type T]... [--role R]... [--name N]
       [--mcp-resource URL] [--auth-method M] [--jwks-uri URL | --jwks JSON]

Without --redirect-uri the client uses client_credentials; a secret is generated when not given.
--mcp-resource registers the client as the MCP server of that resource: it may post that
resource's audit events (scope audit:write).
--auth-method is how the client authenticates at the token endpoint:
  client_secret_basic  secret in the Authorization header (default for confidential clients)
  client_secret_post   secret in the request body (client_secret)
  private_key_jwt      a signed client_assertion; needs --jwks-uri URL or --jwks '{"keys":[...]}'
  none                 public client (default with --redirect-uri and no --secret); not for client_credentials`,
  'clients list':
    'Usage: mcp-elevate clients list\n\nPrints one client a line: id, name, grant types, roles, MCP resource.',
  'clients roles': `Usage: mcp-elevate clients roles --id ID [--role R]...

Sets the roles a client holds when it acts on its own behalf (client_credentials) to exactly those
given (none without --role), as the admin API's PUT /admin/v1/clients/{id}/roles does; audited as
client.roles_set. Tokens issued from then on carry them; a running server applies the change
within 5 s.`,
  'keys rotate':
    'Usage: mcp-elevate keys rotate [--audit]\n\nAdds a new ES256 signing key; previous keys stay in the JWKS for 24 h.\n--audit rotates the key that signs audit checkpoints instead: the new one signs from the next\ncheckpoint on (no restart); previous ones lose their private half and stay in /audit/v1/jwks.',
  'audit verify': `Usage: mcp-elevate audit verify [--checkpoints <file|dir|url>]... [--jwks <file|url>] [--json]

Walks the audit log's hash chain in order, then checks it against signed checkpoints: by default
the checkpoint folder (AUDIT_CHECKPOINT_DIR, default DATA_DIR/audit-checkpoints) and the
database's own list; with --checkpoints, only the files, folders or URLs given (a URL is
<ISSUER>/audit/v1/checkpoints or a copy of it). Checkpoint signatures are checked with the
database's audit keys, or with --jwks (a copy of <ISSUER>/audit/v1/jwks you keep).

Prints 'ok: N events…' and exits 0, or names the first break and exits 1:
  'tampered: <kind> at seq S (id): reason', kind one of edited, deleted, inserted, reordered,
  truncated (the chain ends before a checkpoint), rewritten (the chain differs from a checkpoint,
  or a checkpoint was refused: another key, a bad signature, an older one replayed).
Exit 2: bad usage or configuration; exit 3: the database or a source could not be read.
--json prints the whole result as one JSON object on stdout (also on exit 1 and 3).
Opens the database the server uses (DATABASE_URL or DATA_DIR).`,
  'example-mcp-server': `Usage: mcp-elevate example-mcp-server [--port 4000]

Serves the example deployment tools at http://localhost:<port>/mcp. Environment: ISSUER (default
http://localhost:3000); EXAMPLE_RESOURCE (default http://localhost:<port>/mcp, must be a resource of
scopes.json); EXAMPLE_CLIENT_ID and EXAMPLE_CLIENT_SECRET (optional: a client_credentials client
whose token sends audit events).`,
  gateway: `Usage: mcp-elevate gateway --upstream URL [--port 4200] [--host H] [--resource URL]
       mcp-elevate gateway --config FILE

Protects an MCP server of any language: serves it at the resource's path (default /mcp) with
this server's tokens, policy, step-up, rate limits, metrics and audit, and never forwards the
caller's token. --config serves several upstreams (see gateway.schema.json). Environment:
ISSUER (default http://localhost:3000); GATEWAY_CLIENT_ID and GATEWAY_CLIENT_SECRET (optional:
a client_credentials client whose token sends audit events); GATEWAY_PRINCIPAL_SECRET (optional,
--upstream only: sign the caller into an Mcp-Elevate-Principal header with this HS256 key).`,
};
