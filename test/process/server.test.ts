import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  fetchJson,
  freePort,
  freshDatabaseEnv,
  PROCESS_TIMEOUT,
  runToExit,
  startServer,
} from '../helpers/process.js'

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
      const merchantId = /another one later: npx paylinks key create --merchant ([0-9a-f]{24})\n/.exec(
        out,
      )?.[1]
      const paylinkUrl = /Demo paylink.*\n\s+(\S+)/.exec(out)?.[1] as string
      expect(paylinkUrl).toMatch(new RegExp(`^http://localhost:${server.port}/paylink/[0-9a-f]{32}\\?utm_`))

      const headers = { authorization: `Bearer ${key}` }
      expect((await fetchJson(`${server.baseUrl}/admin/api/v1/merchant`, headers)).body.id).toBe(merchantId)
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

/** Holds a port on 127.0.0.1, as another program would. */
async function occupyPort(): Promise<{ port: number; release(): Promise<void> }> {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const address = blocker.address() as net.AddressInfo
  return { port: address.port, release: () => new Promise((resolve) => blocker.close(() => resolve())) }
}

describe('server start that cannot listen', { timeout: PROCESS_TIMEOUT }, () => {
  it('says in one line that the port is taken, exits 1, and keeps the first start’s credentials for the next start', async () => {
    const taken = await occupyPort()
    try {
      const res = await runToExit(['src/server.ts'], { ...env, PORT: String(taken.port) })
      expect(res.code).toBe(1)
      expect(res.stderr).toBe(
        `paylinks: cannot listen on 127.0.0.1:${taken.port}: the port is in use by another program; stop it or set PORT to a free port\n`,
      )
      expect(res.stdout).toBe('')
    } finally {
      await taken.release()
    }
    // Nothing was seeded: the next start is still the first one, with a key and a password that work.
    const server = await startServer(env)
    try {
      const out = server.output()
      const key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(out)?.[1]
      expect(key).toBeDefined()
      expect(out).toMatch(/sign in as demo@example\.com with the password \S{20}/)
      const me = await fetchJson(`${server.baseUrl}/admin/api/v1/merchant`, {
        authorization: `Bearer ${key}`,
      })
      expect(me).toMatchObject({ status: 200, body: { name: 'Demo Merchant' } })
    } finally {
      await server.stop()
    }
  })

  it('says in one line that HOST is not an address of this machine, and exits 1', async () => {
    // 203.0.113.0/24 is reserved for documentation (RFC 5737): no machine has it.
    const res = await runToExit(['src/server.ts'], { ...env, HOST: '203.0.113.7', PORT: '3000' })
    expect(res.code).toBe(1)
    expect(res.stderr).toBe(
      'paylinks: cannot listen on 203.0.113.7:3000: HOST=203.0.113.7 is not an address of this machine; set HOST (127.0.0.1, or 0.0.0.0 for every interface)\n',
    )
  })
})

const SCRIPT = '/usr/bin/script'
const ROOT = path.resolve(import.meta.dirname, '../..')

/** Runs the server on a pseudo-terminal (util-linux `script`), as a person starting it in a shell does. */
function startOnTerminal(extra: Record<string, string>) {
  const base = { ...process.env }
  delete base.DATABASE_URL
  const command = `${JSON.stringify(process.execPath)} --import tsx src/server.ts`
  const child = spawn(SCRIPT, ['-qfec', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...base, LOG_LEVEL: 'info', ...env, ...extra },
  })
  let raw = ''
  child.stdout.on('data', (d) => {
    raw += d
  })
  child.stderr.on('data', (d) => {
    raw += d
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the colours of a terminal are escape sequences.
  const text = () => raw.replace(/\x1b\[[0-9;]*m/g, '').replaceAll('\r\n', '\n')
  return {
    text,
    exited,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

describe.skipIf(!existsSync(SCRIPT))('server on a terminal', { timeout: PROCESS_TIMEOUT }, () => {
  it('prints the banner after the start-up logs and keeps each request’s lines out of it at info', async () => {
    const port = await freePort()
    const server = startOnTerminal({ PORT: String(port) })
    try {
      await expect.poll(server.text, { timeout: 60_000, interval: 100 }).toContain('Try:')
      const before = server.text()
      const listening = before.indexOf('Server listening at')
      const banner = before.indexOf('paylinks is listening on')
      expect(listening).toBeGreaterThan(-1)
      expect(banner).toBeGreaterThan(listening)
      // The banner is the last thing printed at start-up: its curl lines end the output.
      expect(before.trimEnd().split('\n').at(-1)).toMatch(/^ {2}curl .*\/url\?utm_source=newsletter/)

      const base = `http://127.0.0.1:${port}`
      for (const url of ['/healthz', '/assets/base.css', '/dashboard/login']) {
        expect((await fetch(`${base}${url}`)).status).toBe(200)
      }
      // A rejected request is still told (at info); once its line is there, the lines of the requests
      // before it would be too, as the terminal's log is written in order.
      expect((await fetch(`${base}/no-such-page`)).status).toBe(404)
      await expect.poll(server.text, { timeout: 10_000, interval: 100 }).toContain('route_not_found')
      const after = server.text().slice(before.length)
      expect(after).not.toContain('incoming request')
      expect(after).not.toContain('request completed')
    } finally {
      await server.stop()
    }
  })
})
