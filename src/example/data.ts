import { createHash } from 'node:crypto';

/** Services the example knows; a fixed list so that tool schemas can enumerate them. */
export const SERVICES = ['api-gateway', 'billing', 'checkout', 'search', 'web-frontend'] as const;
/** Deployment environments, least to most sensitive. */
export const ENVIRONMENTS = ['development', 'staging', 'production'] as const;
/** Test suites `run_tests` can run. */
export const TEST_SUITES = ['unit', 'integration', 'e2e'] as const;

export type Service = (typeof SERVICES)[number];
export type Environment = (typeof ENVIRONMENTS)[number];
export type TestSuite = (typeof TEST_SUITES)[number];

/** One deployment of a service version to an environment. */
export interface Deployment {
  id: string;
  service: Service;
  environment: Environment;
  version: string;
  previousVersion: string | null;
  deployedBy: string;
  deployedAt: string;
  kind: 'deploy' | 'rollback';
}

const TEAMS: Record<Service, string> = {
  'api-gateway': 'platform',
  billing: 'payments',
  checkout: 'payments',
  search: 'discovery',
  'web-frontend': 'web',
};

/** A stable number in [0, 1) for a key: fake figures that do not jump around between calls. */
function unit(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * The example's in-memory world: services with a version per environment and a deployment history
 * per service and environment. Figures are derived from hashes, so they are plausible and stable.
 */
export class ExampleStore {
  readonly #history = new Map<string, Deployment[]>();
  #sequence = 0;

  constructor(now: Date = new Date()) {
    for (const service of SERVICES) {
      for (const [i, environment] of ENVIRONMENTS.entries()) {
        // Development runs ahead of staging, which runs ahead of production.
        const minor = 4 + Math.floor(unit(service) * 5) + (2 - i);
        const older = { version: `1.${minor - 1}.0`, previousVersion: null };
        const current = { version: `1.${minor}.0`, previousVersion: older.version };
        for (const step of [older, current])
          this.#record(
            service,
            environment,
            step.version,
            step.previousVersion,
            'ci-bot',
            'deploy',
            now,
          );
      }
    }
  }

  /** Every service with its owning team and the version running in each environment. */
  listServices(): Array<{ name: Service; team: string; versions: Record<Environment, string> }> {
    return SERVICES.map((name) => ({
      name,
      team: TEAMS[name],
      versions: Object.fromEntries(
        ENVIRONMENTS.map((env) => [env, this.current(name, env)]),
      ) as Record<Environment, string>,
    }));
  }

  /** The version running in `environment`. */
  current(service: Service, environment: Environment): string {
    return this.#deployments(service, environment).at(-1)!.version;
  }

  /** Traffic and resource figures of a service in production over the last `windowMinutes`. */
  metrics(service: Service, windowMinutes: number) {
    const r = (what: string) => unit(`${service}:${what}:${windowMinutes}`);
    const p50 = 20 + r('p50') * 60;
    return {
      service,
      windowMinutes,
      requestsPerSecond: round(50 + r('rps') * 950, 1),
      errorRate: round(r('errors') * 0.02, 4),
      p50LatencyMs: round(p50, 1),
      p95LatencyMs: round(p50 * (2 + r('p95') * 2), 1),
      cpuPercent: round(15 + r('cpu') * 60, 1),
      memoryMb: Math.round(256 + r('mem') * 1792),
    };
  }

  /** Health of a service in an environment, with the checks behind the verdict. */
  health(service: Service, environment: Environment) {
    const checks = ['http', 'database', 'queue'].map((name) => ({
      name,
      status:
        unit(`${service}:${environment}:${name}`) < 0.9 ? ('pass' as const) : ('warn' as const),
    }));
    const status = checks.every((check) => check.status === 'pass') ? 'healthy' : 'degraded';
    return { service, environment, version: this.current(service, environment), status, checks };
  }

  /** Runs a test suite of the service at the ref; results are fixed for a given input. */
  runTests(service: Service, suite: TestSuite, ref: string) {
    const total =
      { unit: 420, integration: 96, e2e: 24 }[suite] + Math.floor(unit(`${service}:${suite}`) * 40);
    const failed = unit(`${service}:${suite}:${ref}`) < 0.1 ? 1 : 0;
    return {
      service,
      suite,
      ref,
      total,
      passed: total - failed,
      failed,
      durationMs: Math.round(total * (suite === 'e2e' ? 900 : 12)),
    };
  }

  /** Builds (reproducibly) the artifact of a service version. */
  build(service: Service, version: string) {
    const digest = createHash('sha256').update(`${service}@${version}`).digest('hex');
    return {
      service,
      version,
      image: `registry.example.com/${service}:${version}`,
      digest: `sha256:${digest}`,
    };
  }

  /** Deploys `version`; deploying the version already running changes nothing (idempotent). */
  deploy(
    service: Service,
    environment: Environment,
    version: string,
    by: string,
    now = new Date(),
  ): { deployment: Deployment; changed: boolean } {
    const current = this.#deployments(service, environment).at(-1)!;
    if (current.version === version) return { deployment: current, changed: false };
    return {
      deployment: this.#record(service, environment, version, current.version, by, 'deploy', now),
      changed: true,
    };
  }

  /** Goes back to the version before the current one, or undefined when there is none. */
  rollback(
    service: Service,
    environment: Environment,
    by: string,
    now = new Date(),
  ): Deployment | undefined {
    const current = this.#deployments(service, environment).at(-1)!;
    if (current.previousVersion === null) return undefined;
    const before = this.#deployments(service, environment)
      .filter((d) => d.version === current.previousVersion)
      .at(-1);
    return this.#record(
      service,
      environment,
      current.previousVersion,
      before?.previousVersion ?? null,
      by,
      'rollback',
      now,
    );
  }

  #deployments(service: Service, environment: Environment): Deployment[] {
    const key = `${service}/${environment}`;
    let list = this.#history.get(key);
    if (list === undefined) this.#history.set(key, (list = []));
    return list;
  }

  #record(
    service: Service,
    environment: Environment,
    version: string,
    previousVersion: string | null,
    by: string,
    kind: Deployment['kind'],
    now: Date,
  ): Deployment {
    this.#sequence += 1;
    const deployment: Deployment = {
      id: `dep-${String(this.#sequence).padStart(5, '0')}`,
      service,
      environment,
      version,
      previousVersion,
      deployedBy: by,
      deployedAt: now.toISOString(),
      kind,
    };
    this.#deployments(service, environment).push(deployment);
    return deployment;
  }
}
