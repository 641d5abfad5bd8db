/**
 * A minimal user agent for driving login and consent pages over real HTTP the way a browser does:
 * it keeps cookies, follows redirects by hand and posts forms with their hidden fields.
 */
export class HttpBrowser {
  readonly cookies = new Map<string, string>();

  /** @param send How requests go out (default `fetch`); e.g. one that adds hostile headers. */
  readonly #send: (url: string, init: RequestInit) => Promise<Response>;
  constructor(send: (url: string, init: RequestInit) => Promise<Response> = fetch) {
    this.#send = send;
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size)
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await this.#send(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
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
