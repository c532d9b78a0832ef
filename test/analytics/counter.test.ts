// The statistics counter: visits are counted after they are committed, from the durable queue, exactly
// once, by one counter at a time however many processes run one, in the order a rebuild would count them.
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/lib/db.js'
import { createLogger } from '../../src/lib/logger.js'
import { StatsCounter, takeBatch } from '../../src/modules/analytics/counter.js'
import { rebuildStats, StatNames } from '../../src/modules/analytics/rollup.js'
import { browserOf, openPaylink } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'
import { statsSnapshot } from '../helpers/stats.js'

let ctx: TestContext
let merchant: TestMerchant
let projectId: string
let productId: string

beforeAll(async () => {
  // Many visits from one address: the public path's per-address limit is not what this file tests.
  ctx = await createTestContext({ env: { PUBLIC_RATE_LIMIT: '0' } })
  merchant = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  productId = (await createProduct(ctx.app, merchant, projectId)).id
})

afterAll(() => ctx.close())

const queued = async () =>
  Number((await sql<{ n: string }>`select count(*) as n from stat_queue`.execute(ctx.database.db)).rows[0]?.n)

describe('the statistics counter', () => {
  it('leaves a committed visit queued until it counts it, and as_of says how far counting got', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    const visitedAt = ctx.clock.now()
    await openPaylink(ctx.app, link.id, '', { 'user-agent': browserOf(101) })
    expect(await queued()).toBe(1)
    ctx.clock.advance(30_000)
    // Nothing has counted it yet: the statistics say so.
    expect((await ctx.services.counter.asOf()).getTime()).toBe(visitedAt.getTime())
    expect(await ctx.services.counter.runOnce()).toBe(1)
    expect(await queued()).toBe(0)
    expect((await ctx.services.counter.asOf()).getTime()).toBe(ctx.clock.now().getTime())
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/dashboard/summary`)
    expect(summary.body).toMatchObject({ visits: 1, unique_visitors: 1, orders: 1 })
  })

  it('moves a visitor to their earlier visit when it is counted after a later one, as a rebuild would', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    const visitor = { 'user-agent': browserOf(102) }
    const noon = ctx.clock.now()
    ctx.clock.set(new Date(noon.getTime() + 3 * 3_600_000))
    await openPaylink(ctx.app, link.id, '', visitor)
    await ctx.services.counter.catchUp()
    // An earlier visit of the same visitor that day, committed and counted after the later one (a
    // slow batch, another instance): the first visit is the earlier one.
    ctx.clock.set(noon)
    await openPaylink(ctx.app, link.id, '', visitor)
    await ctx.services.counter.catchUp()
    const visits = await ctx.database.db
      .selectFrom('visits')
      .select(['id', 'visited_at'])
      .where('paylink_id', '=', link.id)
      .orderBy('visited_at')
      .execute()
    const { rows: firsts } = await sql<{ visit_id: string }>`
      select visit_id from stat_visitors where visit_id = any(${visits.map((v) => v.id)}::bigint[])`.execute(
      ctx.database.db,
    )
    expect(visits.map((v) => v.visited_at.toISOString())).toEqual([
      noon.toISOString(),
      new Date(noon.getTime() + 3 * 3_600_000).toISOString(),
    ])
    expect(firsts.map((f) => String(f.visit_id))).toEqual([String(visits[0]?.id)])
    const from = Math.floor(noon.getTime() / 1000)
    const byQuarter = async (start: number) =>
      (
        await api(
          ctx.app,
          merchant,
          'GET',
          `/paylinks/${link.id}/dashboard/summary?period_from=${start}&period_to=${start + 900}`,
        )
      ).body
    expect(await byQuarter(from)).toMatchObject({ visits: 1, unique_visitors: 1 })
    expect(await byQuarter(from + 3 * 3600)).toMatchObject({ visits: 1, unique_visitors: 0 })
    const live = await statsSnapshot(ctx.database.db)
    await ctx.database.db.transaction().execute(rebuildStats)
    expect(await statsSnapshot(ctx.database.db)).toEqual(live)
  })

  it('counts every visit once with two counters taking turns on the queue while visits arrive', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    // A second process's counter: its own pool and its own name cache, on the same database.
    const other = await openDatabaseOn(ctx.databaseUrl)
    const second = new StatsCounter(other.db, new StatNames(), ctx.clock, createLogger('silent'))
    let counting = true
    const loop = async (counter: StatsCounter) => {
      let turns = 0
      while (counting || (await queued()) > 0) {
        const n = await counter.runOnce()
        if (n) turns++
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      return turns
    }
    const counters = [loop(ctx.services.counter), loop(second)]
    const visits = 120
    for (let i = 0; i < visits; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          openPaylink(ctx.app, link.id, '?utm_source=turns', {
            'user-agent': browserOf(110 + ((i + j) % 7)),
          }),
        ),
      )
    }
    counting = false
    const turns = await Promise.all(counters)
    await other.close()
    expect((turns[0] ?? 0) + (turns[1] ?? 0)).toBeGreaterThan(0)
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/dashboard/summary`)
    expect(summary.body).toMatchObject({ visits, unique_visitors: 7, orders: visits })
    const live = await statsSnapshot(ctx.database.db)
    expect(live.queued).toBe(0)
    await ctx.database.db.transaction().execute(rebuildStats)
    expect(await statsSnapshot(ctx.database.db)).toEqual(live)
  })

  it('keeps a batch queued when its counting connection dies mid-transaction, and counts it once later', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    await openPaylink(ctx.app, link.id, '', { 'user-agent': browserOf(103) })
    const blocker = await openDatabaseOn(ctx.databaseUrl)
    const victim = await openDatabaseOn(ctx.databaseUrl)
    const counter = new StatsCounter(victim.db, new StatNames(), ctx.clock, createLogger('silent'))
    const waiting = sql<{ pid: number }>`
      select pid from pg_locks where not granted and relation = 'stat_rollups'::regclass`
    try {
      await blocker.db.transaction().execute(async (tx) => {
        await sql`lock table stat_rollups in exclusive mode`.execute(tx)
        // The counter takes the batch off the queue, marks the first visit, then waits for the rollups.
        const attempt = counter.runOnce()
        attempt.catch(() => {})
        await expect.poll(async () => (await waiting.execute(tx)).rows.length).toBe(1)
        await sql`select pg_terminate_backend(pid) from (${waiting}) as w`.execute(tx)
        await expect(attempt).rejects.toThrow()
      })
    } finally {
      await blocker.close()
      await victim.close()
    }
    expect(await queued()).toBe(1)
    expect(await ctx.services.counter.runOnce()).toBe(1)
    expect(await ctx.services.counter.runOnce()).toBe(0)
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/dashboard/summary`)
    expect(summary.body).toMatchObject({ visits: 1, unique_visitors: 1, orders: 1 })
  })
})

describe('taking a batch off the queue', () => {
  it('reads the queue and the visits by their primary keys, not by a scan of either table', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    // Planned as the counter plans it, on tables of 12,000 visits with 6,000 queued and fresh statistics;
    // the rows are rolled back, so that the other tests see none of them (ANALYZE's page counts stay).
    const plan = await ctx.database.db
      .transaction()
      .execute(async (tx) => {
        await sql`
          insert into visits (paylink_id, project_id, visited_at, visitor_hash)
          select ${link.id}, ${projectId}, now() - i * interval '1 second', md5(i::text)
          from generate_series(1, 12000) as i`.execute(tx)
        await sql`
          insert into stat_queue (visit_id, visited_at)
          select id, visited_at from visits where paylink_id = ${link.id} order by id limit 6000`.execute(tx)
        await sql`analyze visits, stat_queue`.execute(tx)
        const { rows } = await sql<{
          'QUERY PLAN': unknown
        }>`explain (format json) ${takeBatch(5000)}`.execute(tx)
        throw new Rollback(rows[0]?.['QUERY PLAN'])
      })
      .catch((error) => {
        if (error instanceof Rollback) return error.plan
        throw error
      })
    const scans = JSON.stringify(plan).match(/"Node Type":"Seq Scan"[^}]*?"Relation Name":"\w+"/g) ?? []
    expect(scans.filter((scan) => /"(visits|stat_queue)"/.test(scan))).toEqual([])
    expect(JSON.stringify(plan)).toContain('"Index Name":"visits_pkey"')
  })
})

class Rollback extends Error {
  constructor(readonly plan: unknown) {
    super('rolled back')
  }
}

describe('a breakdown read as a day row less the rest of the day', () => {
  it('takes off only what the day row counts, with visits still queued on both sides', async () => {
    const day = Date.parse('2026-07-10T00:00:00Z')
    const hour = 3_600_000
    // Made the day before, so that it lives through the visits (each makes an order).
    ctx.clock.set(new Date(day - hour))
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    const visitAt = async (at: number, n: number) => {
      ctx.clock.set(new Date(at))
      for (let i = 0; i < n; i++) {
        await openPaylink(ctx.app, link.id, '', {
          'user-agent': browserOf(200 + i),
          referer: 'https://a.example/post',
        })
      }
    }
    // The period's start piece is 20 hours of the day (04:00 to midnight): the day row less 00:00-04:00.
    const period = { from: (day + 4 * hour) / 1000, to: (day + 49 * hour) / 1000, timezone: 'UTC' }
    await visitAt(day + 2 * hour, 2) // before the period, on its first day
    await visitAt(day + 10 * hour, 3) // in it
    await visitAt(day + 48.5 * hour, 1) // in its last hour, read raw
    await ctx.services.counter.catchUp()
    const referrer = async () => {
      const rows = await ctx.services.analytics.grouped(
        { kind: 'paylink', id: link.id },
        'referrer',
        period,
        10,
      )
      return rows.map((r) => ({ key: r.key, visits: r.visits, orders: r.orders }))
    }
    expect(await referrer()).toEqual([{ key: 'a.example', visits: 4, orders: 4 }])

    // Queued, not counted yet: one before the period (the day row does not count it, so it is not taken
    // off) and one in it (read from the day row, which does not have it yet: later, as as_of says).
    await visitAt(day + 3 * hour, 1)
    await visitAt(day + 11 * hour, 1)
    expect(await queued()).toBe(2)
    expect(await referrer()).toEqual([{ key: 'a.example', visits: 4, orders: 4 }])
    await ctx.services.counter.catchUp()
    expect(await referrer()).toEqual([{ key: 'a.example', visits: 5, orders: 5 }])
  })
})

/** Another pool on the file's database, as another process would have. */
function openDatabaseOn(url: string) {
  return openDatabase({ databaseUrl: url, poolSize: 2 })
}
