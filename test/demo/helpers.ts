import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DEMO_USERS } from '../../scripts/demo/seed.ts';
import { freePort } from '../helpers/server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running `npm run demo` (the same command, `node scripts/demo.ts`, in a child process). */
export interface DemoProcess {
  child: ChildProcess;
  port: number;
  examplePort: number;
  /** Everything the process printed on stdout so far: the walkthrough. */
  stdout(): string;
  /** Everything on stderr: the JSON logs. */
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the demo on free ports with `DATA_DIR`; resolves once the walkthrough is printed in full. */
export async function startDemo(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<DemoProcess> {
  const [port, examplePort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['scripts/demo.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      EXAMPLE_PORT: String(examplePort),
      DATA_DIR: dataDir,
      ...env,
    },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const demo: DemoProcess = {
    child,
    port,
    examplePort,
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + 120_000;
  while (!out.includes('Stop with Ctrl-C')) {
    if (child.exitCode !== null)
      throw new Error(`demo exited with ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`demo printed no walkthrough within 120 s:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return demo;
}

/** The values a newcomer copies out of the walkthrough. */
export interface Walkthrough {
  issuer: string;
  resource: string;
  /** `demo-agent:<secret>`, as given to `curl -u`. */
  agent: string;
  /** Password printed for each demo user, by email. */
  passwords: Record<string, string>;
  /** The authorization URL of the browser step. */
  authorizationUrl: string;
  /** The PKCE code_verifier of the code exchange. */
  codeVerifier: string;
}

/** Reads the walkthrough as a reader would: the pasted variables, the user table, the URL and the verifier. */
export function readWalkthrough(text: string): Walkthrough {
  const vars = /^ {2}AS=(\S+) MCP=(\S+) AGENT='([^']+)'$/m.exec(text);
  const url = /^ {2}(http\S+\/auth\?\S+)$/m.exec(text);
  const verifier = /code_verifier=([\w-]+)/.exec(text);
  if (!vars || !url || !verifier)
    throw new Error(`walkthrough is missing the variables, URL or verifier:\n${text}`);
  const passwords: Record<string, string> = {};
  for (const user of DEMO_USERS) {
    const row = new RegExp(`^ {2}${user.email.replace(/[.]/g, '\\.')} +(\\S+) `, 'm').exec(text);
    if (row) passwords[user.email] = row[1]!;
  }
  return {
    issuer: vars[1]!,
    resource: vars[2]!,
    agent: vars[3]!,
    passwords,
    authorizationUrl: url[1]!,
    codeVerifier: verifier[1]!,
  };
}

/** A form POST to the authorization server's token or backchannel endpoint as the agent (`curl -u "$AGENT" -d …`). */
export async function agentPost(
  w: Walkthrough,
  path: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${w.issuer}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(w.agent).toString('base64')}`,
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
