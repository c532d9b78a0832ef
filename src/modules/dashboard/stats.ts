// How a paylink or a project sells over a period a person chooses: visits and paid orders per day,
// conversion, revenue, refunds and net revenue, top countries, referrers and UTM tags (and a project's
// top paylinks).
import { toDecimalString } from '../../lib/money.js'
import { DAY_MS } from '../../lib/time.js'
import { type Figures, localDate, localDayStart, MAX_PERIOD_DAYS } from '../analytics/service.js'
import type { AdminClient } from './api.js'

/** A row of a grouped dashboard: its figures, without unique visitors (only the date rows have them). */
type RowFigures = Omit<Figures, 'unique_visitors'>
interface Grouped<Row> {
  top: (Row & RowFigures)[]
  total: Figures
}

export const PRESET_DAYS = [7, 30, 90] as const

export interface PeriodChoice {
  days: number | undefined
  from: string
  to: string
  tz: string
  period_from: number
  period_to: number
  error?: { field: string; message: string }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return tz.length <= 64
  } catch {
    return false
  }
}

const addDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10)

/**
 * The period a person chose: the last N local days (today included), or whole local days from–to. A
 * choice that makes no sense falls back to the last 30 days, with the reason named.
 */
export function choosePeriod(
  query: { days?: string; from?: string; to?: string; tz?: string },
  now: Date,
): PeriodChoice {
  let error: PeriodChoice['error']
  let tz = query.tz?.trim() || 'UTC'
  if (!isTimeZone(tz)) {
    error = { field: 'tz', message: `time zone: "${tz}" is not an IANA time zone, e.g. Europe/Berlin` }
    tz = 'UTC'
  }
  const today = localDate(now.getTime(), tz)
  let from = query.from?.trim() ?? ''
  let to = query.to?.trim() ?? ''
  let days: number | undefined
  if (from || to) {
    // A real calendar date: 2026-02-30 does not survive the round trip.
    const valid = (d: string) => {
      const ms = Date.parse(`${d}T00:00:00Z`)
      return DATE.test(d) && !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(d)
    }
    if (!valid(from) || !valid(to)) {
      error ??= { field: 'from', message: 'from and to: must both be dates (YYYY-MM-DD)' }
    } else if (from > to) {
      error ??= { field: 'from', message: 'from: must not be after to' }
    } else if ((Date.parse(to) - Date.parse(from)) / DAY_MS + 1 > MAX_PERIOD_DAYS) {
      error ??= { field: 'from', message: `from–to: at most ${MAX_PERIOD_DAYS} days` }
    } else {
      return finish()
    }
  }
  const asked = Number(query.days)
  days = Number.isInteger(asked) && asked >= 1 && asked <= 366 ? asked : 30
  from = addDays(today, 1 - days)
  to = today
  return finish()

  function finish(): PeriodChoice {
    return {
      days,
      from,
      to,
      tz,
      period_from: Math.floor(localDayStart(from, tz) / 1000),
      period_to: Math.floor(localDayStart(addDays(to, 1), tz) / 1000),
      ...(error ? { error } : {}),
    }
  }
}

/** Minor units as a number of major units, for chart axes only (tables show exact strings). */
const major = (money: Figures['revenue'][number]) => Number(toDecimalString(money.amount, money.currency))

/** A row of a top list as the page shows it: a label, a link when it names something, and its figures. */
type TopRow = RowFigures & { label: string; href?: string }

const bars = (rows: TopRow[]) => ({
  labels: rows.map((r) => r.label),
  visits: rows.map((r) => r.visits),
  paid: rows.map((r) => r.paid_orders),
})

/**
 * How a paylink or a whole project sold over the period: its summary, every day's figures, the top
 * countries, referrers and UTM triples (and, for a project, its top paylinks), and the same figures
 * shaped for the charts. `base` is the scope's dashboard path in the admin API.
 */
export async function readStats(
  admin: AdminClient,
  base: string,
  period: PeriodChoice,
  withPaylinks = false,
) {
  const q = { period_from: period.period_from, period_to: period.period_to, timezone: period.tz }
  const [summary, byDate, countries, referrers, utms, paylinks] = await Promise.all([
    admin.get<Figures>(`${base}/summary`, q),
    admin.get<Grouped<{ date: string; unique_visitors: number }>>(`${base}/date`, q),
    admin.get<Grouped<{ country: string | null }>>(`${base}/country`, q),
    admin.get<Grouped<{ referrer: string | null }>>(`${base}/referrer`, q),
    admin.get<Grouped<{ utm_source: string | null; utm_medium: string | null; utm_campaign: string | null }>>(
      `${base}/utm`,
      q,
    ),
    withPaylinks
      ? admin.get<Grouped<{ paylink_id: string; name: string | null; deleted: boolean }>>(
          `${base}/paylink`,
          q,
        )
      : undefined,
  ])
  const currencies = [
    ...new Set(byDate.top.flatMap((d) => [...d.revenue, ...d.refunded].map((r) => r.currency))),
  ].sort()
  // One series per currency and figure, a value per day (0 where the day has none).
  const perCurrency = (figure: 'revenue' | 'refunded' | 'net_revenue') =>
    currencies.map((currency) => ({
      currency,
      values: byDate.top.map((d) => {
        const money = d[figure].find((r) => r.currency === currency)
        return money ? major(money) : 0
      }),
    }))
  const daily = {
    labels: byDate.top.map((d) => d.date),
    visits: byDate.top.map((d) => d.visits),
    visitors: byDate.top.map((d) => d.unique_visitors),
    paid: byDate.top.map((d) => d.paid_orders),
    revenue: perCurrency('revenue'),
    refunded: perCurrency('refunded'),
    net: perCurrency('net_revenue'),
  }
  const top: Record<string, TopRow[]> = {
    ...(paylinks
      ? {
          paylinks: paylinks.top.map((r) => ({
            ...r,
            label: `${r.name ?? `Paylink ${r.paylink_id.slice(0, 8)}`}${r.deleted ? ' (deleted)' : ''}`,
            ...(r.deleted ? {} : { href: `/dashboard/paylinks/${r.paylink_id}` }),
          })),
        }
      : {}),
    countries: countries.top.map((r) => ({ ...r, label: r.country ?? 'Unknown' })),
    referrers: referrers.top.map((r) => ({ ...r, label: r.referrer ?? 'Direct' })),
    utms: utms.top.map((r) => ({
      ...r,
      label: [r.utm_source, r.utm_medium, r.utm_campaign].map((v) => v ?? '–').join(' / '),
    })),
  }
  return {
    period,
    presets: PRESET_DAYS,
    lists: TOP_LISTS,
    summary,
    days: byDate.top,
    top,
    charts: {
      daily,
      ...Object.fromEntries(Object.entries(top).map(([key, rows]) => [key, bars(rows)])),
    },
  }
}

/** The headings of the top lists, in the order the page shows them. */
export const TOP_LISTS = [
  ['paylinks', 'Top paylinks', 'Paylink'],
  ['countries', 'Top countries', 'Country'],
  ['referrers', 'Top referrers', 'Referrer'],
  ['utms', 'Top UTM tags', 'Source / medium / campaign'],
] as const
