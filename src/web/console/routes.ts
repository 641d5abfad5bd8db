import Router from '@koa/router';
import { formBody } from '../../http/form-body.ts';
import { pageHeaders } from '../page-headers.ts';
import { ConsoleAccess } from './access.ts';
import type { ConsoleDeps } from './deps.ts';
import { PageKit } from './kit.ts';
import { activityPages } from './pages/activity.ts';
import { clientPages } from './pages/clients.ts';
import { elevationPages } from './pages/elevations.ts';
import { groupPages } from './pages/groups.ts';
import { rolePages } from './pages/roles.ts';
import type { ConsoleRouter } from './pages/router.ts';
import { userPages } from './pages/users.ts';

export type { ConsoleDeps } from './deps.ts';

/**
 * The admin console under `/console` (ARCHITECTURE.md §13): HTML forms over the admin API's own
 * operations, behind the same `mcp:admin` elevation ({@link ConsoleAccess}). Every page sends the
 * site's page headers (only the site's own script files, no framing, no caching); every change is a form post with the
 * session's CSRF token, answered by a 303 and a notice, or by the page again with the API's refusal.
 */
export function consoleRoutes(deps: ConsoleDeps): Router {
  const router = new Router({ prefix: '/console' });
  const access = new ConsoleAccess(deps);
  const kit = new PageKit(deps.routes, deps.currentDate ?? (() => new Date()));
  const form = formBody();
  const gate = access.gate();
  // Times are localised by the site's one static script (`web/local-time.ts`).
  router.use(pageHeaders({ scripts: true }));
  access.register(router);
  const pages: ConsoleRouter = {
    get: (path, handler) => router.get(path, gate, handler),
    post: (path, handler) => router.post(path, form, gate, handler),
  };
  pages.get('/', async (ctx) => {
    ctx.status = 303;
    ctx.redirect('/console/users');
  });
  userPages(pages, kit);
  rolePages(pages, kit);
  groupPages(pages, kit);
  clientPages(pages, kit);
  elevationPages(pages, kit);
  activityPages(pages, kit);
  return router;
}
