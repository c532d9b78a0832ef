// The app in this process with a movable clock, listening on loopback for real HTTP clients and browsers.
import { createTestContext, type TestContext } from './context.js'
import { freePort } from './process.js'

export interface LiveApp extends TestContext {
  baseUrl: string
}

export async function startLiveApp(env: Record<string, string> = {}): Promise<LiveApp> {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const ctx = await createTestContext({
    env: { PUBLIC_URL: baseUrl, PUBLIC_RATE_LIMIT: '0', ...env },
    start: new Date(),
  })
  await ctx.app.listen({ port, host: '127.0.0.1' })
  return { ...ctx, baseUrl }
}
