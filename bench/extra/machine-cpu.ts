import { readFile } from 'node:fs/promises';

/**
 * CPU time the whole machine has spent busy (all CPUs; user, nice, system, irq, softirq, steal),
 * in microseconds, from /proc/stat; undefined where /proc/stat cannot be read. Compared with the
 * CPU of the benchmark's own processes over the same stretch, it tells whether other work was
 * competing for the CPU.
 */
export async function machineBusyMicros(): Promise<number | undefined> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0];
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user, nice, system, , , irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // USER_HZ is 100 on every Linux ABI that matters here.
    return ((user + nice + system + irq + softirq + (steal || 0)) / 100) * 1e6;
  } catch {
    return undefined;
  }
}
