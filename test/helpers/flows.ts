import { HttpBrowser, formAction, hiddenField } from './browser.ts';

/**
 * Drives an authorization request through the login and consent pages like a browser and returns
 * where the server finally redirected (the client's redirect URI with code or error).
 */
export async function completeAuthorization(opts: {
  authorizationUrl: string;
  redirectUri: string;
  email?: string;
  password?: string;
  /**
   * Signs in on the login page instead of the password form (e.g. through an upstream's button):
   * gets the page and its URL, returns where the browser ended up.
   */
  signIn?: (
    html: string,
    url: string,
    browser: HttpBrowser,
  ) => Promise<{ url: string; res: Response }>;
  justification?: string;
  browser?: HttpBrowser;
  /** Called with the waiting page's URL when an approval-gated request waits for approvers. */
  onWaiting?: (url: string) => void;
  /** Called with each sign-in or consent page the flow passes through, in order. */
  onPage?: (kind: 'login' | 'consent', html: string) => void;
}): Promise<URL> {
  const browser = opts.browser ?? new HttpBrowser();
  let step = await browser.follow(opts.authorizationUrl, opts.redirectUri);
  for (let i = 0; i < 6 && !step.url.startsWith(opts.redirectUri); i++) {
    // The waiting page refreshes itself (meta refresh) until the ticket is decided.
    for (let n = 0; step.url.endsWith('/wait') && n < 300; n++) {
      opts.onWaiting?.(step.url);
      await new Promise((r) => setTimeout(r, 100));
      step = await browser.follow(step.url, opts.redirectUri);
    }
    if (step.url.startsWith(opts.redirectUri)) break;
    const html = await step.res.text();
    if (step.res.status !== 200)
      throw new Error(`unexpected ${step.res.status} at ${step.url}: ${html.slice(0, 300)}`);
    if (opts.signIn && /\/interaction\/[\w-]+$/.test(step.url) && html.includes('<title>Sign in')) {
      opts.onPage?.('login', html);
      step = await opts.signIn(html, step.url, browser);
      continue;
    }
    const action = formAction(html, step.url);
    const csrf = hiddenField(html, 'csrf');
    opts.onPage?.(action.endsWith('/login') ? 'login' : 'consent', html);
    if (action.endsWith('/login')) {
      step = await browser.submit(
        action,
        { csrf, email: opts.email ?? '', password: opts.password ?? '' },
        opts.redirectUri,
      );
      if (step.res.status === 401) throw new Error('login refused');
    } else {
      step = await browser.submit(
        action,
        { csrf, decision: 'allow', justification: opts.justification ?? 'testing' },
        opts.redirectUri,
      );
    }
  }
  if (!step.url.startsWith(opts.redirectUri))
    throw new Error(`flow did not return to the client: ${step.url}`);
  return new URL(step.url);
}
