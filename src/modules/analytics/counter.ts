// Counts visits into the statistics rollups after they are committed, from the durable queue the public
// path writes (stat_queue). One transaction takes a batch off the queue, finds visitors' first visits and
// adds everything to the rollups: it commits all of it or nothing, so every visit is counted exactly once
// whatever crashes. One counter runs at a time across all processes (an advisory lock), so first visits
// are decided in one order and the counts equal what `stats rebuild` computes from the raw visits.
import { type RawBuilder, sql } from 'kysely'
import type { Db, Tx } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { Clock } from '../../lib/time.js'
import { RollupBatch, type StatNames } from './rollup.js'

/** The advisory lock of the counter (any fixed number; pg_locks shows it as objid 0x5374_6174). */
const COUNTER_LOCK = 0x5374_6174

export interface CounterOptions {
  /** Visits counted in one transaction at most. */
  batch?: number
  /** How often the queue is looked at: the statistics lag by about this much. */
  intervalMs?: number
}

/** Visits of a batch added up by rollup keys ('sum'), or a visitor's earliest visit in it ('first'). */
interface BatchRow {
  kind: 'sum' | 'first'
  id: string
  paylink_id: string
  project_id: string
  /** The quarter's start for a sum, the visit's time for a first visit. */
  visited_at: Date
  visitor_hash: string
  country: string | null
  referrer_host: string | null
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
  visits: number
  orders: number
}

interface FirstVisit {
  id: string
  paylink_id: string
  project_id: string
  visited_at: Date
  visitor_hash: string
}

export class StatsCounter {
  private readonly batch: number
  private readonly intervalMs: number
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> = Promise.resolve()
  private stopped = true

  constructor(
    private readonly db: Db,
    private readonly names: StatNames,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: CounterOptions = {},
  ) {
    this.batch = options.batch ?? 5_000
    this.intervalMs = options.intervalMs ?? 1_000
  }

  /** Counts on a timer until the returned function is called; that one waits for a batch under way. */
  start(): () => Promise<void> {
    this.stopped = false
    const schedule = (delayMs: number) => {
      this.timer = setTimeout(tick, delayMs)
      this.timer.unref()
    }
    const tick = async () => {
      const run = this.runOnce().catch((err) => {
        this.logger.error({ err }, 'counting statistics failed; the visits stay queued')
        return 0
      })
      this.running = run
      const counted = await run
      // A full batch means more is waiting: go on at once.
      if (!this.stopped) schedule(counted === this.batch ? 0 : this.intervalMs)
    }
    schedule(0)
    return async () => {
      this.stopped = true
      if (this.timer) clearTimeout(this.timer)
      await this.running
    }
  }

  /**
   * Counts one batch of queued visits. Answers how many, or undefined when another process is counting
   * (it holds the lock, and the batch is its to count).
   */
  async runOnce(): Promise<number | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const { rows: lock } = await sql<{ ok: boolean }>`
        select pg_try_advisory_xact_lock(${COUNTER_LOCK}) as ok`.execute(tx)
      if (!lock[0]?.ok) return undefined
      const { rows } = await takeBatch(this.batch).execute(tx)
      const batch = new RollupBatch()
      let counted = 0
      const firsts: FirstVisit[] = []
      for (const row of rows) {
        if (row.kind === 'first') {
          firsts.push(row as FirstVisit)
          continue
        }
        counted += row.visits
        batch.add({
          ...row,
          paylinkId: row.paylink_id,
          projectId: row.project_id,
          at: row.visited_at,
          counters: { visits: row.visits, orders: row.orders },
        })
      }
      if (counted === 0) return 0
      await this.countFirstVisits(tx, firsts, batch)
      await batch.write(tx, this.names)
      return counted
    })
  }
  /**
   * Finds each visitor's first visit of a link and UTC day and counts the visitor there. A visit can be
   * counted after a later one of the same visitor (ids and commits do not follow time exactly): then
   * the visitor moves to the earlier visit, as a rebuild from the raw visits would have it.
   */
  private async countFirstVisits(tx: Tx, list: FirstVisit[], batch: RollupBatch): Promise<void> {
    const visitorDay = (v: FirstVisit) => `${v.paylink_id}/${dayOf(v.visited_at)}/${v.visitor_hash}`
    const ids = await this.names.resolve(
      tx,
      list.map((v) => v.paylink_id),
    )
    const owners = list.map((v) => ids.get(v.paylink_id) as number)
    const days = list.map((v) => dayOf(v.visited_at))
    const hashes = list.map((v) => v.visitor_hash)
    const { rows: counted } = await sql<FirstVisit>`
      select v.id, v.paylink_id, v.project_id, v.visited_at, v.visitor_hash
      from unnest(${owners}::integer[], ${days}::integer[], ${hashes}::text[]) as c (owner, day, visitor_hash)
      join stat_visitors s on s.owner = c.owner and s.day = c.day and s.hash = md5(c.visitor_hash)::uuid
      join visits v on v.id = s.visit_id`.execute(tx)
    const firsts = new Map(counted.map((v) => [visitorDay(v), v]))
    const chosen: number[] = []
    const visitor = (v: FirstVisit, n: number) =>
      batch.add({
        paylinkId: v.paylink_id,
        projectId: v.project_id,
        at: v.visited_at,
        country: null,
        referrer_host: null,
        utm_source: null,
        utm_medium: null,
        utm_campaign: null,
        counters: { visitors: n },
      })
    for (const [i, candidate] of list.entries()) {
      const first = firsts.get(visitorDay(candidate))
      if (first && !earlier(candidate, first)) continue
      if (first) visitor(first, -1)
      visitor(candidate, 1)
      chosen.push(i)
    }
    if (chosen.length === 0) return
    const pick = <T>(values: T[]) => chosen.map((i) => values[i] as T)
    await sql`
      insert into stat_visitors (owner, day, hash, visit_id)
      select owner, day, md5(visitor_hash)::uuid, visit_id
      from unnest(${pick(owners)}::integer[], ${pick(days)}::integer[], ${pick(hashes)}::text[],
                  ${pick(list.map((v) => v.id))}::bigint[]) as c (owner, day, visitor_hash, visit_id)
      order by 1, 2, 3
      on conflict (owner, day, hash) do update set visit_id = excluded.visit_id`.execute(tx)
  }

  /**
   * Counts what was queued when called, so that a dashboard shows what its reader has just done; gives
   * up at the deadline (the answer's `as_of` then says what is counted).
   */
  async catchUp(deadlineMs = 2_000): Promise<void> {
    const { rows } = await sql<{ last: string | null }>`select max(visit_id) as last from stat_queue`.execute(
      this.db,
    )
    const last = rows[0]?.last
    if (last == null) return
    const until = Date.now() + deadlineMs
    while (Date.now() < until) {
      const { rows: next } = await sql<{ first: string | null }>`
        select min(visit_id) as first from stat_queue`.execute(this.db)
      const first = next[0]?.first
      if (first == null || BigInt(first) > BigInt(last)) return
      const counted = await this.runOnce()
      if (counted === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Every visit before this instant is counted: the oldest visit still queued, or now. */
  async asOf(): Promise<Date> {
    const oldest = await this.db
      .selectFrom('stat_queue')
      .select('visited_at')
      .orderBy('visit_id')
      .limit(1)
      .executeTakeFirst()
    const now = this.clock.now()
    return oldest && oldest.visited_at < now ? oldest.visited_at : now
  }
}

/**
 * Takes up to `limit` visits off the queue, oldest first, and answers them twice: added up by what the
 * rollups tell apart (link, quarter, keys), and as each visitor's earliest visit of a link and UTC day.
 * Both the queue and the visits are read by their primary keys (`= any(array(…))`): a join let
 * PostgreSQL hash the whole visits table for every batch while its statistics were young, and a backlog
 * of queued visits would be scanned whole for each batch taken off it.
 */
export function takeBatch(limit: number): RawBuilder<BatchRow> {
  return sql<BatchRow>`
    with taken as (
      delete from stat_queue
      where visit_id = any(array(select visit_id from stat_queue order by visit_id limit ${limit}))
      returning visit_id
    ),
    v as (select v.* from visits v where v.id = any(array(select visit_id from taken)))
    select 'sum' as kind, null as id, paylink_id, project_id,
           to_timestamp(floor(extract(epoch from visited_at) / 900) * 900) as visited_at, null as visitor_hash,
           country, referrer_host, utm_source, utm_medium, utm_campaign,
           count(*)::integer as visits, count(order_id)::integer as orders
    from v
    group by paylink_id, project_id, floor(extract(epoch from visited_at) / 900), country, referrer_host,
             utm_source, utm_medium, utm_campaign
    union all
    select * from (
      select distinct on (paylink_id, floor(extract(epoch from visited_at) / 86400), visitor_hash)
             'first', id, paylink_id, project_id, visited_at, visitor_hash, null, null, null, null, null, 0, 0
      from v
      order by paylink_id, floor(extract(epoch from visited_at) / 86400), visitor_hash, visited_at, id
    ) as firsts`
}

/** The UTC day of an instant, in days since 1970-01-01. */
function dayOf(at: Date): number {
  return Math.floor(at.getTime() / 86_400_000)
}

function earlier(a: FirstVisit, b: FirstVisit): boolean {
  const at = a.visited_at.getTime() - b.visited_at.getTime()
  return at < 0 || (at === 0 && BigInt(a.id) < BigInt(b.id))
}
