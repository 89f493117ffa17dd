import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests spawn real processes on loopback multicast: keep them in
    // one worker at a time so two transfers never compete for the two cores.
    fileParallelism: false,
  },
});
