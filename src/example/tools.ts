import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { principalOf, type ProtectedMcpServer } from '../verifier/index.ts';
import { ENVIRONMENTS, SERVICES, TEST_SUITES, type ExampleStore } from './data.ts';

/** Semantic Versioning 2.0.0, the regular expression suggested by semver.org. */
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const service = z.enum(SERVICES).describe('Service name');
const environment = z.enum(ENVIRONMENTS).describe('Target environment');
const version = z
  .string()
  .max(128)
  .regex(SEMVER, 'must be a semantic version such as 1.4.2')
  .describe('Semantic version, e.g. 1.4.2');

const text = (value: unknown): CallToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
});
const failure = (message: string): CallToolResult => ({
  isError: true,
  content: [{ type: 'text', text: message }],
});

const MetricsSchema = {
  service,
  windowMinutes: z.number().int(),
  requestsPerSecond: z.number(),
  errorRate: z.number().describe('Share of requests that failed, 0-1'),
  p50LatencyMs: z.number(),
  p95LatencyMs: z.number(),
  cpuPercent: z.number(),
  memoryMb: z.number().int(),
};

/**
 * Registers the deployment tools of ARCHITECTURE.md §7.8 on a protected server. Annotations matter: the
 * verifier retries only read-only or idempotent tools, and audit events of destructive ones are
 * flushed at once.
 */
export function registerExampleTools(server: ProtectedMcpServer, store: ExampleStore): void {
  const caller = (authInfo: Parameters<typeof principalOf>[0]) => principalOf(authInfo).id;

  server.registerTool(
    'list_services',
    {
      title: 'List services',
      description:
        'Lists every service with its owning team and the version running in each environment.',
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () => text({ services: store.listServices() }),
  );

  server.registerTool(
    'get_service_metrics',
    {
      title: 'Get service metrics',
      description: 'Traffic, latency and resource figures of a service in production.',
      inputSchema: {
        service,
        windowMinutes: z
          .number()
          .int()
          .min(1)
          .max(1440)
          .default(15)
          .describe('Window in minutes (default 15)'),
      },
      outputSchema: MetricsSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ service: name, windowMinutes }) => {
      const metrics = store.metrics(name, windowMinutes);
      return { ...text(metrics), structuredContent: metrics };
    },
  );

  server.registerTool(
    'check_service_health',
    {
      title: 'Check service health',
      description: 'Runs the health checks of a service in an environment.',
      inputSchema: { service, environment },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ service: name, environment: env }) => text(store.health(name, env)),
  );

  server.registerTool(
    'run_tests',
    {
      title: 'Run tests',
      description: 'Runs a test suite of a service at a git ref.',
      inputSchema: {
        service,
        suite: z.enum(TEST_SUITES).default('unit').describe('Test suite (default unit)'),
        ref: z.string().min(1).max(100).default('main').describe('Git ref (default main)'),
      },
      // Running tests again has no further effect, so a failed run may be retried.
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ service: name, suite, ref }) => text(store.runTests(name, suite, ref)),
  );

  server.registerTool(
    'build_artifact',
    {
      title: 'Build artifact',
      description:
        'Builds the container image of a service version (reproducible: same input, same digest).',
      inputSchema: { service, version },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ service: name, version: v }) => text(store.build(name, v)),
  );

  server.registerTool(
    'deploy_service',
    {
      title: 'Deploy service',
      description:
        'Deploys a version of a service to an environment. Production needs the mcp:deploy:production scope.',
      inputSchema: { service, environment, version },
      // Replaces what runs (destructive), but deploying the running version again changes nothing.
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ service: name, environment: env, version: v }, extra) => {
      const { deployment, changed } = store.deploy(name, env, v, caller(extra.authInfo));
      return text({ changed, deployment });
    },
  );

  server.registerTool(
    'rollback_deployment',
    {
      title: 'Roll back deployment',
      description:
        'Returns a service in an environment to the version it ran before the current one.',
      inputSchema: { service, environment },
      // Each call goes one deployment further back: never retried automatically.
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    ({ service: name, environment: env }, extra) => {
      const deployment = store.rollback(name, env, caller(extra.authInfo));
      return deployment === undefined
        ? failure(`${name} has no earlier version in ${env} to roll back to`)
        : text({ deployment });
    },
  );
}
