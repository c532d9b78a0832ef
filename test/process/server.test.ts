import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fetchJson, freshDatabaseEnv, PROCESS_TIMEOUT, runToExit, startServer } from '../helpers/process.js'

let env: Record<string, string>
let cleanup: () => Promise<void>
beforeEach(async () => {
  ;({ env, cleanup } = await freshDatabaseEnv())
})
afterEach(() => cleanup())

describe('server first start', { timeout: PROCESS_TIMEOUT }, () => {
  it('creates demo data, prints a working key, curl commands and the demo paylink, and closes on SIGTERM', async () => {
    const server = await startServer({ ...env, LOG_LEVEL: 'info' })
    try {
      const out = server.output()
      const key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(out)?.[1]
      expect(key).toBeDefined()
      expect(out).toContain(
        `curl -H "Authorization: Bearer ${key}" http://localhost:${server.port}/admin/api/v1/projects`,
      )
      const paylinkUrl = /Demo paylink.*\n\s+(\S+)/.exec(out)?.[1] as string
      expect(paylinkUrl).toMatch(new RegExp(`^http://localhost:${server.port}/paylink/[0-9a-f]{32}\\?utm_`))

      const headers = { authorization: `Bearer ${key}` }
      const { body: projects } = await fetchJson(`${server.baseUrl}/admin/api/v1/projects`, headers)
      expect(projects.total).toBe(1)
      expect(projects.projects[0].name).toBe('Demo Store')
      const projectId = projects.projects[0].id
      const { body: products } = await fetchJson(
        `${server.baseUrl}/admin/api/v1/products?project_id=${projectId}`,
        headers,
      )
      const currencies = new Set(
        products.products.flatMap((p: { prices: { currency: string }[] }) => p.prices.map((x) => x.currency)),
      )
      expect(currencies.size).toBeGreaterThanOrEqual(2)
      const paylinkId = new URL(paylinkUrl).pathname.split('/').pop()
      const paylink = await fetch(`${server.baseUrl}/admin/api/v1/paylinks/${paylinkId}`, { headers })
      expect(paylink.status).toBe(200)
      expect(server.child.exitCode).toBeNull()
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0)
    }
    expect(server.output()).toContain('closing')

    // A second start on the same database keeps the data and prints no new key.
    const again = await startServer(env)
    try {
      expect(again.output()).not.toContain('API key')
    } finally {
      await again.stop('SIGINT')
    }
  })

  it('refuses a second process on the same embedded data directory', async () => {
    if (env.DATABASE_URL) return
    const server = await startServer(env)
    try {
      const second = await runToExit(['src/server.ts'], { ...env, PORT: String(server.port + 1) })
      expect(second.code).toBe(1)
      expect(second.stderr).toContain('is in use by another paylinks process')
      const ready = await fetch(`${server.baseUrl}/readyz`)
      expect(ready.status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it('exits 1 with the reason on an invalid configuration', async () => {
    const res = await runToExit(['src/server.ts'], { ...env, PUBLIC_URL: 'not a url', LOG_LEVEL: 'chatty' })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('PUBLIC_URL="not a url": must be an absolute http:// or https:// URL')
    expect(res.stderr).toContain('LOG_LEVEL="chatty"')
  })
})
