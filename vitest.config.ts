import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each test file gets a fresh worker: files start servers and register global providers.
    isolate: true,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
