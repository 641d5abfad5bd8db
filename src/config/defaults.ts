/**
 * Every tunable of the server in one place (the way oidc-provider's `lib/helpers/defaults.js`
 * documents its options): lifetimes, limits, timeouts, cache lifetimes and budgets. Each entry
 * says its unit, its value and why it is that value. The environment schema (`config/env.ts`)
 * takes its defaults from here, and so does every module with a hard-coded limit; the README's
 * configuration table is checked against it by `test/config/defaults.test.ts`.
 *
 * The verifier (`mcp-elevate/verifier`) and the gateway document their own options: they run in
 * other processes and import nothing of the server.
 * @module
 */

const SECOND = 1;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const KiB = 1024;
const MiB = 1024 * KiB;

export const DEFAULTS = Object.freeze({
  // ── Environment (`PORT` … `AUDIT_INGEST_EVENTS_PER_MINUTE`) ──────────────────────────────────
  /** `PORT`: TCP port the server listens on. Default 3000, the Node.js convention. */
  port: 3000,
  /** `DATA_DIR`: folder of the embedded database, generated keys and spooled mail. Default `./data`. */
  dataDir: './data',
  /** `MAIL_FROM`: sender of outgoing mail. Default `mcp-elevate <no-reply@localhost>`: works unset. */
  mailFrom: 'mcp-elevate <no-reply@localhost>',
  /** `SCOPES_FILE`: path of the scope catalogue. Default `./scopes.json`, beside the data folder. */
  scopesFile: './scopes.json',
  /** `LOG_LEVEL`: pino level. Default `info`: one line per notable event, none per request. */
  logLevel: 'info',
  /** `TRUST_PROXY`: read the client address from `X-Forwarded-For`. Default false (safe direct). */
  trustProxy: false,
  /**
   * `ACCESS_TOKEN_TTL`: lifetime of base (non-elevated) access tokens, in seconds. Default 3600
   * (1 hour): base scopes are low-risk, and revocation reaches verifiers within their cache time.
   */
  accessTokenTtlSeconds: 1 * HOUR,
  /**
   * `CIBA_POLL_INTERVAL`: seconds a CIBA client waits between polls; faster polls get
   * `slow_down`. Default 5, CIBA §7.3's suggested interval.
   */
  cibaPollIntervalSeconds: 5 * SECOND,
  /**
   * `AUDIT_INGEST_EVENTS_PER_MINUTE`: audit events one client may post per minute to one
   * instance (429 beyond). Default 60 000: 1 000 tool calls a second, far above an honest MCP
   * server, low enough that one misbehaving client cannot flood the hash chain.
   */
  auditIngestEventsPerMinute: 60_000,
  /**
   * `AUDIT_CHECKPOINT_EVERY_EVENTS`: a signed checkpoint once this many events came after the last
   * one. Default 1 000: a busy server checkpoints often enough that a truncation loses little.
   */
  auditCheckpointEveryEvents: 1000,
  /**
   * `AUDIT_CHECKPOINT_EVERY_SECONDS`: a checkpoint once the last one is this many seconds old and
   * events came after it. Default 60: a quiet server's head is still pinned within a minute.
   */
  auditCheckpointEverySeconds: 60,
  /**
   * `FEDERATION_FILE`: the upstream identity providers of enterprise sign-in. Default
   * `./federation.json`, read only when it exists (set explicitly, it must exist).
   */
  federationFile: './federation.json',
  /**
   * `LOCAL_LOGIN`: email and password sign-in on the sign-in pages. Default true; false leaves
   * enterprise sign-in and break-glass accounts only.
   */
  localLogin: true,
  /**
   * `ADMIN_REQUIRE_PASSKEY`: approvals of `mcp:admin` need a passkey, as if its catalogue entry
   * said `approval.requirePasskey`. Default false: passkeys are opt-in until approvers enrolled.
   */
  adminRequirePasskey: false,

  // ── Token, grant and session lifetimes (oidc-provider `ttl`), in seconds ─────────────────────
  /** Authorization codes: 60 s, well inside RFC 6749 §4.1.2's recommended 10-minute maximum. */
  authorizationCodeTtlSeconds: 60 * SECOND,
  /** An interaction (sign-in and consent pages): 1 hour, long enough to wait for approvers. */
  interactionTtlSeconds: 1 * HOUR,
  /** A browser sign-in session at the server: 14 days, so agents re-authorise without a password. */
  sessionTtlSeconds: 14 * DAY,
  /** A grant (what a user consented to): 14 days, as long as the session it came from. */
  grantTtlSeconds: 14 * DAY,
  /** ID tokens: 1 hour, like base access tokens. */
  idTokenTtlSeconds: 1 * HOUR,
  /** Refresh tokens: 14 days, as long as the grant; elevated scopes never ride on them. */
  refreshTokenTtlSeconds: 14 * DAY,
  /** A CIBA request that needs no approval: 5 minutes (gated ones live as long as their ticket). */
  backchannelRequestTtlSeconds: 5 * MINUTE,
  /**
   * How recent a sign-in must be for approval-gated scopes, in seconds: 300 (5 minutes), so an
   * elevation is requested by the person at the keyboard now, not by a session left open.
   */
  freshLoginSeconds: 5 * MINUTE,

  // ── Elevation (ARCHITECTURE.md §6) ────────────────────────────────────────────────────────────────────
  /** Lifetime of an approval ticket, in seconds: 900 (15 minutes) when no scope sets a shorter one. */
  ticketTtlSeconds: 15 * MINUTE,
  /** How long a granted elevation waits for its first token before it lapses unused: 600 s. */
  elevationClaimWindowSeconds: 10 * MINUTE,
  /** Largest justification (`binding_message`, consent form), in code points: 200, one sentence. */
  justificationMaxCodePoints: 200,
  /** Largest approver comment kept, in code points: 1 000; a longer one is cut, not refused. */
  approvalCommentMaxCodePoints: 1000,

  // ── Passkeys (WebAuthn) of approvers ─────────────────────────────────────────────────────────
  /**
   * Lifetime of a ceremony challenge, in seconds: 120. An approval's assertion is fresh only this
   * long after its challenge was issued (the browser's own ceremony timeout is the same).
   */
  passkeyChallengeTtlSeconds: 2 * MINUTE,
  /** Longest passkey name, in code points: 64; a longer one is cut, not refused. */
  passkeyNameMaxCodePoints: 64,
  /** Passkeys one user may hold: 20, plenty for every device and a spare key. */
  passkeysPerUser: 20,

  // ── Sign-in (shared by the authorization form and the approval pages) ────────────────────────
  /** Throttle window, in seconds: 900 (15 minutes), a common lockout period. */
  signInWindowSeconds: 15 * MINUTE,
  /** Sign-in attempts per account (normalised email) per window: 5, guessing stays hopeless. */
  signInAttemptsPerAccount: 5,
  /** Sign-in attempts per client address per window: 30, room for a shared office address. */
  signInAttemptsPerAddress: 30,
  /** An approver session lasts this long from sign-in, in ms: 8 hours, one working day. */
  approverSessionMaxAgeMs: 8 * HOUR * 1000,
  /** The approver sign-in form's nonce cookie, in ms: 30 minutes to fill in the form. */
  approverLoginFormMaxAgeMs: 30 * MINUTE * 1000,

  // ── Request bodies, in bytes ─────────────────────────────────────────────────────────────────
  /**
   * Largest body any route reads, checked at the input boundary before a route sees it: 4 MiB,
   * the largest route limit (audit ingest batches).
   */
  inputMaxBodyBytes: 4 * MiB,
  /** Largest JSON body of the admin API: 64 KiB, well above any admin object. */
  adminMaxBodyBytes: 64 * KiB,
  /** Largest form body of the sign-in, consent and approval pages: 16 KiB, a few short fields. */
  formMaxBodyBytes: 16 * KiB,

  // ── Audit ingest (`POST /audit/v1/events`) ───────────────────────────────────────────────────
  /** Requests one client may post per minute to one instance: 600, ten a second. */
  auditIngestRequestsPerMinute: 600,
  /** Events in one batch: 1 000, what a verifier's audit client sends at most. */
  auditIngestMaxBatch: 1000,
  /** Largest batch body: 4 MiB, 1 000 events of about 4 KiB each. */
  auditIngestMaxBodyBytes: 4 * MiB,
  /** Oldest event time accepted, in ms: 30 days, how long a verifier may spool through an outage. */
  auditEventMaxAgeMs: 30 * DAY * 1000,
  /** Furthest event time ahead accepted, in ms: 5 minutes of clock skew. */
  auditEventMaxSkewMs: 5 * MINUTE * 1000,

  // ── Mail (outbox worker and SMTP transport), in ms unless said ───────────────────────────────
  /** How often the outbox worker looks for due mail: 500 ms, so approvers hear of a ticket at once. */
  mailPollMs: 500,
  /** Messages claimed per pass: 20. */
  mailBatch: 20,
  /** A claimed message is another instance's to retry after this: 30 s, above the send timeout. */
  mailLeaseMs: 30_000,
  /**
   * Failed attempts after which a message an SMTP server keeps rejecting (5xx) is parked: 12,
   * about 20 minutes with the backoff below. Outages never park a message (ARCHITECTURE.md §6).
   */
  mailMaxAttempts: 12,
  /** Delay before the first retry: 1 s, doubling per failure with ±25 % jitter. */
  mailRetryBaseMs: 1_000,
  /** Longest delay between two attempts: 5 minutes. */
  mailRetryMaxMs: 300_000,
  /** Upper bound of one SMTP delivery, pooled-connection wait included: 20 s, below the lease. */
  mailSendTimeoutMs: 20_000,
  /** SMTP connect timeout: 5 s, so an outage fails fast and the message is retried later. */
  smtpConnectionTimeoutMs: 5_000,
  /** SMTP greeting timeout: 5 s. */
  smtpGreetingTimeoutMs: 5_000,
  /** SMTP socket inactivity timeout: 15 s. */
  smtpSocketTimeoutMs: 15_000,
  /** SMTP DNS lookup timeout: 5 s. */
  smtpDnsTimeoutMs: 5_000,
  /** An idle pooled SMTP connection is closed (QUIT) after 10 s, before the socket timeout. */
  smtpIdleTimeoutMs: 10_000,

  // ── Caches ───────────────────────────────────────────────────────────────────────────────────
  /** A client read by oidc-provider is reused for 30 s (changes by other instances show then). */
  clientCacheTtlMs: 30_000,
  /** Clients cached at most (LRU: the least recently used goes first): 10 000. */
  clientCacheMaxEntries: 10_000,
  /** A role graph is reused for 5 s before the database is asked again (other instances). */
  roleGraphTtlMs: 5_000,
  /** Verified own-token signatures kept (LRU): 10 000, the busy tokens of a large deployment. */
  ownTokenSignatureCacheSize: 10_000,
  /** Signing keys are reloaded for an unknown `kid` at most this often: 30 s (a rotation). */
  ownTokenKeyReloadMs: 30_000,

  // ── Outbound fetches (client metadata documents, `jwks_uri`) ─────────────────────────────────
  /** Whole request, connect to last byte, in ms: 5 s, so a slow host cannot hold a request. */
  outboundTimeoutMs: 5_000,
  /** Largest response body, in bytes: 1 MiB, far above any metadata document or JWKS. */
  outboundMaxResponseBytes: 1 * MiB,

  // ── Enterprise sign-in (ARCHITECTURE.md §12) ─────────────────────────────────────────────────
  /** A sign-in at an upstream must come back within this many ms: 10 minutes, a slow MFA prompt. */
  federationTransactionTtlMs: 10 * MINUTE * 1000,
  /** After a failed discovery, an upstream is answered 503 without retrying for this long: 5 s. */
  federationDiscoveryRetryMs: 5_000,
  /** A federated sign-in's hand-over to the authorization flow is valid this long, in ms: 2 min. */
  federationHandoverTtlMs: 2 * MINUTE * 1000,

  // ── Availability and shutdown ────────────────────────────────────────────────────────────────
  /** `Retry-After` of a 503 while the database is unreachable, in seconds: 5. */
  retryAfterSeconds: 5,
  /** How long accepted connections may take to send their request once shutdown began: 500 ms. */
  shutdownGraceMs: 500,
  /** PostgreSQL connections per instance: 10, node-postgres' default. */
  dbPoolSize: 10,
  /** PostgreSQL connect timeout, in ms: 5 s, so requests fail fast (503) during an outage. */
  dbConnectTimeoutMs: 5_000,
  /** A CLI may hold the embedded database between two messages this long, in ms: 10 s. */
  dbSocketHoldTimeoutMs: 10_000,
  /** A lock takeover marker older than this belongs to a process that died in it, in ms: 10 s. */
  dbLockTakeoverStaleMs: 10_000,
  /** How long a process waits for the embedded database's owner, in ms: 2 minutes (first start). */
  dbOwnerWaitMs: 120_000,

  // ── Keys and admin API ───────────────────────────────────────────────────────────────────────
  /** A rotated-out signing key stays published this long, in seconds: 24 hours, above any token. */
  retiredKeyPublishedSeconds: 24 * HOUR,
  /** Items on one page of an admin listing, when the client asks for no other number: 50. */
  adminPageSize: 50,
  /** Most items a client may ask for on one page: 200. */
  adminPageSizeMax: 200,
  /** Audit events read per query while exporting: 500. */
  auditExportChunk: 500,
});

/** The type of {@link DEFAULTS}. */
export type Defaults = typeof DEFAULTS;
