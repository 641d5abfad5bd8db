import { CookieJar } from 'tough-cookie';

/**
 * A minimal user agent for driving login and consent pages over real HTTP the way a browser does:
 * it keeps cookies (tough-cookie: RFC 6265 domain, path and expiry rules), follows redirects by
 * hand and posts forms with their hidden fields.
 */
export class HttpBrowser {
  readonly jar = new CookieJar();

  /** @param send How requests go out (default `fetch`); e.g. one that adds hostile headers. */
  readonly #send: (url: string, init: RequestInit) => Promise<Response>;
  constructor(send: (url: string, init: RequestInit) => Promise<Response> = fetch) {
    this.#send = send;
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookies = await this.jar.getCookieString(url);
    if (cookies) headers.set('cookie', cookies);
    const res = await this.#send(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) await this.jar.setCookie(c, url);
    return res;
  }

  /** The value of the cookie `name` this browser would send to `url`, if any. */
  cookie(url: string, name: string): string | undefined {
    return this.jar.getCookiesSync(url).find((c) => c.key === name)?.value;
  }

  /**
   * Changes the value of the cookie `name` sent to `url`, keeping its attributes, or removes it
   * (`undefined`): what a user can do to the browser's cookie storage.
   * @throws Error when there is no such cookie.
   */
  editCookie(url: string, name: string, value: string | undefined): void {
    const cookie = this.jar
      .getCookiesSync(url)
      .find((c) => c.key === name)
      ?.clone();
    if (cookie === undefined) throw new Error(`no cookie ${name} for ${url}`);
    if (value === undefined) cookie.expires = new Date(0);
    else cookie.value = value;
    this.jar.setCookieSync(cookie, url);
  }

  /** GETs `url` and follows redirects until a non-redirect response or a URL starting with `stopAt`. */
  async follow(url: string, stopAt?: string): Promise<{ url: string; res: Response }> {
    let current = url;
    for (let i = 0; i < 20; i++) {
      if (stopAt && current.startsWith(stopAt))
        return { url: current, res: new Response(null, { status: 200 }) };
      const res = await this.request(current);
      if (res.status < 300 || res.status >= 400) return { url: current, res };
      current = new URL(res.headers.get('location')!, current).toString();
    }
    throw new Error('too many redirects');
  }

  /** Posts a urlencoded form and follows the redirects that come back. */
  async submit(
    url: string,
    fields: Record<string, string>,
    stopAt?: string,
  ): Promise<{ url: string; res: Response }> {
    const res = await this.request(url, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (res.status >= 300 && res.status < 400)
      return this.follow(new URL(res.headers.get('location')!, url).toString(), stopAt);
    return { url, res };
  }
}

/** The value of a hidden input in an HTML page. */
export function hiddenField(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} in page`);
  return m[1]!;
}

/** The form action of the first form in a page, resolved against `base`. */
export function formAction(html: string, base: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!m) throw new Error('no form in page');
  return new URL(m[1]!.replace(/&amp;/g, '&'), base).toString();
}
