import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { z } from 'zod';
import type { AdminActor } from './auth.ts';
import { readJsonBody } from './body.ts';
import { parsePart } from './validate.ts';

/** HTTP methods of admin routes. */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a handler receives: the validated request parts and the authenticated admin. */
export interface HandlerInput<P, Q, B, A> {
  params: P;
  query: Q;
  body: B;
  actor: A;
}

/**
 * One admin API operation. The route table made of these is the single source of both the
 * router (see {@link registerRoute}) and the OpenAPI document, so the two cannot drift.
 */
export interface AdminRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  A = AdminActor,
> {
  method: HttpMethod;
  /** Path below `/admin/v1`, in @koa/router syntax (`/roles/:name`). */
  path: string;
  operationId: string;
  summary: string;
  /** OpenAPI tag (the bounded context: roles, users …). */
  tag: string;
  /** `public` routes skip authentication; only for documents holding no secrets. Default `admin`. */
  access?: 'admin' | 'public';
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The success response; `schema` is absent for 204. `contentType` defaults to `application/json`;
   * another one (NDJSON) means the handler returns a stream of it, and `schema` describes one item.
   */
  response: {
    status: 200 | 201 | 204;
    description: string;
    schema?: z.ZodType;
    contentType?: string;
  };
  /** Route-specific error statuses (404, 409 …); the common ones are added by the OpenAPI builder. */
  errors?: number[];
  /** `Location` of a created resource (201), relative to `/admin/v1`. */
  location?: (result: never) => string;
  /** The service call and presenter: returns exactly the response body. */
  handle(input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>, A>): Promise<unknown>;
}

/** A route with its schema types erased, as the table stores it. */
export type AnyRoute = AdminRoute<any, any, any, any>;

/** Declares an authenticated admin route; the generics infer the handler's input types. */
export function adminRoute<
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  B extends z.ZodType = z.ZodUndefined,
>(route: AdminRoute<P, Q, B, AdminActor>): AnyRoute {
  return { ...route, access: 'admin' };
}

/** Declares a route anyone may call; its handler gets no actor. */
export function publicRoute<
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
>(route: Omit<AdminRoute<P, Q, z.ZodUndefined, undefined>, 'body'>): AnyRoute {
  return { ...route, access: 'public' };
}

const emptyQuery = z.strictObject({});

/** A request's raw parts, before validation: path parameters, query and decoded body. */
export interface RawInput {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

/**
 * Validates a request's parts with the route's own schemas, as the API does for every call (the
 * console's pages use it too, so both refuse the same input with the same message).
 *
 * @throws {AppError} `ERR_VALIDATION` (400) naming every offending field.
 */
export function routeInput(
  route: AnyRoute,
  raw: RawInput,
): { params: unknown; query: unknown; body: unknown } {
  return {
    params: route.params ? parsePart('path', route.params, raw.params ?? {}) : undefined,
    // A query schema is always applied, so an unexpected parameter is an error, not ignored.
    query: parsePart('query', route.query ?? emptyQuery, { ...raw.query }),
    body: route.body ? parsePart('body', route.body, raw.body) : undefined,
  };
}

// Admin responses name users, roles and secrets: never stored by a cache.
const noStore: Middleware = async (ctx: Context, next: Next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/**
 * Registers one route as a pipeline: no-store → authenticate → read JSON body → validate
 * (path, query, body) → handler (service + presenter) → response.
 */
export function registerRoute(router: Router, route: AnyRoute, authenticate: Middleware): void {
  const validate: Middleware = async (ctx, next) => {
    ctx.state.input = routeInput(route, {
      params: ctx.params,
      query: ctx.query,
      body: ctx.request.body,
    });
    await next();
  };
  const respond: Middleware = async (ctx) => {
    const result = await route.handle({ ...ctx.state.input, actor: ctx.state.admin });
    ctx.status = route.response.status;
    if (route.response.contentType) ctx.type = route.response.contentType;
    if (route.location)
      ctx.set('Location', `${router.opts.prefix ?? ''}${route.location(result as never)}`);
    if (route.response.status !== 204) ctx.body = result;
  };
  const chain: Middleware[] = [noStore];
  if (route.access !== 'public') chain.push(authenticate);
  if (route.body) chain.push(readJsonBody);
  chain.push(validate, respond);
  router.register(route.path, [route.method.toUpperCase()], chain as never);
}
