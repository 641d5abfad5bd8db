import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import {
  ADMIN_BASE_PATH,
  ADMIN_FALLBACK,
  adminRouteTable,
  createAdminRouter,
  type AdminDeps,
} from '../../src/admin/index.ts';
import { startAdminFixture, type AdminFixture } from './fixture.ts';

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
};
type Operation = {
  operationId: string;
  responses: Record<string, { description: string }>;
  parameters: Array<{ name: string; in: string }>;
  security?: unknown[];
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` anywhere in `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Resolves a local JSON pointer (`#/a/b`) in `doc`; undefined when it points nowhere. */
function resolve(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (node, key) =>
        node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined,
      doc,
    );
}

describe.each(databaseKinds())('admin API: OpenAPI document (%s)', (kind) => {
  let f: AdminFixture;
  let doc: Doc;
  let deps: AdminDeps;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    const { server } = f.t;
    deps = {
      issuer: f.t.url,
      provider: server.provider,
      db: server.db.db,
      roles: server.roles,
      audit: server.audit,
      catalogue: server.catalogue,
      elevation: server.elevation,
    };
    const res = await fetch(`${f.base}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => f?.close());

  it('is an OpenAPI 3.1 document whose every operation has responses and whose every $ref resolves', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path.startsWith('/')).toBe(true);
      const ops = Object.entries(item).filter(([m]) => METHODS.includes(m));
      expect(ops.length).toBeGreaterThan(0);
      for (const [, op] of ops) {
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const [status, response] of Object.entries(op.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(response.description).toBeTruthy();
        }
        // Every {param} of the path is declared as a path parameter, and nothing else is.
        const declared = op.parameters
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        expect(declared).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
      }
    }
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const ref of all) expect(resolve(doc, ref), ref).toBeDefined();
  });

  it("lists exactly the routes the admin router serves (compared with the router's own stack)", () => {
    const router = createAdminRouter(deps);
    // The fallback answers what no route takes (404/405 problems): it is not an operation.
    const served = router.stack
      .filter((layer) => layer.name !== ADMIN_FALLBACK)
      .flatMap((layer) =>
        layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path)}`),
      )
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) =>
        Object.keys(item).map(
          (m) => `${m.toUpperCase()} ${ADMIN_BASE_PATH}${path.replace(/\{(\w+)\}/g, ':$1')}`,
        ),
      )
      .sort();
    expect(documented).toEqual(served);
    expect(served).toContain('POST /admin/v1/roles');
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /admin/v1/audit/verify',
        'GET /admin/v1/audit',
        'GET /admin/v1/audit/export',
        'GET /admin/v1/elevations',
        'GET /admin/v1/elevations/:id',
        'POST /admin/v1/elevations/:id/revoke',
        'GET /admin/v1/tickets',
        'GET /admin/v1/tickets/:id',
      ]),
    );
  });

  it('serves every documented operation on the live server: each one asks an anonymous caller for a token', async () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const res = await fetch(`${f.base}${path.replace(/\{\w+\}/g, 'x')}`, {
          method: method.toUpperCase(),
        });
        const expected = op.security?.length === 0 ? 200 : 401;
        expect(res.status, `${method} ${path}`).toBe(expected);
        await res.arrayBuffer();
      }
    }
  });

  it('answers with bodies that match the documented response schemas', async () => {
    const token = await f.token();
    const lists = adminRouteTable(deps).filter((r) => r.method === 'get' && !r.params);
    expect(lists.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/roles',
        '/users',
        '/groups',
        '/clients',
        '/audit/verify',
        '/audit',
        '/audit/export',
        '/elevations',
        '/tickets',
      ]),
    );
    for (const route of lists) {
      const res = await f.api('GET', route.path, { token });
      expect(res.status, route.path).toBe(200);
      const type = route.response.contentType ?? 'application/json';
      expect(res.headers.get('content-type'), route.path).toContain(type);
      // A streamed (NDJSON) response's schema describes each line.
      const bodies =
        type === 'application/json'
          ? [await res.json()]
          : (await res.text())
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l));
      expect(bodies.length, route.path).toBeGreaterThan(0);
      for (const body of bodies) {
        const parsed = route.response.schema!.safeParse(body);
        expect(parsed.success, `${route.path}: ${parsed.error?.message}`).toBe(true);
      }
    }
  });
});
