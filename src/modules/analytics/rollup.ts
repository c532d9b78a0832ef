// The statistics rollups (migrations/0014_stats_compact.sql): which rows a visit, an order, a payment or
// a refund adds to, and how those rows are written. Visits are counted by the counter (counter.ts) from
// the durable queue; payments and refunds in the transaction that records them.
import { sql } from 'kysely'
import type { Executor, Tx } from '../../lib/db.js'
import type { StatDim } from '../../lib/schema.js'

export const QUARTER_MS = 15 * 60 * 1000
export const HOUR_MS = 60 * 60 * 1000
/** Quarters of an hour in a UTC day: the grain of a day row. */
export const DAY = 96
/** A project's paylink rows cover 1, 2, 4, … 64 days: any period is a few of them per paylink. */
export const PAYLINK_GRAINS = [64, 32, 16, 8, 4, 2, 1].map((days) => days * DAY)

/**
 * The grains kept for each dimension, coarsest first. Every grain divides the coarser ones, so a period
 * is covered by whole buckets of the coarsest grain that fits, then finer ones at its ends.
 */
export const GRAINS: Record<StatDim, number[]> = {
  a: [DAY, 1],
  c: [DAY],
  r: [DAY],
  u: [DAY],
  p: PAYLINK_GRAINS,
}

/** Separates the three UTM tags in the key of the `u` dimension; visits strip it from tag values. */
export const UTM_SEPARATOR = '\u001f'

/** The attribution of a visit or an order: where the buyer came from. */
export interface Attribution {
  country: string | null
  referrer_host: string | null
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
}

export function utmKey(a: Pick<Attribution, 'utm_source' | 'utm_medium' | 'utm_campaign'>): string {
  return [a.utm_source ?? '', a.utm_medium ?? '', a.utm_campaign ?? ''].join(UTM_SEPARATOR)
}

/** The quarter of an hour (since 1970-01-01 UTC) an instant falls in. */
export function quarterOf(at: Date): number {
  return Math.floor(at.getTime() / QUARTER_MS)
}

/** Code-unit order of strings, the same on every machine and in PostgreSQL's C collation. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The numbers of the names rollups refer to, cached: a name's number never changes once given. One per
 * database (a process may reach several, as the tests do).
 */
export class StatNames {
  private readonly ids = new Map<string, number>([['', 0]])
  private static readonly MAX_CACHED = 200_000

  /**
   * The numbers of the names, giving new ones to names seen for the first time. The answer holds every
   * name asked for, whatever another call does to the cache meanwhile.
   */
  async resolve(db: Executor, names: Iterable<string>): Promise<Map<string, number>> {
    const found = new Map<string, number>()
    const missing: string[] = []
    for (const name of new Set(names)) {
      const id = this.ids.get(name)
      if (id === undefined) missing.push(name)
      else found.set(name, id)
    }
    if (missing.length > 0) {
      missing.sort(cmp)
      // Sorted, so two writers adding the same new names lock them in the same order.
      await sql`insert into stat_names (name) select unnest(${missing}::text[]) order by 1
                on conflict (name) do nothing`.execute(db)
      const rows = await db
        .selectFrom('stat_names')
        .select(['id', 'name'])
        .where('name', 'in', missing)
        .execute()
      if (this.ids.size + rows.length > StatNames.MAX_CACHED) {
        this.ids.clear()
        this.ids.set('', 0)
      }
      for (const row of rows) {
        this.ids.set(row.name, row.id)
        found.set(row.name, row.id)
      }
    }
    return found
  }
}

interface Counters {
  visits: number
  visitors: number
  orders: number
  paid_orders: number
  revenue: number
  refunded: number
}

const COUNTERS = ['visits', 'visitors', 'orders', 'paid_orders', 'revenue', 'refunded'] as const

export interface Fact extends Attribution {
  paylinkId: string
  projectId: string
  at: Date
  /** Visits, visitors and order counts; revenue and refunds go to the row of `currency`. */
  counters: Partial<Counters>
  currency?: string
}

interface Row {
  owner: string
  dim: StatDim
  grain: number
  bucket: number
  key: string
  cur: string
  counters: Counters
}

/** Adds facts up per rollup row, then writes them in one statement per few thousand rows. */
export class RollupBatch {
  private readonly rows = new Map<string, Row>()

  get size(): number {
    return this.rows.size
  }

  add(fact: Fact): void {
    const { revenue = 0, refunded = 0, ...counts } = fact.counters
    const quarter = quarterOf(fact.at)
    const keys: Record<Exclude<StatDim, 'p'>, string> = {
      a: '',
      c: fact.country ?? '',
      r: fact.referrer_host ?? '',
      u: utmKey(fact),
    }
    const add = (owner: string, dim: StatDim, key: string) => {
      for (const grain of GRAINS[dim]) {
        const bucket = quarter - (quarter % grain)
        // Unique visitors are shown for a link or project as a whole and per day, not per key.
        const rowCounts = dim === 'a' ? counts : { ...counts, visitors: 0 }
        if (Object.values(rowCounts).some((n) => n !== 0)) {
          this.addTo({ owner, dim, grain, bucket, key, cur: '' }, rowCounts)
        }
        if ((revenue !== 0 || refunded !== 0) && fact.currency) {
          this.addTo({ owner, dim, grain, bucket, key, cur: fact.currency }, { revenue, refunded })
        }
      }
    }
    for (const owner of [fact.paylinkId, fact.projectId]) {
      for (const dim of ['a', 'c', 'r', 'u'] as const) add(owner, dim, keys[dim])
    }
    add(fact.projectId, 'p', fact.paylinkId)
  }

  private addTo(id: Omit<Row, 'counters'>, counts: Partial<Counters>): void {
    const mapKey = `${id.owner}\u0000${id.dim}\u0000${id.grain}\u0000${id.bucket}\u0000${id.key}\u0000${id.cur}`
    let row = this.rows.get(mapKey)
    if (!row) {
      row = {
        ...id,
        counters: { visits: 0, visitors: 0, orders: 0, paid_orders: 0, revenue: 0, refunded: 0 },
      }
      this.rows.set(mapKey, row)
    }
    for (const name of COUNTERS) row.counters[name] += counts[name] ?? 0
  }

  /**
   * Upserts the rows sorted by the primary key, so that concurrent writers lock shared rows in the same
   * order and cannot deadlock. The columns travel as arrays: one statement text whatever the batch.
   */
  async write(tx: Tx, names: StatNames): Promise<void> {
    if (this.rows.size === 0) return
    const all = [...this.rows.values()]
    const ids = await names.resolve(
      tx,
      all.flatMap((r) => [r.owner, r.key, r.cur]),
    )
    const id = (name: string) => ids.get(name) as number
    const rows = all
      .map((r) => ({ ...r, ownerId: id(r.owner), keyId: id(r.key), curId: id(r.cur) }))
      .sort(
        (a, b) =>
          a.ownerId - b.ownerId ||
          cmp(a.dim, b.dim) ||
          a.grain - b.grain ||
          a.bucket - b.bucket ||
          a.keyId - b.keyId ||
          a.curId - b.curId,
      )
    for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
      const chunk = rows.slice(i, i + WRITE_CHUNK)
      const column = <T>(pick: (row: (typeof rows)[number]) => T) => chunk.map(pick)
      await sql`
        insert into stat_rollups as s (owner, dim, grain, bucket, key, cur,
                                       visits, visitors, orders, paid_orders, revenue, refunded)
        select * from unnest(${column((r) => r.ownerId)}::integer[], ${column((r) => r.dim)}::"char"[],
                             ${column((r) => r.grain)}::smallint[], ${column((r) => r.bucket)}::integer[],
                             ${column((r) => r.keyId)}::integer[], ${column((r) => r.curId)}::integer[],
                             ${column((r) => r.counters.visits)}::bigint[], ${column((r) => r.counters.visitors)}::bigint[],
                             ${column((r) => r.counters.orders)}::bigint[], ${column((r) => r.counters.paid_orders)}::bigint[],
                             ${column((r) => r.counters.revenue)}::bigint[], ${column((r) => r.counters.refunded)}::bigint[])
        on conflict (owner, dim, grain, bucket, key, cur) do update set
          visits = s.visits + excluded.visits, visitors = s.visitors + excluded.visitors,
          orders = s.orders + excluded.orders, paid_orders = s.paid_orders + excluded.paid_orders,
          revenue = s.revenue + excluded.revenue, refunded = s.refunded + excluded.refunded`.execute(tx)
    }
  }
}

/** Rows a statement at most: arrays keep it one statement text, chunks keep one statement's memory small. */
const WRITE_CHUNK = 10_000

export interface PaidOrder extends Attribution {
  paylink_id: string | null
  project_id: string
  created_at: Date
  currency: string
  total_amount: number
}

/** Counts a payment in the bucket where its order was created, so conversion compares like with like. */
export async function recordPayment(tx: Tx, names: StatNames, order: PaidOrder): Promise<void> {
  if (order.paylink_id === null) return
  const batch = new RollupBatch()
  batch.add({
    ...order,
    paylinkId: order.paylink_id,
    projectId: order.project_id,
    at: order.created_at,
    currency: order.currency,
    counters: { paid_orders: 1, revenue: Number(order.total_amount) },
  })
  await batch.write(tx, names)
}

/**
 * Counts money that came back (a refund succeeded, or failed after all when `amount` is negative) in the
 * bucket where its order was created, like the revenue it takes back: net revenue compares like with like.
 */
export async function recordRefund(
  tx: Tx,
  names: StatNames,
  order: PaidOrder,
  amount: number,
): Promise<void> {
  if (order.paylink_id === null || amount === 0) return
  const batch = new RollupBatch()
  batch.add({
    ...order,
    paylinkId: order.paylink_id,
    projectId: order.project_id,
    at: order.created_at,
    currency: order.currency,
    counters: { refunded: amount },
  })
  await batch.write(tx, names)
}

/** Recomputes every rollup from the raw visits and orders (`paylinks stats rebuild`). */
export async function rebuildStats(db: Executor): Promise<{ rows: number }> {
  await sql`select paylinks_rebuild_stats()`.execute(db)
  const { count } = await db
    .selectFrom('stat_rollups')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow()
  return { rows: Number(count) }
}
