// Webhook delivery across real server processes: a restart between attempts loses nothing, two
// processes on one PostgreSQL deliver each event exactly once, and a receiver that holds its attempt
// open does not hold up the server's other deliveries.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  fetchJson,
  freePort,
  freshDatabaseEnv,
  PROCESS_TIMEOUT,
  type ServerProcess,
  startServer,
} from '../helpers/process.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'

let env: Record<string, string>
let cleanup: () => Promise<void>
const servers: ServerProcess[] = []
let receiver: Receiver | undefined

beforeEach(async () => {
  const fresh = await freshDatabaseEnv()
  env = { ...fresh.env, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }
  cleanup = fresh.cleanup
})
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop()
  await receiver?.close()
  receiver = undefined
  await cleanup()
})

function keyOf(server: ServerProcess): string {
  return /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(server.output())?.[1] as string
}

async function call(server: ServerProcess, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.baseUrl}/admin/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  return res.status === 204 ? undefined : res.json()
}

async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('webhook delivery across processes', { timeout: PROCESS_TIMEOUT }, () => {
  it('delivers after a restart between attempts', async () => {
    const port = await freePort()
    const first = await startServer(env)
    servers.push(first)
    const key = keyOf(first)
    const projects = await call(first, key, 'GET', '/projects')
    const products = await call(first, key, 'GET', `/products?project_id=${projects.projects[0].id}`)
    const hook = await call(first, key, 'POST', '/webhooks', {
      url: `http://127.0.0.1:${port}/hook`,
      events: ['paylink.created'],
    })
    await call(first, key, 'POST', '/paylinks', {
      life_days: 7,
      project_id: projects.projects[0].id,
      products: [products.products[0].id],
    })
    const failed = await until(
      () =>
        fetchJson(`${first.baseUrl}/admin/api/v1/webhooks/${hook.id}/deliveries`, {
          authorization: `Bearer ${key}`,
        }),
      (r) => r.body.deliveries[0]?.attempts === 1,
    )
    expect(failed.body.deliveries[0]).toMatchObject({ status: 'pending', attempts: 1 })
    await servers.pop()?.stop()

    receiver = await startReceiver(port)
    const second = await startServer(env)
    servers.push(second)
    await until(
      async () => receiver?.received.length ?? 0,
      (n) => n > 0,
    )
    expect(receiver.received).toHaveLength(1)
    expect(JSON.parse(receiver.received[0]?.body as string).type).toBe('paylink.created')
    const log = await fetchJson(`${second.baseUrl}/admin/api/v1/webhooks/${hook.id}/deliveries`, {
      authorization: `Bearer ${key}`,
    })
    expect(log.body.deliveries[0]).toMatchObject({ status: 'succeeded', attempts: 2 })
  })

  it('delivers to another endpoint while a receiver holds its attempt open', async () => {
    const slow = await startReceiver()
    slow.script({ status: 200, hang: true })
    try {
      receiver = await startReceiver()
      const server = await startServer(env)
      servers.push(server)
      const key = keyOf(server)
      const project = (await call(server, key, 'GET', '/projects')).projects[0].id
      const product = (await call(server, key, 'GET', `/products?project_id=${project}`)).products[0].id
      const hung = await call(server, key, 'POST', '/webhooks', {
        url: slow.url,
        events: ['paylink.created'],
      })
      await call(server, key, 'POST', '/webhooks', { url: receiver.url, events: ['paylink.deleted'] })
      const link = await call(server, key, 'POST', '/paylinks', {
        life_days: 7,
        project_id: project,
        products: [product],
      })
      await until(
        async () => slow.received.length,
        (n) => n > 0,
      )
      await call(server, key, 'DELETE', `/paylinks/${link.id}`)
      await until(
        async () => receiver?.received.length ?? 0,
        (n) => n > 0,
      )
      expect(JSON.parse(receiver.received[0]?.body as string).type).toBe('paylink.deleted')
      // Delivered while the slow receiver still holds the first attempt open, uncut.
      expect(slow.received).toMatchObject([{ answered: false, cut: false }])

      slow.release()
      const log = await until(
        () =>
          fetchJson(`${server.baseUrl}/admin/api/v1/webhooks/${hung.id}/deliveries`, {
            authorization: `Bearer ${key}`,
          }),
        (r) => r.body.deliveries[0]?.status === 'succeeded',
      )
      expect(log.body.deliveries[0]).toMatchObject({ status: 'succeeded', attempts: 1 })
    } finally {
      slow.release()
      await slow.close()
    }
  })

  it('delivers each event once with two server processes on one PostgreSQL', async () => {
    if (!env.DATABASE_URL) return
    receiver = await startReceiver()
    const a = await startServer(env)
    servers.push(a)
    const b = await startServer(env)
    servers.push(b)
    const key = keyOf(a)
    const project = (await call(a, key, 'GET', '/projects')).projects[0].id
    const product = (await call(a, key, 'GET', `/products?project_id=${project}`)).products[0].id
    await call(a, key, 'POST', '/webhooks', { url: receiver.url, events: ['paylink.created'] })
    for (let i = 0; i < 20; i++) {
      await call(i % 2 ? a : b, key, 'POST', '/paylinks', {
        life_days: 7,
        project_id: project,
        products: [product],
      })
    }
    await until(
      async () => receiver?.received.length ?? 0,
      (n) => n >= 20,
    )
    // A little longer, so that a duplicate delivery would have time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(ids).toHaveLength(20)
    expect(new Set(ids).size).toBe(20)
  })
})
