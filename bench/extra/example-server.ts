/**
 * Benchmark target for bench/soak.ts: the example MCP server (`startExampleMcpServer`) as
 * `mcp-elevate example-mcp-server` runs it — stateful sessions, the verifier's guard and
 * `protectMcpServer` with their defaults, audit events sent to the authorization server with its
 * own client credentials. Environment: BENCH_ISSUER, BENCH_RESOURCE, BENCH_CLIENT_ID,
 * BENCH_CLIENT_SECRET.
 */
import { startExampleMcpServer } from '../../src/example/index.ts';
import { serveChild } from './ipc.ts';

await serveChild(async () => {
  const {
    BENCH_ISSUER: issuer,
    BENCH_RESOURCE: resource,
    BENCH_CLIENT_ID: clientId,
    BENCH_CLIENT_SECRET: clientSecret,
  } = process.env;
  if (!issuer || !resource || !clientId || !clientSecret)
    throw new TypeError(
      'BENCH_ISSUER, BENCH_RESOURCE, BENCH_CLIENT_ID and BENCH_CLIENT_SECRET are required',
    );
  const example = await startExampleMcpServer({
    issuer,
    resource,
    clientId,
    clientSecret,
    port: 0,
    host: '127.0.0.1',
  });
  return {
    info: { url: example.url },
    // Audit delivery: events the server accepted, dropped, refused, still queued.
    extra: () => {
      const { queued, inFlight, spooled, sent, dropped, rejected, failedAttempts } =
        example.protection.audit!.stats();
      return { queued, inFlight, spooled, sent, dropped, rejected, failedAttempts };
    },
    close: () => example.close(),
  };
});
