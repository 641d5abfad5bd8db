import { request } from 'node:http';

/**
 * A `fetch` look-alike over node:http that sends `extra` headers as given — including `Host`,
 * which `fetch` always sets itself — and never follows redirects. For tests that send what a
 * browser cannot: hostile Host and X-Forwarded-* headers.
 */
export function rawFetch(extra: Record<string, string>) {
  return (url: string, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const body = init.body === undefined || init.body === null ? undefined : String(init.body);
      if (body !== undefined) {
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const req = request(
        url,
        { method: init.method ?? 'GET', headers: { ...headers, ...extra } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const out = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              for (const one of ([] as string[]).concat(v ?? [])) out.append(k, one);
            const status = res.statusCode ?? 500;
            resolve(
              new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), {
                status,
                headers: out,
              }),
            );
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
