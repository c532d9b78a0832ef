import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // expect.poll waits for a condition; its default deadline (1 s) is a race on a busy machine.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
})
