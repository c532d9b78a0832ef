// The dashboard routes' contract: defaults, bad input named field by field, and other merchants' objects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rebuildStats } from '../../src/modules/analytics/rollup.js'
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
let intruder: TestMerchant
let projectId: string
let linkId: string
const DIMS = ['summary', 'country', 'referrer', 'utm', 'date']

beforeAll(async () => {
  ctx = await createTestContext({
    start: new Date('2026-05-10T10:00:00Z'),
    env: { COUNTRY_HEADER: 'x-test-country' },
  })
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId)
  linkId = (await createPaylink(ctx.app, merchant, projectId, [product.id], { name: 'Spring sale' })).id
})

afterAll(() => ctx.close())

describe('dashboard routes', () => {
  it('default to the last 30 days in UTC, and date lists each of them with zeros', async () => {
    await openPaylink(ctx.app, linkId, '?utm_source=news', { referer: 'https://www.example.net/x' })
    const now = Math.floor(ctx.clock.now().getTime() / 1000) + 1
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${linkId}/dashboard/summary`)
    expect(summary.status).toBe(200)
    expect(summary.body).toEqual({
      period: { from: now - 30 * 86_400, to: now, timezone: 'UTC' },
      // Nothing is left queued: the read counted the visit first, so everything up to now is in.
      as_of: now - 1,
      visits: 1,
      unique_visitors: 1,
      orders: 1,
      paid_orders: 0,
      conversion: 0,
      revenue: [],
      refunded: [],
      net_revenue: [],
      sales_count: 0,
      gross_total_amount: 0,
      transactions_currency: 'USD',
    })
    const date = await api(ctx.app, merchant, 'GET', `/paylinks/${linkId}/dashboard/date`)
    expect(date.body.top).toHaveLength(31)
    expect(date.body.top[0]).toEqual({
      date: '2026-04-10',
      visits: 0,
      unique_visitors: 0,
      orders: 0,
      paid_orders: 0,
      conversion: 0,
      revenue: [],
      refunded: [],
      net_revenue: [],
      sales_count: 0,
      gross_total_amount: 0,
      transactions_currency: 'USD',
    })
    expect(date.body.top.at(-1)).toMatchObject({
      date: '2026-05-10',
      visits: 1,
      unique_visitors: 1,
      orders: 1,
    })
    const referrer = await api(ctx.app, merchant, 'GET', `/paylinks/${linkId}/dashboard/referrer`)
    expect(referrer.body.top).toEqual([
      {
        referrer: 'example.net',
        referrer_host: 'example.net',
        visits: 1,
        orders: 1,
        paid_orders: 0,
        conversion: 0,
        revenue: [],
        refunded: [],
        net_revenue: [],
        sales_count: 0,
        gross_total_amount: 0,
        transactions_currency: 'USD',
      },
    ])
    const utm = await api(ctx.app, merchant, 'GET', `/projects/${projectId}/dashboard/utm`)
    expect(utm.body.top).toEqual([
      {
        utm_source: 'news',
        utm_medium: null,
        utm_campaign: null,
        utm: { utm_source: 'news', utm_medium: null, utm_campaign: null },
        visits: 1,
        orders: 1,
        paid_orders: 0,
        conversion: 0,
        revenue: [],
        refunded: [],
        net_revenue: [],
        sales_count: 0,
        gross_total_amount: 0,
        transactions_currency: 'USD',
      },
    ])
    const links = await api(ctx.app, merchant, 'GET', `/projects/${projectId}/dashboard/paylink`)
    expect(links.body.top).toEqual([
      {
        paylink_id: linkId,
        name: 'Spring sale',
        deleted: false,
        visits: 1,
        orders: 1,
        paid_orders: 0,
        conversion: 0,
        revenue: [],
        refunded: [],
        net_revenue: [],
        sales_count: 0,
        gross_total_amount: 0,
        transactions_currency: 'USD',
      },
    ])
  })

  it('keep the figures of a deleted link in its project', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const gone = await createPaylink(ctx.app, merchant, projectId, [product.id])
    await openPaylink(ctx.app, gone.id)
    expect((await api(ctx.app, merchant, 'DELETE', `/paylinks/${gone.id}`)).status).toBe(204)
    const links = await api(ctx.app, merchant, 'GET', `/projects/${projectId}/dashboard/paylink`)
    expect(links.body.top).toContainEqual(
      expect.objectContaining({ paylink_id: gone.id, deleted: true, visits: 1 }),
    )
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${gone.id}/dashboard/summary`)
    expect(res.status).toBe(404)
  })

  it.each([
    ['timezone=Mars%2FOlympus', 'timezone: must be an IANA time zone name, e.g. Europe/Berlin or UTC'],
    ['period_from=200&period_to=100', 'period_from: must be before period_to'],
    ['period_from=100&period_to=100', 'period_from: must be before period_to'],
    ['period_from=0&period_to=400000000', 'period_to: must be at most 3660 days after period_from'],
    ['period_from=soon', 'period_from: must be an integer'],
    ['period_to=-5', 'period_to: must be at least 0'],
    ['limit=101', 'limit: must be at most 100'],
    ['limit=0', 'limit: must be at least 1'],
  ])('refuse %s with a 400 that names the field', async (query, message) => {
    for (const path of [
      `/paylinks/${linkId}/dashboard/country`,
      `/projects/${projectId}/dashboard/country`,
    ]) {
      const res = await api(ctx.app, merchant, 'GET', `${path}?${query}`)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_failed')
      expect(res.body.message).toBe(message)
    }
  })

  it('answer 404 for another merchant’s link or project, and for unknown ids, on every dimension', async () => {
    for (const dim of DIMS) {
      for (const id of [linkId, 'f'.repeat(32), 'not-an-id']) {
        const res = await api(ctx.app, intruder, 'GET', `/paylinks/${id}/dashboard/${dim}`)
        expect(res.status).toBe(404)
        expect(res.body.code).toBe('pl000002')
      }
      for (const id of [projectId, 'f'.repeat(24)]) {
        const res = await api(ctx.app, intruder, 'GET', `/projects/${id}/dashboard/${dim}`)
        expect(res.status).toBe(404)
        expect(res.body.code).toBe('project_not_found')
      }
    }
    expect((await api(ctx.app, undefined, 'GET', `/projects/${projectId}/dashboard/summary`)).status).toBe(
      401,
    )
  })
})

// PaySuper's later dashboard API (StatCommon in paysuper-proto's paylink.proto) names these country_code,
// referrer_host, utm {…}, sales_count and gross_total_amount (a number in major units); its merchant
// dashboard (ChartsPaylinkBase.vue, ChartsPaylinkUtm.vue, PaymentLinkCharts.vue) reads them.
describe('dashboard rows under PaySuper’s later names', () => {
  it('carry country_code, referrer_host, utm, sales_count and gross_total_amount exactly', async () => {
    const project = await createProject(ctx.app, merchant, { default_currency: 'KWD' })
    const product = await createProduct(ctx.app, merchant, project.id, {
      prices: [
        { currency: 'KWD', amount: 100 },
        { currency: 'JPY', amount: 700 },
      ],
    })
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    const visit = { referer: 'https://shop.example.org/p', 'x-test-country': 'DE' }
    for (let i = 0; i < 3; i++) await openPaylink(ctx.app, link.id, '?utm_source=ads&utm_campaign=may', visit)
    await openPaylink(ctx.app, link.id, '?currency=JPY&utm_source=ads&utm_campaign=may', visit)
    const { db } = ctx.database
    // Paid: 0.100 and 0.200 KWD (0.3, not the float sum 0.30000000000000004) and 700 JPY; one left open.
    const orders = await db
      .selectFrom('orders')
      .select(['id', 'currency'])
      .where('paylink_id', '=', link.id)
      .orderBy('id')
      .execute()
    const kwd = orders.filter((o) => o.currency === 'KWD').map((o) => o.id)
    const jpy = orders.filter((o) => o.currency === 'JPY').map((o) => o.id)
    expect([kwd.length, jpy.length]).toEqual([3, 1])
    await db
      .updateTable('orders')
      .set({ total_amount: 200 })
      .where('id', '=', kwd[1] as string)
      .execute()
    await db
      .updateTable('orders')
      .set({ status: 'paid', paid_at: ctx.clock.now() })
      .where('id', 'in', [kwd[0] as string, kwd[1] as string, jpy[0] as string])
      .execute()
    await db.transaction().execute(rebuildStats)

    const later = {
      sales_count: 3,
      gross_total_amount: 0.3,
      transactions_currency: 'KWD',
      revenue: [
        { currency: 'JPY', amount: 700 },
        { currency: 'KWD', amount: 300 },
      ],
    }
    for (const base of [`/paylinks/${link.id}/dashboard`, `/projects/${project.id}/dashboard`]) {
      const summary = await api(ctx.app, merchant, 'GET', `${base}/summary`)
      expect(summary.body).toMatchObject({ paid_orders: 3, ...later })
      const country = await api(ctx.app, merchant, 'GET', `${base}/country`)
      expect(country.body.top).toEqual([
        expect.objectContaining({ country: 'DE', country_code: 'DE', ...later }),
      ])
      expect(country.body.total).toMatchObject(later)
      const referrer = await api(ctx.app, merchant, 'GET', `${base}/referrer`)
      expect(referrer.body.top).toEqual([
        expect.objectContaining({
          referrer: 'shop.example.org',
          referrer_host: 'shop.example.org',
          ...later,
        }),
      ])
      const utm = await api(ctx.app, merchant, 'GET', `${base}/utm`)
      expect(utm.body.top).toEqual([
        expect.objectContaining({
          utm_source: 'ads',
          utm_medium: null,
          utm_campaign: 'may',
          utm: { utm_source: 'ads', utm_medium: null, utm_campaign: 'may' },
          ...later,
        }),
      ])
      const date = await api(ctx.app, merchant, 'GET', `${base}/date?limit=1`)
      expect(date.body.top.at(-1)).toMatchObject({ date: '2026-05-10', ...later })
    }
    const links = await api(ctx.app, merchant, 'GET', `/projects/${project.id}/dashboard/paylink`)
    expect(links.body.top).toEqual([expect.objectContaining({ paylink_id: link.id, ...later })])
  })

  it('are declared in /openapi.json', async () => {
    const spec = (await ctx.app.inject('/openapi.json')).json()
    const row = (path: string) =>
      spec.paths[path].get.responses['200'].content['application/json'].schema.properties.top.items.properties
    expect(Object.keys(row('/admin/api/v1/paylinks/{paylink_id}/dashboard/country'))).toEqual(
      expect.arrayContaining([
        'country',
        'country_code',
        'sales_count',
        'gross_total_amount',
        'transactions_currency',
      ]),
    )
    expect(row('/admin/api/v1/projects/{project_id}/dashboard/referrer').referrer_host).toBeDefined()
    expect(row('/admin/api/v1/projects/{project_id}/dashboard/utm').utm.properties).toHaveProperty(
      'utm_campaign',
    )
    expect(row('/admin/api/v1/projects/{project_id}/dashboard/paylink').sales_count).toBeDefined()
    const paylink = spec.components.schemas.Paylink.properties
    expect(Object.keys(paylink)).toEqual(
      expect.arrayContaining([
        'is_expired',
        'visits',
        'sales_count',
        'conversion',
        'revenue',
        'gross_total_amount',
      ]),
    )
  })
})

describe('concurrent visits', () => {
  it('count a visitor once a day however the visits are batched, and agree with a rebuild', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const link = await createPaylink(ctx.app, merchant, projectId, [product.id])
    const same = { 'user-agent': browserOf(0) }
    await Promise.all(Array.from({ length: 40 }, () => openPaylink(ctx.app, link.id, '', same)))
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        openPaylink(ctx.app, link.id, '', { 'user-agent': browserOf(i + 1) }),
      ),
    )
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/dashboard/summary`)
    expect(summary.body).toMatchObject({ visits: 50, unique_visitors: 11, orders: 50 })
    const { db } = ctx.database
    const live = await statsSnapshot(db)
    expect(live.queued).toBe(0)
    await db.transaction().execute(rebuildStats)
    expect(await statsSnapshot(db)).toEqual(live)
  })
})
