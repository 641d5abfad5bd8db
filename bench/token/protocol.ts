/**
 * What a token-endpoint target (a child process serving one authorization server) and the
 * benchmark driver say to each other over the IPC channel of `child_process.fork`.
 */
import { startCpuProfile } from '../lib/cpu-profile.ts';

/** The resource every token is requested for: the example MCP server of scopes.json. */
export const RESOURCE = 'http://localhost:4000/mcp';
export const CLIENT_ID = 'bench-agent';

/** Counters of a target since it started; the driver subtracts two samples. */
export interface Sample {
  /** CPU time of the target process (user + system, all threads), microseconds. */
  cpuMicros: number;
  /** SQL statements sent to the database, by text; empty for targets without one. */
  statements: Array<[sql: string, count: number]>;
}

/** Child → driver. */
export type TargetMessage =
  | { type: 'ready'; url: string; clientId: string; clientSecret: string }
  | ({ type: 'sample' } & Sample)
  | { type: 'profiled' };

/** Driver → child. `profile:stop` writes the CPU profile taken since `profile:start` to `file`. */
export type DriverMessage =
  | { cmd: 'sample' }
  | { cmd: 'profile:start' }
  | { cmd: 'profile:stop'; file: string }
  | { cmd: 'stop' };

/** A started target as the child sees it. */
export interface Target {
  url: string;
  clientSecret: string;
  close(): Promise<void>;
  /** SQL statements run so far, with how often each ran. */
  statements?: () => Array<[string, number]>;
}

/** Child side of the protocol: starts the target, reports readiness, answers until told to stop. */
export async function serveTarget(start: () => Promise<Target>): Promise<void> {
  if (!process.send)
    throw new TypeError(
      'a token-endpoint target must be started by bench/token-endpoint.ts (fork with IPC)',
    );
  const send = (message: TargetMessage) => process.send!(message);
  const target = await start();
  let stopProfile: ((file: string) => Promise<void>) | undefined;
  process.on('message', async (message: DriverMessage) => {
    switch (message.cmd) {
      case 'sample': {
        const { user, system } = process.cpuUsage();
        send({ type: 'sample', cpuMicros: user + system, statements: target.statements?.() ?? [] });
        break;
      }
      case 'profile:start':
        stopProfile = await startCpuProfile();
        break;
      case 'profile:stop': {
        await stopProfile!(message.file);
        send({ type: 'profiled' });
        break;
      }
      case 'stop':
        void target.close().finally(() => process.disconnect());
        break;
    }
  });
  send({ type: 'ready', url: target.url, clientId: CLIENT_ID, clientSecret: target.clientSecret });
}

/** A port free at the time of asking, for issuers that must know their URL before listening. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
