// Keeps the statistics rollups (migrations/0006_stats.sql) in step with the raw facts: every visit,
// order and payment adds to its counters in the transaction that records it.
import { sql } from 'kysely'
import type { Executor, Tx } from '../../lib/db.js'
import type { StatDim, StatGrain } from '../../lib/schema.js'
import { DAY_MS } from '../../lib/time.js'

export const QUARTER_MS = 15 * 60 * 1000
export const HOUR_MS = 60 * 60 * 1000

/** The grains kept, with their bucket length: a period is read from the coarsest that fit. */
export const GRAINS = [
  ['d', DAY_MS],
  ['h', HOUR_MS],
  ['q', QUARTER_MS],
] as const

/** Separates the three UTM tags in the key of the `utm` dimension; visits strip it from tag values. */
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

/** The key of each dimension for one visit or order. */
function dimensionKeys(a: Attribution): [StatDim, string][] {
  return [
    ['all', ''],
    ['country', a.country ?? ''],
    ['referrer', a.referrer_host ?? ''],
    ['utm', utmKey(a)],
  ]
}

export function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step
}

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10)
}

interface Counters {
  visits: number
  visitors: number
  orders: number
  paid_orders: number
  revenue: number
  refunded: number
}

interface Fact extends Attribution {
  paylinkId: string
  projectId: string
  at: Date
  /** '' for a visit, the order's currency for an order or a payment. */
  currency: string
  counters: Partial<Counters>
}

/** Adds facts up per rollup row, then writes them in one statement per few thousand rows. */
export class RollupBatch {
  private readonly rows = new Map<string, { id: RowId; counters: Counters }>()

  add(fact: Fact): void {
    for (const owner of [fact.paylinkId, fact.projectId]) {
      for (const [grain, length] of GRAINS) {
        const bucket = floorTo(fact.at.getTime(), length)
        for (const [dim, key] of dimensionKeys(fact)) {
          const id: RowId = { owner, grain, dim, bucket, key, currency: fact.currency }
          const mapKey = [owner, grain, dim, bucket, key, fact.currency].join('\u0000')
          let row = this.rows.get(mapKey)
          if (!row) {
            row = {
              id,
              counters: { visits: 0, visitors: 0, orders: 0, paid_orders: 0, revenue: 0, refunded: 0 },
            }
            this.rows.set(mapKey, row)
          }
          const c = fact.counters
          row.counters.visits += c.visits ?? 0
          // Unique visitors are shown for the link as a whole and per day, not per country or source.
          row.counters.visitors += dim === 'all' ? (c.visitors ?? 0) : 0
          row.counters.orders += c.orders ?? 0
          row.counters.paid_orders += c.paid_orders ?? 0
          row.counters.revenue += c.revenue ?? 0
          row.counters.refunded += c.refunded ?? 0
        }
      }
    }
  }

  /**
   * Upserts the rows in one fixed order (the primary key's), so that concurrent batches lock shared
   * rows in the same order and cannot deadlock.
   */
  async write(tx: Tx): Promise<void> {
    const rows = [...this.rows.values()].sort((a, b) => compareRowIds(a.id, b.id))
    for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
      await tx
        .insertInto('link_stats')
        .values(
          rows.slice(i, i + WRITE_CHUNK).map(({ id, counters }) => ({
            owner_id: id.owner,
            grain: id.grain,
            dim: id.dim,
            bucket: new Date(id.bucket),
            key: id.key,
            currency: id.currency,
            ...counters,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['owner_id', 'grain', 'dim', 'bucket', 'key', 'currency']).doUpdateSet((eb) => ({
            visits: eb('link_stats.visits', '+', eb.ref('excluded.visits')),
            visitors: eb('link_stats.visitors', '+', eb.ref('excluded.visitors')),
            orders: eb('link_stats.orders', '+', eb.ref('excluded.orders')),
            paid_orders: eb('link_stats.paid_orders', '+', eb.ref('excluded.paid_orders')),
            revenue: eb('link_stats.revenue', '+', eb.ref('excluded.revenue')),
            refunded: eb('link_stats.refunded', '+', eb.ref('excluded.refunded')),
          })),
        )
        .execute()
    }
  }
}

/** 12 columns a row: 5,000 rows stay below PostgreSQL's 65,535 parameters a statement. */
const WRITE_CHUNK = 5000

interface RowId {
  owner: string
  grain: StatGrain
  dim: StatDim
  bucket: number
  key: string
  currency: string
}

function compareRowIds(a: RowId, b: RowId): number {
  return (
    cmp(a.owner, b.owner) ||
    cmp(a.grain, b.grain) ||
    cmp(a.dim, b.dim) ||
    a.bucket - b.bucket ||
    cmp(a.key, b.key) ||
    cmp(a.currency, b.currency)
  )
}

/** Code-unit order of strings, the same on every machine and in PostgreSQL's C collation. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export interface RecordedVisit extends Attribution {
  paylink_id: string
  project_id: string
  visited_at: Date
  visitor_hash: string
  order?: { currency: string } | undefined
}

/**
 * Counts a batch of visits and the orders they created. A visitor is counted once per link and UTC day
 * (the visitor hash changes at midnight UTC), in the bucket of their first visit; `visitor_days`
 * remembers who has been seen.
 */
export async function recordVisits(tx: Tx, visits: RecordedVisit[]): Promise<void> {
  const ids = visits.map((v) => visitorDayId(v.paylink_id, utcDay(v.visited_at), v.visitor_hash))
  const firsts = new Map<string, RecordedVisit>()
  for (const [i, visit] of visits.entries()) {
    const id = ids[i] as string
    const seen = firsts.get(id)
    if (!seen || seen.visited_at > visit.visited_at) firsts.set(id, visit)
  }
  const candidates = [...firsts.entries()].sort(([a], [b]) => cmp(a, b))
  const inserted =
    candidates.length === 0
      ? []
      : await tx
          .insertInto('visitor_days')
          .values(
            candidates.map(([, v]) => ({
              paylink_id: v.paylink_id,
              project_id: v.project_id,
              day: utcDay(v.visited_at),
              visitor_hash: v.visitor_hash,
              first_seen: v.visited_at,
            })),
          )
          .onConflict((oc) => oc.doNothing())
          .returning(['paylink_id', 'visitor_hash', 'first_seen'])
          .execute()
  const newVisitors = new Set(
    inserted.map((r) => visitorDayId(r.paylink_id, utcDay(r.first_seen), r.visitor_hash)),
  )

  const batch = new RollupBatch()
  for (const [i, visit] of visits.entries()) {
    const id = ids[i] as string
    const isFirst = newVisitors.has(id) && firsts.get(id) === visit
    const base = { ...visit, paylinkId: visit.paylink_id, projectId: visit.project_id, at: visit.visited_at }
    batch.add({ ...base, currency: '', counters: { visits: 1, visitors: isFirst ? 1 : 0 } })
    if (visit.order) batch.add({ ...base, currency: visit.order.currency, counters: { orders: 1 } })
  }
  await batch.write(tx)
}

function visitorDayId(paylinkId: string, day: string, hash: string): string {
  return `${paylinkId}/${day}/${hash}`
}

export interface PaidOrder extends Attribution {
  paylink_id: string | null
  project_id: string
  created_at: Date
  currency: string
  total_amount: number
}

/** Counts a payment in the bucket where its order was created, so conversion compares like with like. */
export async function recordPayment(tx: Tx, order: PaidOrder): Promise<void> {
  if (order.paylink_id === null) return
  const batch = new RollupBatch()
  batch.add({
    ...order,
    paylinkId: order.paylink_id,
    projectId: order.project_id,
    at: order.created_at,
    counters: { paid_orders: 1, revenue: Number(order.total_amount) },
  })
  await batch.write(tx)
}

/**
 * Counts money that came back (a refund succeeded, or failed after all when `amount` is negative) in the
 * bucket where its order was created, like the revenue it takes back: net revenue compares like with like.
 */
export async function recordRefund(tx: Tx, order: PaidOrder, amount: number): Promise<void> {
  if (order.paylink_id === null || amount === 0) return
  const batch = new RollupBatch()
  batch.add({
    ...order,
    paylinkId: order.paylink_id,
    projectId: order.project_id,
    at: order.created_at,
    counters: { refunded: amount },
  })
  await batch.write(tx)
}

/** Recomputes every rollup from the raw visits and orders (`paylinks stats rebuild`). */
export async function rebuildStats(db: Executor): Promise<{ rows: number }> {
  await sql`select paylinks_rebuild_stats()`.execute(db)
  const { count } = await db
    .selectFrom('link_stats')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow()
  return { rows: Number(count) }
}
