// Several instances may start together on one PostgreSQL: the migrations run under a database lock, so
// each is applied once and every instance comes up.
import pg from 'pg'
import { afterEach, beforeEach, expect, it } from 'vitest'
import {
  fetchJson,
  freshDatabaseEnv,
  PROCESS_TIMEOUT,
  type ServerProcess,
  startServer,
} from '../helpers/process.js'

let env: Record<string, string>
let cleanup: () => Promise<void>
const servers: ServerProcess[] = []

beforeEach(async () => {
  ;({ env, cleanup } = await freshDatabaseEnv())
})
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop()
  await cleanup()
})

it('applies each migration once when two servers start at the same time on an empty database', {
  timeout: PROCESS_TIMEOUT,
}, async () => {
  const started = await Promise.allSettled([startServer(env), startServer(env)])
  for (const result of started) if (result.status === 'fulfilled') servers.push(result.value)
  expect(started.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
  for (const server of servers) expect((await fetchJson(`${server.baseUrl}/readyz`)).status).toBe(200)

  const client = new pg.Client({ connectionString: env.DATABASE_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string; times: number }>(
      'select name, count(*)::int as times from kysely_migration group by name order by name',
    )
    expect(rows.length).toBeGreaterThanOrEqual(7)
    expect(rows.filter((r) => r.times !== 1)).toEqual([])
    // One of the two seeded the demo data, the other found it there.
    const merchants = await client.query('select count(*)::int as n from merchants')
    expect(merchants.rows[0].n).toBe(1)
  } finally {
    await client.end()
  }
})
