import { hkdfSync } from 'node:crypto';
import type { Context } from 'koa';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

/** Where the console's cookies are sent: its own pages only, never the rest of the site. */
export const CONSOLE_PATH = '/console';

/**
 * Sealed cookies of the console (ARCHITECTURE.md §13): the admin access token and the state of an
 * authorization request in flight. Each is a JWE (`dir`, `A256GCM`) under a key derived (HKDF-SHA256)
 * from the server's cookie key, so its content is neither readable nor forgeable by the browser;
 * the cookie itself is `httpOnly` (never readable by scripts), `SameSite=Lax`, at path `/console`.
 * A cookie that does not open (another key, edited, expired) is treated as absent.
 */
export class CookieVault {
  readonly #key: Uint8Array;

  /** @param cookieKey The server's current cookie key (`server_secret`). */
  constructor(cookieKey: string) {
    this.#key = new Uint8Array(hkdfSync('sha256', cookieKey, '', 'mcp-elevate console cookie', 32));
  }

  /** Seals `payload` into cookie `name` for `maxAgeSeconds` (the JWE's `exp` says the same). */
  async set(
    ctx: Context,
    name: string,
    payload: JWTPayload,
    maxAgeSeconds: number,
    now = Date.now(),
  ): Promise<void> {
    const sealed = await new EncryptJWT(payload)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + maxAgeSeconds)
      .encrypt(this.#key);
    ctx.cookies.set(name, sealed, options(ctx, maxAgeSeconds * 1000));
  }

  /** The payload of cookie `name`, or undefined when it is absent or does not open. */
  async get(ctx: Context, name: string): Promise<JWTPayload | undefined> {
    const raw = ctx.cookies.get(name);
    if (!raw || raw.length > 8192) return undefined;
    try {
      return (await jwtDecrypt(raw, this.#key)).payload;
    } catch {
      return undefined;
    }
  }

  /** Drops cookie `name`. */
  clear(ctx: Context, name: string): void {
    ctx.cookies.set(name, null, options(ctx, 0));
  }
}

function options(ctx: Context, maxAge: number) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    path: CONSOLE_PATH,
    maxAge,
    secure: ctx.secure,
    overwrite: true,
    signed: false,
  };
}
