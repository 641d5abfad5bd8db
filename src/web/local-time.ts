import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';

const SCRIPT = fileURLToPath(new URL('../../views/static/local-time.js', import.meta.url));

/** Where pages load the script from (`<script src>`; `pageHeaders({ scripts: true })` allows it). */
export const LOCAL_TIME_SCRIPT = '/static/local-time.js';

let body: Promise<string> | undefined;

/**
 * Answers `GET /static/local-time.js`: the site's one script for times, a static file. It rewrites
 * the text of every `<time datetime>` to the viewer's time zone and leaves the UTC text in `title`
 * (hover). Without JavaScript the server's UTC text stays. Cached for an hour; it holds no secrets.
 */
export const localTimeScript: Middleware = async (ctx) => {
  body ??= readFile(SCRIPT, 'utf8');
  ctx.type = 'text/javascript; charset=utf-8';
  ctx.set('Cache-Control', 'public, max-age=3600');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.body = await body;
};
