import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // expect.poll waits for a condition; its default deadline (1 s) is a race on a busy machine.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
