import { z } from 'zod';
import { ADMIN_SCOPE } from './auth.ts';
import { requestSchemas } from './schemas.ts';
import { responseSchemas } from './presenters.ts';
import type { AnyRoute } from './route.ts';

type Json = Record<string, unknown>;
type Registry = z.core.$ZodRegistry<{ id: string }>;

/** Settings of {@link buildOpenApi}. */
export interface OpenApiOptions {
  /** This server's issuer (authorization and token endpoints hang off it). */
  issuer: string;
  /** Where the routes are mounted, e.g. `/admin/v1`. */
  basePath: string;
}

const REF = (id: string) => `#/components/schemas/${id}`;

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid path, query or body; `errors` names every offending field',
  401: 'No token, or an invalid, expired or foreign one (see WWW-Authenticate)',
  403: `A valid token without ${ADMIN_SCOPE}, or a user who is not (or no longer) an admin`,
  404: 'No such resource',
  409: 'Conflicts with the current state (in use, exists, cycle, already revoked); the problem names what',
  413: 'Body larger than 64 KiB',
  415: 'Body is not application/json',
};

/** zod's registry output as OpenAPI components: the JSON Schema dialect is OpenAPI's own, so `$schema`/`$id` go. */
function components(registry: Registry, io: 'input' | 'output'): Record<string, Json> {
  const out = z.toJSONSchema(registry, { io, uri: REF, unrepresentable: 'any' }) as {
    schemas: Record<string, Json>;
  };
  if ('__shared' in out.schemas)
    throw new TypeError('shared zod sub-schemas need an id in the admin schema registries');
  return Object.fromEntries(
    Object.entries(out.schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
}

function schemaOf(schema: z.ZodType, registry: Registry, io: 'input' | 'output'): Json {
  const id = registry.get(schema)?.id;
  if (id) return { $ref: REF(id) };
  const { $schema: _s, ...inline } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return inline;
}

function parameters(where: 'path' | 'query', schema: z.ZodType | undefined): Json[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, { description, ...prop }]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: prop,
    ...(description ? { description } : {}),
  }));
}

function operation(route: AnyRoute): Json {
  const problem = { 'application/problem+json': { schema: { $ref: REF('Problem') } } };
  const challenge = {
    'WWW-Authenticate': { description: 'RFC 6750 Bearer challenge', schema: { type: 'string' } },
  };
  const errors = new Set<number>([
    ...(route.params || route.query || route.body ? [400] : []),
    ...(route.access === 'public' ? [] : [401, 403]),
    ...(route.errors ?? []),
    ...(route.body ? [413, 415] : []),
  ]);
  const { status, description, schema, contentType = 'application/json' } = route.response;
  const responses: Json = {
    [status]: {
      description,
      ...(schema
        ? { content: { [contentType]: { schema: schemaOf(schema, responseSchemas, 'output') } } }
        : {}),
      ...(route.location
        ? {
            headers: {
              Location: { description: 'URL of the new resource', schema: { type: 'string' } },
            },
          }
        : {}),
    },
  };
  for (const code of [...errors].sort((a, b) => a - b)) {
    responses[code] = {
      description: STATUS_TEXT[code] ?? 'Error',
      content: problem,
      ...(code === 401 || code === 403 ? { headers: challenge } : {}),
    };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.access === 'public' ? { security: [] } : {}),
    parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: schemaOf(route.body, requestSchemas, 'input') },
            },
          },
        }
      : {}),
    responses,
  };
}

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table that also registers
 * the routes, and from the same zod schemas that validate requests and type the presenters.
 */
export function buildOpenApi(routes: readonly AnyRoute[], opts: OpenApiOptions): Json {
  const request = components(requestSchemas, 'input');
  const response = components(responseSchemas, 'output');
  const clash = Object.keys(request).filter((id) => id in response);
  if (clash.length)
    throw new TypeError(`schema ids used for both requests and responses: ${clash.join(', ')}`);

  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mcp-elevate admin API',
      version: '1',
      description: `Administration of roles, users, approver groups and clients; elevations, approval tickets and the audit log. Calls need an access token for the resource ${opts.issuer}/admin with scope ${ADMIN_SCOPE}, held by a user with the admin role. Errors are RFC 9457 problem details.`,
    },
    servers: [{ url: `${opts.issuer}${opts.basePath}` }],
    security: [{ adminToken: [ADMIN_SCOPE] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ...request, ...response },
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          description: `Authorization code with PKCE; send resource=${opts.issuer}/admin.`,
          flows: {
            authorizationCode: {
              authorizationUrl: `${opts.issuer}/auth`,
              tokenUrl: `${opts.issuer}/token`,
              scopes: { [ADMIN_SCOPE]: 'Administer mcp-elevate (an elevated scope)' },
            },
          },
        },
      },
    },
  };
}
