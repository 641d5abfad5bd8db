import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';

// The package exports only its modules; its root is one folder above its CommonJS entry point.
const PACKAGE_ROOT = join(
  dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
  '..',
);
const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * Path of SimpleWebAuthn's browser bundle (it defines `window.SimpleWebAuthnBrowser`); the
 * version is in the path, so a new version is a new URL and the file can be cached for a year.
 */
export const WEBAUTHN_BUNDLE_PATH = `/assets/simplewebauthn-browser-${version}.min.js`;
/** Path of the site's one script: the passkey ceremonies of the enrolment and approval pages. */
export const PASSKEYS_SCRIPT_PATH = '/assets/passkeys.js';

const bundle = readFileSync(join(PACKAGE_ROOT, 'dist/bundle/index.umd.min.js'), 'utf8');
const script = readFileSync(
  fileURLToPath(new URL('../../assets/passkeys.js', import.meta.url)),
  'utf8',
);

/**
 * The two script files the passkey pages load (never inline: their CSP is `script-src 'self'`).
 * Both are read once at start and served as `text/javascript` with `nosniff`; the versioned
 * bundle is `immutable` for a year, our own script is revalidated after five minutes.
 */
export function passkeyAssetRoutes(): Router {
  const router = new Router();
  const serve = (path: string, body: string, cacheControl: string) =>
    router.get(path, (ctx) => {
      ctx.type = 'text/javascript; charset=utf-8';
      ctx.set('Cache-Control', cacheControl);
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.body = body;
    });
  serve(WEBAUTHN_BUNDLE_PATH, bundle, 'public, max-age=31536000, immutable');
  serve(PASSKEYS_SCRIPT_PATH, script, 'public, max-age=300');
  return router;
}
