/**
 * `npm run bench`: every benchmark, one after the other, each in its own process so that one
 * does not leave a warm (or fragmented) heap to the next. Stops at the first that fails.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benchmarks = ['token-endpoint.ts', 'verifier.ts'];

for (const file of benchmarks) {
  console.log(`\n=== bench/${file} ===\n`);
  const { status, signal } = spawnSync(
    process.execPath,
    [fileURLToPath(new URL(file, import.meta.url))],
    { stdio: 'inherit' },
  );
  if (status !== 0) {
    console.error(`bench/${file} failed (${signal ?? `exit code ${status}`})`);
    process.exit(1);
  }
}
