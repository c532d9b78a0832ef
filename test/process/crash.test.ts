// The crash rule of the public path: a 302 is sent only after its visit and order are committed, so
// killing the server mid-load loses no acknowledged visit or order.

import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { type Database, openDatabase } from '../../src/lib/db.js'
import { BROWSER_UA } from '../helpers/buyer.js'
import { freshDatabaseEnv, PROCESS_TIMEOUT, type ServerProcess, startServer } from '../helpers/process.js'

const ACKNOWLEDGED_BEFORE_KILL = 100

let env: Record<string, string>
let cleanup: () => Promise<void>
let server: ServerProcess | undefined

beforeEach(async () => {
  const fresh = await freshDatabaseEnv()
  env = { ...fresh.env, PUBLIC_RATE_LIMIT: '0' }
  cleanup = fresh.cleanup
})
afterEach(async () => {
  await server?.stop('SIGKILL')
  await cleanup()
})

/** Opens the database the killed server used; the embedded one once its lock has gone stale. */
async function reopen(): Promise<Database> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      return await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.PAYLINKS_DATA_DIR as string })
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

it('keeps every acknowledged visit and order when the server is killed mid-load', {
  timeout: PROCESS_TIMEOUT,
}, async () => {
  server = await startServer(env)
  const url = /Demo paylink.*\n\s+(\S+)/.exec(server.output())?.[1] as string
  const target = url.replace(/^http:\/\/localhost:/, 'http://127.0.0.1:')
  const acknowledged: string[] = []
  let stop = false
  const worker = async () => {
    while (!stop) {
      try {
        const res = await fetch(target, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } })
        const order = /\/pay\/(ord_[0-9a-f]{24})/.exec(res.headers.get('location') ?? '')?.[1]
        if (res.status === 302 && order) acknowledged.push(order)
      } catch {
        // The server is gone: requests in flight are not acknowledged.
        return
      }
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  // Killed mid-load once enough has been acknowledged, however long that takes on a busy machine; the 16
  // workers still have requests in flight then.
  await vi.waitUntil(() => acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL, { timeout: 60_000, interval: 5 })
  server.child.kill('SIGKILL')
  await server.exited
  stop = true
  await Promise.all(workers)
  server = undefined
  expect(acknowledged.length).toBeGreaterThanOrEqual(ACKNOWLEDGED_BEFORE_KILL)

  const database = await reopen()
  try {
    const stored = new Set(
      (await database.db.selectFrom('orders').select('id').where('id', 'in', acknowledged).execute()).map(
        (r) => r.id,
      ),
    )
    const visited = new Set(
      (
        await database.db
          .selectFrom('visits')
          .select('order_id')
          .where('order_id', 'in', acknowledged)
          .execute()
      ).map((r) => r.order_id),
    )
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
    expect(acknowledged.filter((id) => !visited.has(id))).toEqual([])
  } finally {
    await database.close()
  }
})
