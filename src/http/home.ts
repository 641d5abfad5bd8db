import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Catalogue } from '../policy/index.ts';
import { render } from './views.ts';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/**
 * The home page (`/`, discovery's `service_documentation`): what this server is, with links to
 * both metadata documents, the JWKS, the documentation (`/docs`, the project's README as plain
 * text) and the pages for people: sign-in (`/login`), "My access" (`/account`), approvals
 * (`/approvals`) and the admin console (`/console`). Plain HTML, no JavaScript; every value is
 * escaped.
 */
export function homeRoutes(deps: { issuer: string; catalogue: Catalogue }): Router {
  const router = new Router();
  const resources = Object.entries(deps.catalogue.resources).map(([url, r]) => ({
    url,
    name: r.name,
  }));
  let readme: Promise<string> | undefined;
  router.get('/', (ctx) => {
    ctx.body = render('home', { issuer: deps.issuer, resources });
  });
  router.get('/docs', async (ctx) => {
    readme ??= readFile(README, 'utf8');
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = await readme;
  });
  return router;
}
