import type { Context } from 'koa';

/** A console page handler; the gate has run (`ctx.state.console` is set). */
export type PageHandler = (ctx: Context) => Promise<void>;

/** How a page module registers its pages: each behind the console's gate, posts behind CSRF too. */
export interface ConsoleRouter {
  get(path: string, handler: PageHandler): void;
  post(path: string, handler: PageHandler): void;
}
