// The dashboard routes' contract: defaults, bad input named field by field, and other merchants' objects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rebuildStats } from '../../src/modules/analytics/rollup.js'
import { openPaylink } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'

let ctx: TestContext
let merchant: TestMerchant
let intruder: TestMerchant
let projectId: string
let linkId: string
const DIMS = ['summary', 'country', 'referrer', 'utm', 'date']

beforeAll(async () => {
  ctx = await createTestContext({ start: new Date('2026-05-10T10:00:00Z') })
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
      visits: 1,
      unique_visitors: 1,
      orders: 1,
      paid_orders: 0,
      conversion: 0,
      revenue: [],
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
    })
    expect(date.body.top.at(-1)).toMatchObject({
      date: '2026-05-10',
      visits: 1,
      unique_visitors: 1,
      orders: 1,
    })
    const referrer = await api(ctx.app, merchant, 'GET', `/paylinks/${linkId}/dashboard/referrer`)
    expect(referrer.body.top).toEqual([
      { referrer: 'example.net', visits: 1, orders: 1, paid_orders: 0, conversion: 0, revenue: [] },
    ])
    const utm = await api(ctx.app, merchant, 'GET', `/projects/${projectId}/dashboard/utm`)
    expect(utm.body.top).toEqual([
      {
        utm_source: 'news',
        utm_medium: null,
        utm_campaign: null,
        visits: 1,
        orders: 1,
        paid_orders: 0,
        conversion: 0,
        revenue: [],
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

describe('concurrent visits', () => {
  it('count a visitor once a day however the visits are batched, and agree with a rebuild', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const link = await createPaylink(ctx.app, merchant, projectId, [product.id])
    const same = { 'user-agent': 'Same/1' }
    await Promise.all(Array.from({ length: 40 }, () => openPaylink(ctx.app, link.id, '', same)))
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => openPaylink(ctx.app, link.id, '', { 'user-agent': `Other/${i}` })),
    )
    const summary = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/dashboard/summary`)
    expect(summary.body).toMatchObject({ visits: 50, unique_visitors: 11, orders: 50 })
    const { db } = ctx.database
    const snapshot = () => db.selectFrom('link_stats').selectAll().where('owner_id', '=', link.id).execute()
    const live = await snapshot()
    await db.transaction().execute(rebuildStats)
    expect(new Set(await snapshot())).toEqual(new Set(live))
  })
})
