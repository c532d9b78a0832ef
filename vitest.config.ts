import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // expect.poll waits for a condition; its default deadline (1 s) is a race on a busy machine.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // Most of a file's time is spent waiting on PostgreSQL or on server processes, so three files share
    // the two cores of this machine well (vitest's default is one file at a time on two cores).
    maxWorkers: 3,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
})
