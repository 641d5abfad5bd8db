import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './server.ts';

/** The repository root: where a user runs `npm start` and `npx mcp-elevate …`. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `mcp-elevate serve` started the way the README says, as a process of its own. */
export interface ServeProcess {
  /** The issuer (`http://localhost:<port>`), which is also where it listens. */
  url: string;
  port: number;
  dataDir: string;
  /** The environment it runs with; CLI commands beside it use the same one. */
  env: Record<string, string>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The initial admin's one-time password (DATA_DIR/initial-admin-password). */
  adminPassword(): Promise<string>;
  /** SIGTERM to it and its npm parent, then waits until both have ended. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  restart(): Promise<ServeProcess>;
  /** Stops it and removes its data folder. */
  close(): Promise<void>;
}

/**
 * The PATH of a user's shell: without the project's `node_modules/.bin` that `npx vitest` put in
 * front, so `npm` and `npx` run on the machine's Node and the project's pinned Node is what the npm
 * scripts and `npx mcp-elevate` pick for themselves.
 */
export const USER_PATH = (process.env.PATH ?? '')
  .split(':')
  .filter((dir) => !dir.endsWith('/node_modules/.bin'))
  .join(':');

/** How long a first start may take: PGlite's first start is slow on a busy machine. */
const READY_WITHIN_MS = 240_000;

/** Whether any process of the group led by `pid` still runs. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends the process group led by `child` at once (a start that failed). */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * SIGTERM to the whole process group, as a terminal's Ctrl-C (SIGINT) or a service manager
 * (systemd's default KillMode) delivers it: npm passes a signal on to the shell that runs the
 * script, and that shell does not pass it on to the server. Resolves once every process of the
 * group has ended (SIGKILL after 60 s).
 */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  if (!groupAlive(pid)) return;
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) process.kill(-pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `url` (e.g. `/readyz`) until it answers 2xx; fails if the process ends first. */
async function waitUntilReady(
  url: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`server exited with ${child.exitCode}: ${output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${READY_WITHIN_MS / 1000} s: ${output()}`);
}

/**
 * Runs `npm start` in the repository with no `DATABASE_URL` (the embedded default), a data folder
 * of its own and a free port, and waits until `/readyz` answers.
 */
export async function startServeProcess(
  opts: { env?: Record<string, string>; dataDir?: string; port?: number } = {},
): Promise<ServeProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'mcpe-serve-')));
  const port = opts.port ?? (await freePort());
  const url = `http://localhost:${port}`;
  const env: Record<string, string> = {
    PATH: USER_PATH,
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  // A process group of its own, so that nothing it started outlives a failed start.
  const child = spawn('npm', ['start', '--silent'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const output = () => text;
  try {
    await waitUntilReady(`${url}/readyz`, child, output);
  } catch (error) {
    killGroup(child);
    throw error;
  }
  const stop = () => stopGroup(child);
  return {
    url,
    port,
    dataDir,
    env,
    output,
    adminPassword: async () =>
      (await readFile(join(dataDir, 'initial-admin-password'), 'utf8')).trim(),
    stop,
    restart: async () => {
      await stop();
      return startServeProcess({ ...opts, dataDir, port });
    },
    close: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** npm's own warnings (`npm warn EBADENGINE …` when the machine's Node is older than the pin). */
const withoutNpmWarnings = (text: string) =>
  text
    .split('\n')
    .filter((line) => !line.startsWith('npm warn'))
    .join('\n');

/** A process of its own (`npx mcp-elevate example-mcp-server`, a README line) that serves HTTP. */
export interface ExampleProcess {
  /** Its MCP endpoint on the listening address, `http://localhost:<port>/mcp` (for the example). */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `npx mcp-elevate example-mcp-server --port <port>` with `env` (ISSUER, EXAMPLE_RESOURCE…)
 * and waits until it serves its Protected Resource Metadata.
 */
export async function startExampleProcess(
  port: number,
  env: Record<string, string>,
): Promise<ExampleProcess> {
  const started = await startProcess(
    ['npx', 'mcp-elevate', 'example-mcp-server', '--port', String(port)],
    env,
    `http://localhost:${port}/.well-known/oauth-protected-resource/mcp`,
  );
  return { ...started, url: `http://localhost:${port}/mcp` };
}

/**
 * Starts `command` in the repository as a user would in a terminal of its own (`['sh', '-c',
 * line]` for a line of a README), with the user's PATH and `env`, and waits until `readyUrl`
 * answers 2xx. `url` is `readyUrl`.
 * @throws when it exits first, or is not ready within 240 s (with what it printed).
 */
export async function startProcess(
  command: string[],
  env: Record<string, string>,
  readyUrl: string,
): Promise<ExampleProcess> {
  const [file, ...args] = command;
  const child = spawn(file!, args, {
    cwd: REPO,
    env: { PATH: USER_PATH, HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  try {
    await waitUntilReady(readyUrl, child, () => text);
  } catch (error) {
    killGroup(child);
    throw error;
  }
  return { url: readyUrl, output: () => text, stop: () => stopGroup(child) };
}

/**
 * Runs `npx mcp-elevate <args>` in the repository with `env`, as a user would in a second
 * terminal. `stderr` leaves out npm's own warnings: what remains is the command's.
 */
export async function npxMcpElevate(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('npx', ['mcp-elevate', ...args], {
    cwd: REPO,
    env: { ...env, LOG_LEVEL: 'silent' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr: withoutNpmWarnings(stderr) };
}
