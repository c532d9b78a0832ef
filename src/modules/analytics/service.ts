// Dashboards of a paylink or a project over a period, answered from the rollups. A period is cut into
// whole buckets of the coarsest grain its dimension keeps, then finer ones, and at its two ends raw
// visits and orders for what is shorter than the finest grain (a quarter of an hour for totals and
// days, a day for a breakdown by key, whose end longer than half a day is its day row less the raw rest
// of that day); so a query reads a number of rows that depends on the period's length and the keys, and
// on the visits of at most half a day at each end.
import { type RawBuilder, sql } from 'kysely'
import type { Database, Db, Executor } from '../../lib/db.js'
import { invalid } from '../../lib/errors.js'
import { toMajorUnits } from '../../lib/money.js'
import type { StatDim } from '../../lib/schema.js'
import { type Clock, DAY_MS } from '../../lib/time.js'
import type { PaylinkService } from '../paylinks/service.js'
import type { ProjectService } from '../projects/service.js'
import type { StatsCounter } from './counter.js'
import { cmp, DAY, GRAINS, HOUR_MS, QUARTER_MS, UTM_SEPARATOR } from './rollup.js'

export type Scope = { kind: 'paylink'; id: string } | { kind: 'project'; id: string }
export type GroupedDim = 'country' | 'referrer' | 'utm' | 'date' | 'paylink'

export interface DashboardQuery {
  period_from?: number | undefined
  period_to?: number | undefined
  timezone?: string | undefined
  limit?: number | undefined
}

export interface Period {
  from: number
  to: number
  timezone: string
}

/** A period and the instant before which every visit is counted (Unix seconds). */
export interface Opened {
  period: Period
  currency: string
  asOf: number
}

export interface Money {
  currency: string
  amount: number
}

export interface Figures {
  visits: number
  unique_visitors: number
  orders: number
  paid_orders: number
  conversion: number
  revenue: Money[]
  /** Money that came back by refunds, per currency, counted with the orders it came from. */
  refunded: Money[]
  /** Revenue less refunds, per currency. */
  net_revenue: Money[]
}

export interface Summary extends Figures {
  period: Period
}

export interface GroupRow extends Figures {
  key: string
}

export const DEFAULT_PERIOD_DAYS = 30
export const MAX_PERIOD_DAYS = 3660

interface FactRow {
  key: string
  currency: string
  visits: string | number
  visitors: string | number
  orders: string | number
  paid_orders: string | number
  revenue: string | number
  refunded: string | number
}

export class AnalyticsService {
  private zones: Promise<Set<string>> | undefined
  private readonly db: Db

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly projects: ProjectService,
    private readonly paylinks: PaylinkService,
    private readonly counter: StatsCounter,
  ) {
    this.db = database.db
  }

  /** Runs a dashboard read as a prepared statement: its text depends on the query, never on the period. */
  private read(query: RawBuilder<FactRow>): Promise<FactRow[]> {
    return this.database.prepared(query.compile(this.db))
  }

  /**
   * Checks that the scope belongs to the merchant (404 otherwise) and reads the period; answers it with
   * the currency its gross totals are given in (the project's default currency), after counting the
   * visits queued until now, so that a dashboard shows what its reader has just done.
   */
  async open(merchantId: string, scope: Scope, query: DashboardQuery): Promise<Opened> {
    const { default_currency: currency } =
      scope.kind === 'paylink'
        ? await this.paylinks.find(merchantId, scope.id)
        : await this.projects.get(merchantId, scope.id)
    const period = await this.period(query)
    await this.counter.catchUp()
    const asOf = Math.floor((await this.counter.asOf()).getTime() / 1000)
    return { period, currency, asOf }
  }

  private async period(query: DashboardQuery): Promise<Period> {
    // The default end is the next whole second: a visit at this very instant is inside.
    const to = query.period_to ?? Math.floor(this.clock.now().getTime() / 1000) + 1
    const from = query.period_from ?? to - DEFAULT_PERIOD_DAYS * 86_400
    if (from >= to) throw invalid('period_from', 'period', 'must be before period_to')
    if (to - from > MAX_PERIOD_DAYS * 86_400) {
      throw invalid('period_to', 'period', `must be at most ${MAX_PERIOD_DAYS} days after period_from`)
    }
    const timezone = query.timezone ?? 'UTC'
    if (!(await this.knownZones()).has(timezone)) {
      throw invalid('timezone', 'timeZone', 'must be an IANA time zone name, e.g. Europe/Berlin or UTC')
    }
    return { from, to, timezone }
  }

  async summary(scope: Scope, period: Period): Promise<Summary> {
    const facts = this.facts(scope, 'all', period)
    const rows = await this.read(sql<FactRow>`
      with f as (${facts})
      select '' as key, currency, sum(visits) as visits, sum(visitors) as visitors, sum(orders) as orders,
             sum(paid_orders) as paid_orders, sum(revenue) as revenue, sum(refunded) as refunded
      from f group by currency`)
    return { period, ...figures(rows) }
  }

  /** The keys with the most paid orders, then visits; `date` gives every day of the period instead. */
  async grouped(scope: Scope, dim: GroupedDim, period: Period, limit: number): Promise<GroupRow[]> {
    if (dim === 'date') return this.days(scope, period)
    const facts = this.facts(scope, dim, period)
    const rows = await this.read(sql<FactRow>`
      with f as (${facts}),
      top as (
        select key, sum(visits) as visits, sum(orders) as orders, sum(paid_orders) as paid_orders
        from f group by key
        order by sum(paid_orders) desc, sum(visits) desc, key collate "C"
        limit ${limit}
      )
      select key, '' as currency, visits, 0 as visitors, orders, paid_orders, 0 as revenue, 0 as refunded from top
      union all
      select f.key, f.currency, 0, 0, 0, 0, sum(f.revenue), sum(f.refunded)
      from f join top on top.key = f.key
      where f.currency <> ''
      group by f.key, f.currency
      having sum(f.revenue) > 0 or sum(f.refunded) > 0`)
    return groupRows(
      rows,
      (a, b) => b.paid_orders - a.paid_orders || b.visits - a.visits || cmp(a.key, b.key),
    )
  }

  /** Every local day of the period, oldest first, zeros included. */
  private async days(scope: Scope, period: Period): Promise<GroupRow[]> {
    const facts = this.facts(scope, 'date', period)
    const rows = await this.read(sql<FactRow>`
      with f as (${facts})
      select label as key, currency, sum(visits) as visits, sum(visitors) as visitors, sum(orders) as orders,
             sum(paid_orders) as paid_orders, sum(revenue) as revenue, sum(refunded) as refunded
      from f group by label, currency`)
    const byDay = new Map(groupRows(rows, () => 0).map((row) => [row.key, row]))
    return localDays(period).map((day) => byDay.get(day) ?? { key: day, ...figures([]) })
  }

  /**
   * The rows that make up a period: rollup rows for its whole buckets, raw visits and orders for the
   * rest. For `date`, each local day is planned on its own and its rows are labelled with it. Columns:
   * key, label, currency, visits, visitors, orders, paid_orders, revenue, refunded. The buckets and the
   * raw ranges travel as arrays, so the statement's text depends on the scope's kind and the dimension
   * only, and is prepared once.
   */
  private facts(scope: Scope, dim: StatDimOrGroup, period: Period): RawBuilder<unknown> {
    const statsDim = STATS_DIMS[dim]
    const grains = GRAINS[statsDim]
    const plan: PeriodPlan = { slices: [], raw: [] }
    if (dim === 'date') {
      for (const day of localDayRanges(period)) planPeriod(day.from, day.to, day.label, plan, grains)
    } else {
      planPeriod(period.from * 1000, period.to * 1000, '', plan, grains)
    }
    const scopeColumn = sql.ref(scope.kind === 'paylink' ? 'paylink_id' : 'project_id')
    const rawKey = RAW_KEYS[dim]
    // Only the days of `date` are labelled. A date label is compared as bytes.
    const rawLabel = dim === 'date' ? sql`r.label collate "C"` : sql`''`
    const raw = <T>(pick: (range: RawRange) => T) => plan.raw.map(pick)
    const ranges = sql`unnest(${raw((r) => new Date(r.from).toISOString())}::timestamptz[],
                              ${raw((r) => new Date(r.to).toISOString())}::timestamptz[],
                              ${raw((r) => r.label)}::text[], ${raw((r) => r.sign)}::integer[])
                       as r (lo, hi, label, sign)`
    const owner = sql`(select id from stat_names where name = ${scope.id})`
    // The slices: each range of buckets one range scan of the primary key, in a lateral join (`offset 0`
    // keeps the planner from flattening it into one scan of every row of the owner); rows are added up by
    // key before their names are looked up. The raw ranges (two, or two a day for `date`): each a plain
    // range on an index of (link or project, time), added up here, so that the raw visits at an end are
    // a few rows for the query above. Visits still queued for the counter are read there too, where
    // added; where taken off a day row, only what that row counts is: the visits counted, their orders
    // (the counter counts an order with its visit), and the orders' money (counted with each payment and
    // refund).
    return sql`
      select k.name as key, a.label, c.name as currency, a.visits, a.visitors, a.orders, a.paid_orders,
             a.revenue, a.refunded
      from (${dim === 'date' ? dayBuckets(owner, plan.slices) : periodBuckets(owner, statsDim, plan.slices)}) as a
      join stat_names k on k.id = a.key
      join stat_names c on c.id = a.cur
      union all
      select ${rawKey} as key, ${rawLabel}, '' as currency, sum(r.sign) as visits,
             ${dim === 'all' || dim === 'date' ? sql`sum(${FIRST_VISIT} * r.sign)` : sql`0`} as visitors,
             count(order_id) filter (where r.sign < 0) * -1 as orders, 0 as paid_orders, 0 as revenue,
             0 as refunded
      from ${ranges}
      cross join lateral (
        select * from visits
        where ${scopeColumn} = ${scope.id} and not bot and visited_at >= r.lo and visited_at < r.hi
          and (r.sign > 0 or not exists (select 1 from stat_queue q where q.visit_id = visits.id))
        offset 0
      ) as visits
      group by 1, 2
      union all
      select ${rawKey} as key, ${rawLabel}, currency, 0, 0, count(*) filter (where r.sign > 0),
             sum(r.sign) filter (where paid_at is not null),
             coalesce(sum(total_amount * r.sign) filter (where paid_at is not null), 0),
             sum(amount_refunded * r.sign)
      from ${ranges}
      cross join lateral (
        select * from orders
        where ${scopeColumn} = ${scope.id} and paylink_id is not null and created_at >= r.lo and created_at < r.hi
        offset 0
      ) as orders
      group by 1, 2, 3`
  }

  private knownZones(): Promise<Set<string>> {
    this.zones ??= sql<{ name: string }>`select name from pg_timezone_names`
      .execute(this.db)
      .then(({ rows }) => new Set(['UTC', ...rows.map((r) => r.name)]))
      .catch((error) => {
        this.zones = undefined
        throw error
      })
    return this.zones
  }
}

type StatDimOrGroup = 'all' | GroupedDim

/** The figures of the rollup rows `s`, each multiplied by `sign`. */
const signedSums = (sign: RawBuilder<unknown>) => sql`
  sum(s.visits * ${sign}) as visits, sum(s.visitors * ${sign}) as visitors, sum(s.orders * ${sign}) as orders,
  sum(s.paid_orders * ${sign}) as paid_orders, sum(s.revenue * ${sign}) as revenue,
  sum(s.refunded * ${sign}) as refunded`

/** The rollup rows of a dimension in one range of buckets `r` (grain, lo, hi), as `s`. */
const bucketScan = (owner: RawBuilder<unknown>, statsDim: StatDim) => sql`
  cross join lateral (
    select key, cur, visits, visitors, orders, paid_orders, revenue, refunded
    from stat_rollups
    where owner = ${owner} and dim = ${statsDim} and grain = r.grain and bucket >= r.lo and bucket < r.hi
    offset 0
  ) as s`

/**
 * The slices of a period added up by key, unlabelled. Grouping thousands of rows by a label that is
 * always empty made PostgreSQL sort them, a third of a top-paylinks query: there is none.
 */
function periodBuckets(owner: RawBuilder<unknown>, statsDim: StatDim, slices: readonly Slice[]) {
  const slice = <T>(pick: (slice: Slice) => T) => slices.map(pick)
  return sql`
    select '' as label, s.key, s.cur, ${signedSums(sql`r.sign`)}
    from unnest(${slice((x) => x.grain)}::smallint[], ${slice((x) => x.from / QUARTER_MS)}::integer[],
                ${slice((x) => x.to / QUARTER_MS)}::integer[], ${slice((x) => x.sign)}::integer[])
         as r (grain, lo, hi, sign)
    ${bucketScan(owner, statsDim)}
    group by s.key, s.cur`
}

/**
 * The slices of the local days added up by day and currency. A range of buckets shared by two days is
 * read once (`bucketReads`) and added up before it is counted for each of its days, with their signs:
 * in Kathmandu 90 days are then 181 range scans and about 540 rows to label, instead of 270 scans and
 * 8,400 rows.
 */
function dayBuckets(owner: RawBuilder<unknown>, slices: readonly Slice[]) {
  const reads = bucketReads(slices)
  const read = <T>(pick: (read: BucketRead) => T) => reads.map(pick)
  const use = (i: 0 | 1) =>
    sql`((${read((x) => x.uses[i].label)}::text[])[s.n], (${read((x) => x.uses[i].sign)}::integer[])[s.n])`
  return sql`
    select u.label collate "C" as label, s.key, s.cur, ${signedSums(sql`u.sign`)}
    from (
      select r.n, s.key, s.cur, ${signedSums(sql`1`)}
      from unnest(${read((x) => x.grain)}::smallint[], ${read((x) => x.lo)}::integer[],
                  ${read((x) => x.hi)}::integer[]) with ordinality as r (grain, lo, hi, n)
      ${bucketScan(owner, STATS_DIMS.date)}
      group by r.n, s.key, s.cur
    ) as s
    cross join lateral (values ${use(0)}, ${use(1)}) as u (label, sign)
    where u.sign <> 0
    group by u.label collate "C", s.key, s.cur`
}

/** 1 for a raw visit that is its visitor's first of the link and UTC day (as counted so far), else 0. */
const FIRST_VISIT = sql`(exists (
  select 1 from stat_visitors s
  where s.owner = (select id from stat_names where name = visits.paylink_id)
    and s.day = floor(extract(epoch from visits.visited_at) / 86400)::integer
    and s.hash = md5(visits.visitor_hash)::uuid and s.visit_id = visits.id))::integer`

/** The rollup dimension each query reads. */
const STATS_DIMS: Record<StatDimOrGroup, StatDim> = {
  all: 'a',
  date: 'a',
  country: 'c',
  referrer: 'r',
  utm: 'u',
  paylink: 'p',
}

/** The key of each dimension computed from a raw visit or order, as `dimensionKeys` in rollup.ts does. */
const RAW_KEYS: Record<StatDimOrGroup, RawBuilder<unknown>> = {
  all: sql`''`,
  date: sql`''`,
  country: sql`coalesce(country, '')`,
  referrer: sql`coalesce(referrer_host, '')`,
  utm: sql`coalesce(utm_source, '') || chr(31) || coalesce(utm_medium, '') || chr(31) || coalesce(utm_campaign, '')`,
  paylink: sql`paylink_id`,
}

interface Range {
  from: number
  to: number
  label: string
}

/** Raw visits and orders of a range, added, or taken off a day row that covers more than the range. */
interface RawRange extends Range {
  sign: 1 | -1
}

export interface Slice extends Range {
  /** In quarters of an hour. */
  grain: number
  /** -1 for buckets taken off a coarser one that covers more than the range. */
  sign: 1 | -1
}

/** What a slice counts of the buckets it reads: its label, and its sign (0 for no slice). */
interface BucketUse {
  label: string
  sign: -1 | 0 | 1
}

/** Buckets of one grain, [lo, hi) in quarters of an hour since 1970, and the one or two slices of them. */
interface BucketRead {
  grain: number
  lo: number
  hi: number
  uses: [BucketUse, BucketUse]
}

/**
 * The slices as bucket ranges to read, a range read once for two slices of it. The local days of
 * `date` share ranges where a zone is off the UTC day: in Kathmandu (+05:45) the evening quarters of a
 * UTC day are taken off one local day's day row and added to the next local day. A range of a third
 * slice is read again.
 */
export function bucketReads(slices: readonly Slice[]): BucketRead[] {
  const reads: BucketRead[] = []
  const open = new Map<string, BucketRead>()
  for (const slice of slices) {
    const lo = slice.from / QUARTER_MS
    const hi = slice.to / QUARTER_MS
    const id = `${slice.grain}/${lo}/${hi}`
    const use: BucketUse = { label: slice.label, sign: slice.sign }
    const shared = open.get(id)
    if (shared) {
      shared.uses[1] = use
      open.delete(id)
      continue
    }
    const read: BucketRead = { grain: slice.grain, lo, hi, uses: [use, { label: '', sign: 0 }] }
    reads.push(read)
    open.set(id, read)
  }
  return reads
}

export interface PeriodPlan {
  /** Whole buckets read from the rollups, the coarsest grain that fits first. */
  slices: Slice[]
  /** Less than the finest grain at each end, read from the raw visits and orders. */
  raw: RawRange[]
}

/**
 * Cuts [from, to) (milliseconds) into whole buckets of the grains (in quarters of an hour, coarsest
 * first, each dividing the ones before it), and raw ends shorter than the finest grain; adds them,
 * labelled, to the plan. All ranges are half-open.
 */
export function planPeriod(
  from: number,
  to: number,
  label: string,
  plan: PeriodPlan,
  grains: readonly number[] = GRAINS.a,
): PeriodPlan {
  const finest = (grains[grains.length - 1] as number) * QUARTER_MS
  const first = Math.ceil(from / finest) * finest
  const last = Math.floor(to / finest) * finest
  if (first >= last) {
    if (from < to) rawEnds(from, to, label, plan, finest)
    return plan
  }
  if (from < first) rawEnds(from, first, label, plan, finest)
  if (last < to) rawEnds(last, to, label, plan, finest)
  if (grains.length === 2 && grains[0] === DAY && grains[1] === 1) {
    coverWithDays(first, last, label, plan.slices)
  } else {
    cover(first, last, grains, 0, label, plan.slices)
  }
  return plan
}

/**
 * The raw part [from, to) of a period, shorter than the finest grain. Where that grain is a day (the
 * breakdowns by key), each piece of a UTC day is read as `dayOrPart` does, with raw rows for the parts:
 * the end of a period that runs to now is then a day row and nothing raw (the rest of today has no
 * visits yet), and no end reads more than half a day of raw visits.
 */
function rawEnds(from: number, to: number, label: string, plan: PeriodPlan, finest: number): void {
  const raw = (a: number, b: number, sign: 1 | -1) => plan.raw.push({ from: a, to: b, label, sign })
  if (finest !== DAY_MS) {
    raw(from, to, 1)
    return
  }
  for (let a = from; a < to; ) {
    const b = Math.min(to, Math.floor(a / DAY_MS) * DAY_MS + DAY_MS)
    dayOrPart(a, b, label, plan.slices, raw)
    a = b
  }
}

/**
 * Reads [a, b), inside one UTC day, as the day's row less the rest of the day when it is longer than
 * half of it, and as it is otherwise; `part` reads a range finer than a day, with the sign it counts
 * with. Counts add up, so taking off is exact.
 */
function dayOrPart(
  a: number,
  b: number,
  label: string,
  slices: Slice[],
  part: (from: number, to: number, sign: 1 | -1) => void,
): void {
  const dayStart = Math.floor(a / DAY_MS) * DAY_MS
  const dayEnd = dayStart + DAY_MS
  if (b - a > DAY_MS / 2) {
    slices.push({ from: dayStart, to: dayEnd, label, grain: DAY, sign: 1 })
    if (dayStart < a) part(dayStart, a, -1)
    if (b < dayEnd) part(b, dayEnd, -1)
  } else {
    part(a, b, 1)
  }
}

/**
 * Covers [from, to) (on the quarter grid) with day and quarter buckets, a piece of a UTC day as
 * `dayOrPart` reads it with quarters for the parts: a local day in Kathmandu (+05:45) is then one day
 * row and 23 quarters, not 96 quarters.
 */
function coverWithDays(from: number, to: number, label: string, slices: Slice[]): void {
  const quarters = (a: number, b: number, sign: 1 | -1) => {
    if (a < b) slices.push({ from: a, to: b, label, grain: 1, sign })
  }
  const piece = (a: number, b: number) => dayOrPart(a, b, label, slices, quarters)
  const firstDay = Math.ceil(from / DAY_MS) * DAY_MS
  const lastDay = Math.floor(to / DAY_MS) * DAY_MS
  if (firstDay > lastDay) {
    piece(from, to)
    return
  }
  if (firstDay < lastDay) slices.push({ from: firstDay, to: lastDay, label, grain: DAY, sign: 1 })
  if (from < firstDay) piece(from, firstDay)
  if (lastDay < to) piece(lastDay, to)
}

function cover(
  from: number,
  to: number,
  grains: readonly number[],
  index: number,
  label: string,
  slices: Slice[],
): void {
  if (from >= to) return
  const grain = grains[index] as number
  const length = grain * QUARTER_MS
  const first = Math.ceil(from / length) * length
  const last = Math.floor(to / length) * length
  if (first >= last) {
    cover(from, to, grains, index + 1, label, slices)
    return
  }
  slices.push({ from: first, to: last, label, grain, sign: 1 })
  cover(from, first, grains, index + 1, label, slices)
  cover(last, to, grains, index + 1, label, slices)
}

function figures(rows: FactRow[]): Figures {
  let visits = 0
  let visitors = 0
  let orders = 0
  let paid = 0
  const money = new Map<string, { revenue: number; refunded: number }>()
  for (const row of rows) {
    visits += Number(row.visits)
    visitors += Number(row.visitors)
    orders += Number(row.orders)
    paid += Number(row.paid_orders)
    if (row.currency === '') continue
    const sums = money.get(row.currency) ?? { revenue: 0, refunded: 0 }
    sums.revenue += Number(row.revenue)
    sums.refunded += Number(row.refunded ?? 0)
    money.set(row.currency, sums)
  }
  const currencies = [...money.keys()].sort(cmp)
  const pick = (value: (sums: { revenue: number; refunded: number }) => number) =>
    currencies
      .map((currency) => ({
        currency,
        amount: value(money.get(currency) as { revenue: number; refunded: number }),
      }))
      .filter((m) => m.amount !== 0)
  return {
    visits,
    unique_visitors: visitors,
    orders,
    paid_orders: paid,
    conversion: visits === 0 ? 0 : paid / visits,
    revenue: pick((m) => m.revenue),
    refunded: pick((m) => m.refunded),
    net_revenue: pick((m) => m.revenue - m.refunded),
  }
}

/** Rows of (key, currency) into one row per key with its revenue per currency. */
function groupRows(rows: FactRow[], order: (a: GroupRow, b: GroupRow) => number): GroupRow[] {
  const byKey = new Map<string, FactRow[]>()
  for (const row of rows) {
    const parts = byKey.get(row.key)
    if (parts) parts.push(row)
    else byKey.set(row.key, [row])
  }
  return [...byKey.entries()].map(([key, parts]) => ({ key, ...figures(parts) })).sort(order)
}

/** Everything a paylink or project has counted, from its day rows: one row per day and currency. */
export async function lifetimeFigures(db: Executor, ownerId: string): Promise<Figures> {
  return (await lifetimeFiguresOf(db, [ownerId])).get(ownerId) ?? emptyFigures()
}

/** The lifetime figures of several paylinks or projects at once, in one grouped read of their day rows. */
export async function lifetimeFiguresOf(db: Executor, ownerIds: string[]): Promise<Map<string, Figures>> {
  if (ownerIds.length === 0) return new Map()
  const { rows } = await sql<FactRow & { owner: string }>`
    select o.name as owner, '' as key, c.name as currency, s.visits, s.visitors, s.orders, s.paid_orders,
           s.revenue, s.refunded
    from (
      select owner, cur, sum(visits) as visits, sum(visitors) as visitors, sum(orders) as orders,
             sum(paid_orders) as paid_orders, sum(revenue) as revenue, sum(refunded) as refunded
      from stat_rollups
      where owner in (select id from stat_names where name = any(${ownerIds}::text[]))
        and dim = 'a' and grain = ${GRAINS.a[0] as number}
      group by owner, cur
    ) as s
    join stat_names o on o.id = s.owner
    join stat_names c on c.id = s.cur`.execute(db)
  const byOwner = new Map<string, FactRow[]>(ownerIds.map((id) => [id, []]))
  for (const row of rows) byOwner.get(row.owner)?.push(row)
  return new Map([...byOwner].map(([id, parts]) => [id, figures(parts)]))
}

/** The figures of something that has counted nothing yet. */
export function emptyFigures(): Figures {
  return figures([])
}

/**
 * Revenue in one currency as a number of its major units (PaySuper's `gross_total_amount`), computed
 * exactly from the minor units; revenue in other currencies is not converted, it is listed apart.
 */
export function grossTotalIn(revenue: Money[], currency: string): number {
  return toMajorUnits(revenue.find((r) => r.currency === currency)?.amount ?? 0, currency)
}

/** The local calendar days that [from, to) touches in the time zone, as YYYY-MM-DD. */
export function localDays(period: Period): string[] {
  const dateOf = dayFormatter(period.timezone)
  const first = dateOf(period.from * 1000)
  const last = dateOf(period.to * 1000 - 1)
  const days: string[] = []
  for (let day = new Date(`${first}T00:00:00Z`); ; day = new Date(day.getTime() + DAY_MS)) {
    const iso = day.toISOString().slice(0, 10)
    days.push(iso)
    if (iso >= last) break
  }
  return days
}

/**
 * The local days of the period as UTC instants, clipped to it. Every IANA offset is a multiple of 15
 * minutes, so each local midnight is found on the quarter grid (also where DST skips midnight).
 */
export function localDayRanges(period: Period): Range[] {
  const dateOf = dayFormatter(period.timezone)
  const from = period.from * 1000
  const to = period.to * 1000
  const ranges: Range[] = []
  let start = from
  let midnight = false
  for (const label of localDays(period)) {
    // A day after a local midnight is most often 24 hours long: two look-ups confirm it, where a search
    // takes about eight (90 days in Kathmandu took 0.47 ms).
    const guess = start + DAY_MS
    const next =
      midnight && dateOf(guess - QUARTER_MS) <= label && dateOf(guess) > label
        ? guess
        : nextDayStart(dateOf, label, start)
    ranges.push({ from: start, to: Math.min(next, to), label })
    start = next
    midnight = true
  }
  return ranges
}

/** The local calendar date (YYYY-MM-DD) of an instant in the time zone. */
export function localDate(ms: number, timezone: string): string {
  return dayFormatter(timezone)(ms)
}

/** The instant (ms) at which the local calendar date `day` begins in the time zone. */
export function localDayStart(day: string, timezone: string): number {
  const previous = new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10)
  return nextDayStart(dayFormatter(timezone), previous, Number.NEGATIVE_INFINITY)
}

/** The first instant after `after` whose local date is later than `day`. */
function nextDayStart(dateOf: (ms: number) => string, day: string, after: number): number {
  // Local midnight is within 26 hours of UTC midnight of the next date (offsets range −12 to +14 h).
  const utcNext = Date.parse(`${day}T00:00:00Z`) + DAY_MS
  let lo = Math.max(after, utcNext - 14 * HOUR_MS - QUARTER_MS)
  let hi = utcNext + 12 * HOUR_MS + QUARTER_MS
  lo = Math.floor(lo / QUARTER_MS) * QUARTER_MS
  // Binary search on the quarter grid: dates only increase with time.
  while (hi - lo > QUARTER_MS) {
    const mid = Math.floor((lo + hi) / 2 / QUARTER_MS) * QUARTER_MS
    if (dateOf(mid) > day) hi = mid
    else lo = mid
  }
  return dateOf(lo) > day ? lo : hi
}

const formatters = new Map<string, (ms: number) => string>()

function dayFormatter(timezone: string): (ms: number) => string {
  let format = formatters.get(timezone)
  if (!format) {
    const intl = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
    format = (ms: number) => intl.format(ms)
    formatters.set(timezone, format)
  }
  return format
}

export function splitUtmKey(key: string): {
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
} {
  const [source = '', medium = '', campaign = ''] = key.split(UTM_SEPARATOR)
  return { utm_source: source || null, utm_medium: medium || null, utm_campaign: campaign || null }
}
