import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start their own redis-server processes; two cores do not
    // benefit from more than two workers.
    maxWorkers: 2,
  },
});
