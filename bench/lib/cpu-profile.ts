import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of a V8 CPU profile, in milliseconds, grouped two ways; idle time left out. */
export interface ProfileSummary {
  totalMs: number;
  /** By owner: an npm package, a Node.js internal module, a folder of `src/`, or a V8 bucket such as `(garbage collector)`. */
  byOwner: Map<string, number>;
  /** By function, labelled `name (owner:line)`. */
  byFunction: Map<string, number>;
}

function owner(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  const src = /\/(src|bench)\/(.*)$/.exec(url);
  return src ? `${src[1]}/${src[2].split('/')[0]}` : url;
}

/** Reads a profile and sums each sample's time onto the function that was running. */
export async function summariseProfile(file: string): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const { functionName, url, lineNumber } = node.callFrame;
    const who = owner(url, functionName);
    totalMs += ms;
    byOwner.set(who, (byOwner.get(who) ?? 0) + ms);
    const fn = url
      ? `${functionName || '(anonymous)'} (${who}:${lineNumber + 1})`
      : who === functionName
        ? who
        : `${functionName} ${who}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  });
  return { totalMs, byOwner, byFunction };
}

/**
 * Lines comparing two profiles per unit of work (e.g. per request): for each key, microseconds
 * per unit in `a` and in `b` and the difference, the largest differences first.
 */
export function compareProfiles(
  a: Map<string, number>,
  aUnits: number,
  b: Map<string, number>,
  bUnits: number,
  top: number,
): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const rows = [...keys].map((key) => {
    const x = ((a.get(key) ?? 0) * 1000) / aUnits;
    const y = ((b.get(key) ?? 0) * 1000) / bUnits;
    return { key, x, y, d: x - y };
  });
  rows.sort((r, s) => s.d - r.d);
  return rows
    .slice(0, top)
    .map(
      (r) =>
        `${r.x.toFixed(1).padStart(8)}${r.y.toFixed(1).padStart(8)}${(r.d >= 0 ? '+' : '') + r.d.toFixed(1)}`.padEnd(
          28,
        ) + `  ${r.key}`,
    );
}

/**
 * Starts the V8 CPU profiler in this process; the returned function stops it and writes the
 * `.cpuprofile` to `file`. Used by the benchmark servers on their parent's command.
 */
export async function startCpuProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
  };
}

/**
 * The report of two profiles side by side, per unit of work (e.g. per request): self time in
 * µs per unit of each and their difference, by owner then by function, largest differences first.
 * @param a `[file, units]` of the first profile; `b` likewise.
 */
export async function compareProfileFiles(
  a: [file: string, units: number],
  b: [file: string, units: number],
): Promise<string[]> {
  const [x, y] = await Promise.all([summariseProfile(a[0]), summariseProfile(b[0])]);
  return [
    `\nCPU profiles of the measured runs (${a[0]}, ${b[0]}; profiling slows both, so ignore this run's req/s)`,
    'self time µs per unit: first, second, difference; by owner',
    ...compareProfiles(x.byOwner, a[1], y.byOwner, b[1], 15),
    'by function',
    ...compareProfiles(x.byFunction, a[1], y.byFunction, b[1], 40),
  ];
}
