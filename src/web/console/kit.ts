import type { Context } from 'koa';
import type { AnyRoute, RawInput } from '../../admin/route.ts';
import { routeInput } from '../../admin/route.ts';
import { AppError } from '../../errors.ts';
import { problemOf } from '../../http/problem.ts';
import { render } from '../../http/views.ts';
import type { ConsoleState } from './deps.ts';
import { NOTICES, type Notice } from './format.ts';

/** A refusal of the admin API, as the console shows it: the API's status and its very words. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** The console's sections, in the order of its navigation. */
export const SECTIONS = [
  ['users', 'Users'],
  ['roles', 'Roles'],
  ['groups', 'Groups'],
  ['clients', 'Clients'],
  ['elevations', 'Elevations'],
  ['tickets', 'Tickets'],
  ['audit', 'Audit'],
] as const;

/**
 * What every console page is made of: admin API operations called by `operationId` through the
 * API's own route table (same schemas, services, presenters and audit events), the page chrome,
 * and the answer after a form post (303 with a notice, or the page again with the API's refusal).
 */
export class PageKit {
  readonly #routes: Map<string, AnyRoute>;
  readonly now: () => Date;

  constructor(routes: readonly AnyRoute[], now: () => Date) {
    this.#routes = new Map(routes.map((r) => [r.operationId, r]));
    this.now = now;
  }

  /**
   * Runs the admin API operation `operationId` for the admin of this request: input validated by
   * the route's schemas, then its handler (service + presenter). Throws what the API would answer.
   */
  async call<T = unknown>(ctx: Context, operationId: string, raw: RawInput = {}): Promise<T> {
    const route = this.#routes.get(operationId);
    if (!route) throw new TypeError(`no admin operation ${operationId}`);
    const input = routeInput(route, raw);
    return (await route.handle({ ...input, actor: state(ctx).actor })) as T;
  }

  /** Renders console view `view` inside the console's chrome. */
  show(
    ctx: Context,
    view: string,
    section: string,
    data: Record<string, unknown>,
    refusal?: Refusal,
  ): void {
    const s = state(ctx);
    const key = String(ctx.query.notice ?? '');
    ctx.status = refusal?.status ?? 200;
    ctx.body = render(view, {
      ...data,
      section,
      sections: SECTIONS,
      me: { email: s.me.user.email, name: s.me.user.name },
      csrf: s.csrf,
      notice: !refusal && Object.hasOwn(NOTICES, key) ? NOTICES[key as Notice] : null,
      refusal: refusal ?? null,
    });
  }

  /** After a change: 303 to `location` with a fixed notice (never text from the request). */
  done(ctx: Context, location: string, notice: Notice): void {
    ctx.status = 303;
    ctx.redirect(`${location}${location.includes('?') ? '&' : '?'}notice=${notice}`);
  }

  /**
   * Runs a form's change; when the API refuses it (an error it answers with a 4xx problem), shows
   * the page again through `redisplay` with the API's status and message. Anything else is thrown.
   */
  async act(
    ctx: Context,
    change: () => Promise<void>,
    redisplay: (refusal: Refusal) => Promise<void>,
  ): Promise<void> {
    try {
      await change();
    } catch (err) {
      const problem = err instanceof AppError ? problemOf(err) : undefined;
      if (!problem || problem.status >= 500) throw err;
      await redisplay({ status: problem.status, code: problem.code, message: problem.detail });
    }
  }
}

/** The console state the gate set for this request. */
export function state(ctx: Context): ConsoleState {
  const s = ctx.state.console as ConsoleState | undefined;
  if (!s) throw new TypeError('console page reached without its gate');
  return s;
}

/** A form field that may be sent once or repeated (checkboxes) as a list; absent → []. */
export function list(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** A single form field as text (a repeated one is not a text: ''). */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The form body of this request. */
export function formBody(ctx: Context): Record<string, unknown> {
  return (ctx.request.body ?? {}) as Record<string, unknown>;
}
