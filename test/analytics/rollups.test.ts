// The dashboards answer from rollups; these tests hold them to a recount from the raw visits and
// orders, for periods that cut quarters and days, and for time zones with odd offsets and DST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rebuildStats } from '../../src/modules/analytics/rollup.js'
import { browserOf, GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
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

const START = new Date('2026-03-27T21:52:13.000Z') // the weekend Europe switches to summer time
const ZONES = ['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Chatham']
const COUNTRIES = ['US', 'DE', 'NP', undefined]
const REFERRERS = ['https://www.google.com/search?q=x', 'https://news.example.org/a', undefined]
const UTMS = [
  '?utm_source=mail&utm_medium=email&utm_campaign=spring',
  '?utm_source=x',
  '',
  '?utm_campagin=typo',
]

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

interface Visit {
  paylink_id: string
  visited_at: Date
  visitor_hash: string
  country: string | null
  referrer_host: string | null
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
}
interface Order extends Omit<Visit, 'visited_at' | 'visitor_hash'> {
  created_at: Date
  status: string
  currency: string
  total_amount: string | number
  paid_at: Date | null
  amount_refunded: string | number
}

let ctx: TestContext
let merchant: TestMerchant
let projectId: string
let links: string[]
let visits: Visit[]
let orders: Order[]

beforeAll(async () => {
  ctx = await createTestContext({
    start: START,
    env: { TRUST_PROXY: 'true', COUNTRY_HEADER: 'cf-ipcountry', PUBLIC_RATE_LIMIT: '0' },
  })
  merchant = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [
      { currency: 'USD', amount: 1500 },
      { currency: 'EUR', amount: 1400 },
    ],
  })
  links = [
    (await createPaylink(ctx.app, merchant, projectId, [product.id])).id,
    (await createPaylink(ctx.app, merchant, projectId, [product.id])).id,
  ]
  const next = random(7)
  const pick = <T>(values: T[]) => values[Math.floor(next() * values.length)] as T
  for (let i = 0; i < 260; i++) {
    // Steps of up to 40 minutes: about three and a half days, with many visits in the same quarter.
    ctx.clock.advance(Math.floor(next() * 40 * 60_000))
    const visitor = Math.floor(next() * 12)
    const headers: Record<string, string> = {
      'x-forwarded-for': `198.51.100.${visitor}`,
      'user-agent': browserOf(visitor % 3),
    }
    const country = pick(COUNTRIES)
    if (country) headers['cf-ipcountry'] = country
    const referrer = pick(REFERRERS)
    if (referrer) headers.referer = referrer
    const query = pick(UTMS)
    const currency = next() < 0.3 ? `${query ? '&' : '?'}currency=EUR` : ''
    const { orderId } = await openPaylink(ctx.app, pick(links) as string, `${query}${currency}`, headers)
    if (orderId && next() < 0.35) {
      const session = await openPaymentPage(ctx.app, orderId)
      const paid = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
      expect(paid.statusCode).toBe(303)
      // Some paid orders get part or all of their money back; the sandbox settles a refund a second later.
      if (next() < 0.3) {
        const amount = next() < 0.5 ? 500 : undefined
        const refund = await api(
          ctx.app,
          merchant,
          'POST',
          `/orders/${orderId}/refunds`,
          amount ? { amount } : {},
        )
        expect(refund.status).toBe(201)
        ctx.clock.advance(1000)
        await ctx.services.sandbox.runOnce()
      }
    }
  }
  const { db } = ctx.database
  visits = (await db.selectFrom('visits').selectAll().execute()) as Visit[]
  orders = (await db
    .selectFrom('orders')
    .selectAll()
    .where('paylink_id', 'is not', null)
    .execute()) as Order[]
}, 120_000)

afterAll(() => ctx.close())

// ---- the recount: the definitions, applied to the raw rows ----

interface Figures {
  visits: number
  unique_visitors?: number
  orders: number
  paid_orders: number
  conversion: number
  revenue: { currency: string; amount: number }[]
  refunded: { currency: string; amount: number }[]
  net_revenue: { currency: string; amount: number }[]
}

function recount(vs: Visit[], os: Order[], firsts: Visit[]): Figures {
  const revenue = new Map<string, number>()
  const refunded = new Map<string, number>()
  let paid = 0
  for (const o of os) {
    if (o.paid_at === null) continue
    paid++
    revenue.set(o.currency, (revenue.get(o.currency) ?? 0) + Number(o.total_amount))
    refunded.set(o.currency, (refunded.get(o.currency) ?? 0) + Number(o.amount_refunded))
  }
  const list = (amount: (currency: string) => number) =>
    [...revenue.keys()]
      .sort()
      .map((currency) => ({ currency, amount: amount(currency) }))
      .filter((m) => m.amount !== 0)
  return {
    visits: vs.length,
    unique_visitors: firsts.length,
    orders: os.length,
    paid_orders: paid,
    conversion: vs.length === 0 ? 0 : paid / vs.length,
    revenue: list((c) => revenue.get(c) ?? 0),
    refunded: list((c) => refunded.get(c) ?? 0),
    net_revenue: list((c) => (revenue.get(c) ?? 0) - (refunded.get(c) ?? 0)),
  }
}

/**
 * The same figures under PaySuper's names: paid orders, and the revenue in the project's currency (USD) as
 * a decimal number of dollars, written from the cents as a string.
 */
function withLater<F extends Figures>(f: F) {
  const cents = f.revenue.find((r) => r.currency === 'USD')?.amount ?? 0
  const dollars = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
  return {
    ...f,
    sales_count: f.paid_orders,
    gross_total_amount: Number(dollars),
    transactions_currency: 'USD',
  }
}

/** First visit of each visitor per link and UTC day: the visit that counts them. */
function firstVisits(vs: Visit[]): Visit[] {
  const firsts = new Map<string, Visit>()
  for (const v of vs) {
    const id = `${v.paylink_id}/${v.visited_at.toISOString().slice(0, 10)}/${v.visitor_hash}`
    const seen = firsts.get(id)
    if (!seen || v.visited_at < seen.visited_at) firsts.set(id, v)
  }
  return [...firsts.values()]
}

function inPeriod(at: Date, from: number, to: number) {
  return at.getTime() >= from * 1000 && at.getTime() < to * 1000
}

function expected(linkIds: string[], from: number, to: number) {
  const vs = visits.filter((v) => linkIds.includes(v.paylink_id))
  const os = orders.filter((o) => linkIds.includes(o.paylink_id as string))
  const firsts = firstVisits(vs).filter((v) => inPeriod(v.visited_at, from, to))
  const periodVisits = vs.filter((v) => inPeriod(v.visited_at, from, to))
  const periodOrders = os.filter((o) => inPeriod(o.created_at, from, to))
  const grouped = (key: (row: Visit | Order) => string, withVisitors = false) => {
    const keys = new Set([...periodVisits.map(key), ...periodOrders.map(key)])
    return [...keys]
      .map((k) => {
        const { unique_visitors, ...rest } = recount(
          periodVisits.filter((v) => key(v) === k),
          periodOrders.filter((o) => key(o) === k),
          firsts.filter((v) => key(v) === k),
        )
        return { key: k, ...rest, ...(withVisitors ? { unique_visitors } : {}) }
      })
      .sort(
        (a, b) =>
          b.paid_orders - a.paid_orders ||
          b.visits - a.visits ||
          (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
      )
  }
  return { summary: recount(periodVisits, periodOrders, firsts), grouped }
}

const utmKey = (r: Visit | Order) => JSON.stringify([r.utm_source, r.utm_medium, r.utm_campaign])
// One formatter per zone: making one is far slower than formatting, and the recount asks for thousands.
const dayFormats = new Map<string, Intl.DateTimeFormat>()
const localDay = (zone: string) => {
  let format = dayFormats.get(zone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
    dayFormats.set(zone, format)
  }
  const dayOf = format
  return (r: Visit | Order) => dayOf.format('visited_at' in r ? r.visited_at : r.created_at)
}

/** Periods that start and end anywhere: mid-quarter, mid-day, across the DST switch, whole days. */
function periods(): [number, number][] {
  const start = Math.floor(START.getTime() / 1000)
  const next = random(11)
  const list: [number, number][] = [
    [start - 3600, start + 5 * 86_400], // everything
    [start + 17, start + 17 + 600], // inside one quarter
    [Date.UTC(2026, 2, 28) / 1000, Date.UTC(2026, 2, 30) / 1000], // two whole UTC days
    [Date.UTC(2026, 2, 28, 23) / 1000, Date.UTC(2026, 2, 29, 22) / 1000], // Berlin's 23-hour day
  ]
  for (let i = 0; i < 16; i++) {
    const from = start + Math.floor(next() * 3 * 86_400)
    list.push([from, from + 1 + Math.floor(next() * 2 * 86_400)])
  }
  return list
}

describe('dashboards equal a recount from raw visits and orders', () => {
  it('generated enough to mean something', () => {
    expect(visits.length).toBe(260)
    expect(orders.filter((o) => o.status === 'paid').length).toBeGreaterThan(40)
    expect(new Set(orders.map((o) => o.currency))).toEqual(new Set(['USD', 'EUR']))
    expect(visits.at(-1)?.visited_at.getTime()).toBeGreaterThan(START.getTime() + 2 * 86_400_000)
  })

  it('summary, country, referrer and UTM of each link and of the project, over periods that cut days', async () => {
    for (const [from, to] of periods()) {
      for (const scope of [
        ...links.map((id) => ({ path: `/paylinks/${id}`, ids: [id] })),
        { path: `/projects/${projectId}`, ids: links },
      ]) {
        const want = expected(scope.ids, from, to)
        const q = `period_from=${from}&period_to=${to}&limit=100`
        const summary = await api(ctx.app, merchant, 'GET', `${scope.path}/dashboard/summary?${q}`)
        expect(summary.status).toBe(200)
        expect(summary.body).toEqual({
          period: { from, to, timezone: 'UTC' },
          as_of: Math.floor(ctx.clock.now().getTime() / 1000),
          ...withLater(want.summary),
        })

        const country = await api(ctx.app, merchant, 'GET', `${scope.path}/dashboard/country?${q}`)
        expect(country.body.top).toEqual(
          want
            .grouped((r) => r.country ?? '')
            .map(({ key, ...f }) => ({ country: key || null, country_code: key || null, ...withLater(f) })),
        )
        expect(country.body.total).toEqual(withLater(want.summary))

        const referrer = await api(ctx.app, merchant, 'GET', `${scope.path}/dashboard/referrer?${q}`)
        expect(referrer.body.top).toEqual(
          want
            .grouped((r) => r.referrer_host ?? '')
            .map(({ key, ...f }) => ({ referrer: key || null, referrer_host: key || null, ...withLater(f) })),
        )

        const utm = await api(ctx.app, merchant, 'GET', `${scope.path}/dashboard/utm?${q}`)
        const utmRows = (utm.body.top as Record<string, unknown>[]).map(
          ({ utm_source, utm_medium, utm_campaign, utm, ...f }) => {
            expect(utm).toEqual({ utm_source, utm_medium, utm_campaign })
            return { key: JSON.stringify([utm_source, utm_medium, utm_campaign]), ...f }
          },
        )
        expect(new Set(utmRows.map((r) => r.key))).toEqual(new Set(want.grouped(utmKey).map((r) => r.key)))
        for (const row of want.grouped(utmKey)) expect(utmRows).toContainEqual(withLater(row))
      }
    }
  })

  it('every local day of the period, in time zones with odd offsets and across DST', async () => {
    for (const [from, to] of periods()) {
      for (const zone of ZONES) {
        const want = expected(links, from, to).grouped(localDay(zone), true)
        const res = await api(
          ctx.app,
          merchant,
          'GET',
          `/projects/${projectId}/dashboard/date?period_from=${from}&period_to=${to}&timezone=${encodeURIComponent(zone)}`,
        )
        expect(res.status).toBe(200)
        const days = res.body.top as { date: string }[]
        // Every day from the first to the last, in order, none missing.
        const first = localDay(zone)({ visited_at: new Date(from * 1000) } as Visit)
        const last = localDay(zone)({ visited_at: new Date(to * 1000 - 1) } as Visit)
        expect(days[0]?.date).toBe(first)
        expect(days.at(-1)?.date).toBe(last)
        for (let i = 1; i < days.length; i++) {
          expect(Date.parse(days[i]?.date as string) - Date.parse(days[i - 1]?.date as string)).toBe(
            86_400_000,
          )
        }
        const byDate = new Map(days.map(({ date, ...figures }) => [date, figures]))
        for (const { key, ...figures } of want) expect(byDate.get(key)).toEqual(withLater(figures))
        const zero = days.filter((d) => !want.some((w) => w.key === d.date))
        for (const day of zero)
          expect(day).toMatchObject({
            visits: 0,
            orders: 0,
            paid_orders: 0,
            revenue: [],
            refunded: [],
            net_revenue: [],
          })
      }
    }
  })

  it('the project compares its links', async () => {
    const [from, to] = [
      Math.floor(START.getTime() / 1000),
      Math.floor(START.getTime() / 1000) + 2 * 86_400 + 77,
    ]
    const res = await api(
      ctx.app,
      merchant,
      'GET',
      `/projects/${projectId}/dashboard/paylink?period_from=${from}&period_to=${to}`,
    )
    const want = expected(links, from, to).grouped((r) => r.paylink_id)
    expect(res.body.top).toEqual(
      want.map(({ key, ...f }) => ({ paylink_id: key, name: null, deleted: false, ...withLater(f) })),
    )
  })

  it('rebuilding from the raw rows gives back the very rollups and first visits counted on the way', async () => {
    const { db } = ctx.database
    await ctx.services.counter.catchUp()
    const live = await statsSnapshot(db)
    expect(live.rollups.length).toBeGreaterThan(1000)
    expect(live.queued).toBe(0)
    await db.transaction().execute(rebuildStats)
    expect(await statsSnapshot(db)).toEqual(live)
  })

  it('the lifetime stat reads the rollups and agrees with them', async () => {
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${links[0]}/stat`)
    const { unique_visitors, ...rest } = expected([links[0] as string], 0, 2 ** 40).summary
    expect(res.body).toEqual({ ...rest, unique_visitors })
  })
})
