import { fork } from 'node:child_process';
import { once } from 'node:events';
import { decodeProtectedHeader } from 'jose';
import { RESOURCE, type DriverMessage, type Sample, type TargetMessage } from './protocol.ts';

/** A token-endpoint target running in a child process, as the driver sees it. */
export interface RunningTarget {
  label: string;
  /** The token request, ready for autocannon. */
  request: { url: string; method: 'POST'; headers: Record<string, string>; body: string };
  /** The target's CPU time and SQL statement counts so far. */
  sample(): Promise<Sample>;
  /** Starts the CPU profiler of the target process. */
  profileStart(): void;
  /** Stops it and writes the profile (V8 `.cpuprofile` JSON) to `file`. */
  profileStop(file: string): Promise<void>;
  /** Asks the child to close and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Forks `script` (relative to this folder), waits for `ready`, and checks one real token request:
 * the benchmark means nothing unless the target answers 200 with an ES256 `at+jwt`.
 */
export async function startTarget(
  label: string,
  script: string,
  env: Record<string, string>,
): Promise<RunningTarget> {
  const child = fork(new URL(script, import.meta.url), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends TargetMessage['type']>(type: T) =>
    new Promise<Extract<TargetMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: TargetMessage) => {
        if (m.type !== type) return;
        child.off('message', onMessage).off('exit', onExit);
        resolve(m as Extract<TargetMessage, { type: T }>);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`${label}: ${script} exited (code ${code}) before sending "${type}"`));
      child.on('message', onMessage).once('exit', onExit);
    });

  try {
    const { url, clientId, clientSecret } = await next('ready');
    const request = {
      url: `${url}/token`,
      method: 'POST' as const,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: RESOURCE,
      }).toString(),
    };
    const res = await fetch(request.url, request);
    const json = (await res.json()) as { access_token?: string };
    if (res.status !== 200 || !json.access_token)
      throw new Error(`${label}: token request answered ${res.status} ${JSON.stringify(json)}`);
    const header = decodeProtectedHeader(json.access_token);
    if (header.alg !== 'ES256' || header.typ !== 'at+jwt')
      throw new Error(`${label}: expected an ES256 at+jwt, got ${JSON.stringify(header)}`);

    return {
      label,
      request,
      async sample() {
        const answer = next('sample');
        child.send({ cmd: 'sample' } satisfies DriverMessage);
        const { cpuMicros, statements } = await answer;
        return { cpuMicros, statements };
      },
      profileStart: () => child.send({ cmd: 'profile:start' } satisfies DriverMessage),
      async profileStop(file) {
        const done = next('profiled');
        child.send({ cmd: 'profile:stop', file } satisfies DriverMessage);
        await done;
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.send({ cmd: 'stop' } satisfies DriverMessage);
        // A target that does not wind down must not keep the benchmark (or the scratch database) alive.
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      },
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}
