// Dashboards of a paylink or a project over a period, answered from the rollups. A period is cut into
// whole UTC days (day rows), whole quarters of an hour (15-minute rows) and, at its two ends, less than
// a quarter each of raw visits and orders; so a query reads a number of rows that depends on the
// period's length and the keys, never on the number of visits.
import { type RawBuilder, type Sql, sql } from 'kysely'
import type { Db } from '../../lib/db.js'
import { invalid } from '../../lib/errors.js'
import { DAY_MS } from '../../lib/time.js'
import type { PaylinkService } from '../paylinks/service.js'
import type { ProjectService } from '../projects/service.js'
import { QUARTER_MS, UTM_SEPARATOR } from './rollup.js'

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

interface Money {
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
}

export interface Summary extends Figures {
  period: Period
}

export interface GroupRow extends Figures {
  key: string
}

export const DEFAULT_PERIOD_DAYS = 30
export const MAX_PERIOD_DAYS = 3660
const ZERO_OFFSET_ZONES = new Set([
  'UTC',
  'Etc/UTC',
  'Etc/UCT',
  'UCT',
  'Etc/Universal',
  'Universal',
  'Etc/Zulu',
  'Zulu',
])

interface FactRow {
  key: string
  currency: string
  visits: string | number
  visitors: string | number
  orders: string | number
  paid_orders: string | number
  revenue: string | number
}

export class AnalyticsService {
  private zones: Promise<Set<string>> | undefined

  constructor(
    private readonly db: Db,
    private readonly clock: { now(): Date },
    private readonly projects: ProjectService,
    private readonly paylinks: PaylinkService,
  ) {}

  /** Checks that the scope belongs to the merchant (404 otherwise) and reads the period. */
  async period(merchantId: string, scope: Scope, query: DashboardQuery): Promise<Period> {
    if (scope.kind === 'paylink') await this.paylinks.get(merchantId, scope.id)
    else await this.projects.get(merchantId, scope.id)
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
    const { rows } = await sql<FactRow>`
      with f as (${facts})
      select '' as key, currency, sum(visits) as visits, sum(visitors) as visitors, sum(orders) as orders,
             sum(paid_orders) as paid_orders, sum(revenue) as revenue
      from f group by currency`.execute(this.db)
    return { period, ...figures(rows) }
  }

  /** The keys with the most paid orders, then visits; `date` gives every day of the period instead. */
  async grouped(scope: Scope, dim: GroupedDim, period: Period, limit: number): Promise<GroupRow[]> {
    if (dim === 'date') return this.days(scope, period)
    const facts = this.facts(scope, dim, period)
    const { rows } = await sql<FactRow>`
      with f as (${facts}),
      top as (
        select key, sum(visits) as visits, sum(orders) as orders, sum(paid_orders) as paid_orders
        from f group by key
        order by sum(paid_orders) desc, sum(visits) desc, key collate "C"
        limit ${limit}
      )
      select key, '' as currency, visits, 0 as visitors, orders, paid_orders, 0 as revenue from top
      union all
      select f.key, f.currency, 0, 0, 0, 0, sum(f.revenue)
      from f join top on top.key = f.key
      where f.currency <> ''
      group by f.key, f.currency
      having sum(f.revenue) > 0`.execute(this.db)
    return groupRows(
      rows,
      (a, b) => b.paid_orders - a.paid_orders || b.visits - a.visits || cmp(a.key, b.key),
    )
  }

  /** Every local day of the period, oldest first, zeros included. */
  private async days(scope: Scope, period: Period): Promise<GroupRow[]> {
    const facts = this.facts(scope, 'date', period)
    const { rows } = await sql<FactRow>`
      with f as (${facts})
      select to_char((at at time zone ${period.timezone})::date, 'YYYY-MM-DD') as key, currency,
             sum(visits) as visits, sum(visitors) as visitors, sum(orders) as orders,
             sum(paid_orders) as paid_orders, sum(revenue) as revenue
      from f group by 1, currency`.execute(this.db)
    const byDay = new Map(groupRows(rows, () => 0).map((row) => [row.key, row]))
    return localDays(period).map((day) => byDay.get(day) ?? { key: day, ...figures([]) })
  }

  /**
   * The rows that make up a period: rollup rows for its whole days and quarters, raw visits and orders
   * for the rest. Columns: key, currency, at, visits, visitors, orders, paid_orders, revenue.
   */
  private facts(scope: Scope, dim: StatDimOrGroup, period: Period): RawBuilder<unknown> {
    const plan = planPeriod(
      period.from * 1000,
      period.to * 1000,
      dim !== 'date' || ZERO_OFFSET_ZONES.has(period.timezone),
    )
    const statsDim = dim === 'date' || dim === 'paylink' ? 'all' : dim
    const owner =
      dim === 'paylink'
        ? sql`owner_id in (select id from paylinks where project_id = ${scope.id})`
        : sql`owner_id = ${scope.id}`
    const statsKey = dim === 'paylink' ? sql`owner_id` : sql`key`
    const linkFilter =
      scope.kind === 'paylink'
        ? sql`paylink_id = ${scope.id}`
        : sql`paylink_id in (select id from paylinks where project_id = ${scope.id})`
    const rawKey = RAW_KEYS[dim]
    const parts: RawBuilder<unknown>[] = []
    const buckets = [
      ...(plan.days ? [sql`(grain = 'd' and ${between('bucket', plan.days)})`] : []),
      ...plan.quarters.map((range) => sql`(grain = 'q' and ${between('bucket', range)})`),
    ]
    if (buckets.length > 0) {
      parts.push(sql`
        select ${statsKey} as key, currency, bucket as at, visits, visitors, orders, paid_orders, revenue
        from link_stats
        where ${owner} and dim = ${statsDim} and (${sql.join(buckets, sql` or `)})`)
    }
    if (plan.raw.length > 0) {
      const inRaw = (column: string) =>
        sql.join(
          plan.raw.map((range) => between(column, range)),
          sql` or `,
        )
      parts.push(sql`
        select ${rawKey} as key, '' as currency, visited_at as at, 1 as visits, 0 as visitors, 0 as orders,
               0 as paid_orders, 0 as revenue
        from visits where ${linkFilter} and (${inRaw('visited_at')})`)
      parts.push(sql`
        select ${rawKey} as key, currency, created_at as at, 0, 0, 1,
               case when status = 'paid' then 1 else 0 end,
               case when status = 'paid' then total_amount else 0 end
        from orders where ${linkFilter} and (${inRaw('created_at')})`)
      if (dim === 'all' || dim === 'date') {
        parts.push(sql`
          select '' as key, '' as currency, first_seen as at, 0, 1, 0, 0, 0
          from visitor_days where ${linkFilter} and (${inRaw('first_seen')})`)
      }
    }
    if (parts.length === 0)
      return sql`select '' as key, '' as currency, now() as at, 0 as visits, 0 as visitors, 0 as orders, 0 as paid_orders, 0 as revenue where false`
    return sql.join(parts, sql` union all `)
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

const utmExpression = sql`coalesce(utm_source, '') || chr(31) || coalesce(utm_medium, '') || chr(31) || coalesce(utm_campaign, '')`
const RAW_KEYS: Record<StatDimOrGroup, RawBuilder<unknown> | Sql> = {
  all: sql`''`,
  date: sql`''`,
  country: sql`coalesce(country, '')`,
  referrer: sql`coalesce(referrer_host, '')`,
  utm: utmExpression,
  paylink: sql`paylink_id`,
}

type Range = [number, number]

function between(column: string, [from, to]: Range): RawBuilder<unknown> {
  return sql`${sql.ref(column)} >= ${new Date(from)} and ${sql.ref(column)} < ${new Date(to)}`
}

export interface PeriodPlan {
  /** Whole UTC days read from day rows. */
  days: Range | null
  /** Whole quarters read from 15-minute rows. */
  quarters: Range[]
  /** Less than a quarter at each end, read from raw visits and orders. */
  raw: Range[]
}

/** Cuts [from, to) (milliseconds) into day rows, quarter rows and raw ends; all ranges half-open. */
export function planPeriod(from: number, to: number, useDays: boolean): PeriodPlan {
  const firstQuarter = Math.ceil(from / QUARTER_MS) * QUARTER_MS
  const lastQuarter = Math.floor(to / QUARTER_MS) * QUARTER_MS
  if (firstQuarter >= lastQuarter) return { days: null, quarters: [], raw: [[from, to]] }
  const raw = [
    ...(from < firstQuarter ? [[from, firstQuarter] as Range] : []),
    ...(lastQuarter < to ? [[lastQuarter, to] as Range] : []),
  ]
  const firstDay = Math.ceil(firstQuarter / DAY_MS) * DAY_MS
  const lastDay = Math.floor(lastQuarter / DAY_MS) * DAY_MS
  if (!useDays || firstDay >= lastDay) return { days: null, quarters: [[firstQuarter, lastQuarter]], raw }
  const quarters = [
    ...(firstQuarter < firstDay ? [[firstQuarter, firstDay] as Range] : []),
    ...(lastDay < lastQuarter ? [[lastDay, lastQuarter] as Range] : []),
  ]
  return { days: [firstDay, lastDay], quarters, raw }
}

function figures(rows: FactRow[]): Figures {
  let visits = 0
  let visitors = 0
  let orders = 0
  let paid = 0
  const revenue: Money[] = []
  for (const row of rows) {
    visits += Number(row.visits)
    visitors += Number(row.visitors)
    orders += Number(row.orders)
    paid += Number(row.paid_orders)
    if (row.currency !== '' && Number(row.revenue) > 0) {
      revenue.push({ currency: row.currency, amount: Number(row.revenue) })
    }
  }
  revenue.sort((a, b) => cmp(a.currency, b.currency))
  return {
    visits,
    unique_visitors: visitors,
    orders,
    paid_orders: paid,
    conversion: visits === 0 ? 0 : paid / visits,
    revenue,
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
export async function lifetimeFigures(db: Db, ownerId: string): Promise<Figures> {
  const rows = await db
    .selectFrom('link_stats')
    .select((eb) => [
      sql<string>`''`.as('key'),
      'currency',
      eb.fn.sum<string>('visits').as('visits'),
      eb.fn.sum<string>('visitors').as('visitors'),
      eb.fn.sum<string>('orders').as('orders'),
      eb.fn.sum<string>('paid_orders').as('paid_orders'),
      eb.fn.sum<string>('revenue').as('revenue'),
    ])
    .where('owner_id', '=', ownerId)
    .where('grain', '=', 'd')
    .where('dim', '=', 'all')
    .groupBy('currency')
    .execute()
  return figures(rows)
}

/** The local calendar days that [from, to) touches in the time zone, as YYYY-MM-DD. */
export function localDays(period: Period): string[] {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone: period.timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  })
  const first = format.format(new Date(period.from * 1000))
  const last = format.format(new Date(period.to * 1000 - 1))
  const days: string[] = []
  for (let day = new Date(`${first}T00:00:00Z`); ; day = new Date(day.getTime() + DAY_MS)) {
    const iso = day.toISOString().slice(0, 10)
    days.push(iso)
    if (iso >= last) break
  }
  return days
}

export function splitUtmKey(key: string): {
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
} {
  const [source = '', medium = '', campaign = ''] = key.split(UTM_SEPARATOR)
  return { utm_source: source || null, utm_medium: medium || null, utm_campaign: campaign || null }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
