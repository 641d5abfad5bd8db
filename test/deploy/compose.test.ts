import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/env.ts';

const root = new URL('../../', import.meta.url);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  network_mode?: string;
}

describe('docker-compose.yml', async () => {
  const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8')) as {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
  const { services } = compose;

  it('has postgres, mailpit, the server, the example MCP server and a gateway before a plain MCP server', () => {
    expect(Object.keys(services).sort()).toEqual([
      'example-mcp-server',
      'gateway',
      'mailpit',
      'plain-mcp-server',
      'postgres',
      'server',
    ]);
    expect(services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(services.mailpit!.image).toMatch(/^axllent\/mailpit/);
    expect(services.server!.build).toBeDefined();
    expect(services['example-mcp-server']!.build).toBeDefined();
  });

  it('wires the server to postgres and mailpit with variables the server accepts', () => {
    const env = services.server!.environment!;
    const db = new URL(env.DATABASE_URL!);
    expect(db.hostname).toBe('postgres');
    const pg = services.postgres!.environment!;
    expect(decodeURIComponent(db.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(db.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(db.pathname.slice(1)).toBe(pg.POSTGRES_DB);
    expect(new URL(env.SMTP_URL!).host).toBe('mailpit:1025');
    // Every variable passes the server's own configuration schema.
    const config = loadConfig(env);
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.port).toBe(3000);
  });

  it('publishes the server, the example MCP server and the mail UI', () => {
    expect(services.server!.ports).toEqual(expect.arrayContaining(['3000:3000', '4000:4000']));
    expect(services.mailpit!.ports).toEqual(expect.arrayContaining(['8025:8025']));
    expect(services['example-mcp-server']!.network_mode).toBe('service:server');
    expect(services['example-mcp-server']!.command).toEqual([
      'example-mcp-server',
      '--port',
      '4000',
    ]);
    expect(services['example-mcp-server']!.environment!.ISSUER).toBe(
      services.server!.environment!.ISSUER,
    );
  });

  it('puts the gateway in front of the plain MCP server, at a resource of scopes.json', async () => {
    const gateway = services.gateway!;
    expect(gateway.build).toBeDefined();
    expect(gateway.network_mode).toBe('service:server');
    expect(gateway.environment!.ISSUER).toBe(services.server!.environment!.ISSUER);
    expect(services.server!.ports).toContain('4200:4200');
    const [command, flag, upstream, portFlag, port] = gateway.command!;
    expect([command, flag, portFlag, port]).toEqual(['gateway', '--upstream', '--port', '4200']);
    const plain = services['plain-mcp-server']!;
    expect(new URL(upstream!).host).toBe(`plain-mcp-server:${plain.environment!.PORT}`);
    expect(plain.ports).toBeUndefined();
    expect(plain.healthcheck!.test.join(' ')).toContain(
      `127.0.0.1:${plain.environment!.PORT}/healthz`,
    );
    expect(gateway.depends_on).toEqual({
      server: { condition: 'service_healthy' },
      'plain-mcp-server': { condition: 'service_healthy' },
    });
    // The gateway's default resource must be one the authorization server issues tokens for.
    const scopes = JSON.parse(await readFile(new URL('scopes.json', root), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    expect(Object.keys(scopes.resources)).toContain('http://localhost:4200/mcp');
    expect(await readFile(new URL('Dockerfile', root), 'utf8')).toContain(
      'COPY examples ./examples',
    );
  });

  it('starts in order behind health checks', () => {
    for (const name of ['postgres', 'mailpit', 'server'])
      expect(services[name]!.healthcheck?.test.length).toBeGreaterThan(0);
    expect(services.server!.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      mailpit: { condition: 'service_healthy' },
    });
    expect(services['example-mcp-server']!.depends_on).toEqual({
      server: { condition: 'service_healthy' },
    });
    expect(services.server!.healthcheck!.test.join(' ')).toContain('/readyz');
  });

  it('builds a multi-stage Node 24 image that runs as a non-root user', async () => {
    const dockerfile = await readFile(new URL('Dockerfile', root), 'utf8');
    const froms = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.every((l) => /node:24/.test(l))).toBe(true);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/HEALTHCHECK/);
    for (const dir of ['src', 'migrations', 'views', 'bin'])
      expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
  });
});
