// The paylinks admin API against its specification: the spec's examples, each rule and each error body.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rebuildStats } from '../../src/modules/analytics/rollup.js'
import { openPaylink } from '../helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js'
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
let products: string[]
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  products = []
  for (let i = 0; i < 7; i++) products.push((await createProduct(ctx.app, merchant, projectId)).id)
})
afterAll(() => ctx.close())

const err = (code: string, message: string) => ({ code, message })
const seconds = (date: Date) => Math.floor(date.getTime() / 1000)

describe('POST /paylinks', () => {
  it('answers the spec example: the paylink object with expiry life_days from now', async () => {
    const now = ctx.clock.now()
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: [products[0], products[1]],
      project_id: projectId,
    })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      object: 'paylink',
      products: [products[0], products[1]],
      expires_at: { seconds: seconds(now) + 7 * 86400, nanos: 0 },
      created_at: { seconds: seconds(now), nanos: 0 },
      updated_at: { seconds: seconds(now), nanos: 0 },
      merchant_id: merchant.id,
      project_id: projectId,
      name: null,
      life_days: 7,
      is_expired: false,
      url: `${PUBLIC_URL}/paylink/${res.body.id}`,
      visits: 0,
      sales_count: 0,
      conversion: 0,
      revenue: [],
      transactions_currency: 'USD',
      gross_total_amount: 0,
    })
    const stored = await ctx.database.db
      .selectFrom('paylink_products')
      .select(['product_id', 'position'])
      .where('paylink_id', '=', res.body.id)
      .orderBy('position')
      .execute()
    expect(stored).toEqual([
      { product_id: products[0], position: 0 },
      { product_id: products[1], position: 1 },
    ])
  })

  it('keeps the nanoseconds of the creation instant', async () => {
    ctx.clock.set(new Date(1554322003616))
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    expect(link.expires_at).toEqual({ seconds: 1554322003 + 7 * 86400, nanos: 616000000 })
    ctx.clock.set(new Date('2026-03-01T12:00:00.000Z'))
  })

  it('accepts 1 and 6 products and an optional name', async () => {
    expect((await createPaylink(ctx.app, merchant, projectId, products.slice(0, 1))).products).toHaveLength(1)
    const six = await createPaylink(ctx.app, merchant, projectId, products.slice(0, 6), { name: 'Bundle' })
    expect(six.products).toEqual(products.slice(0, 6))
  })

  it('stores the name without its surrounding whitespace', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, products.slice(0, 1), {
      name: ' Spring sale\t',
    })
    expect(link).toMatchObject({ name: 'Spring sale' })
    const row = await ctx.database.db
      .selectFrom('paylinks')
      .select('name')
      .where('id', '=', link.id)
      .executeTakeFirstOrThrow()
    expect(row.name).toBe('Spring sale')
  })

  it.each([
    ['a blank name', { name: '  ' }, 'name: must not be blank', 'name', 'blank'],
    ['a name with NUL', { name: 'Spr\u0000ing' }, 'name: must not contain NUL characters', 'name', 'nul'],
    [
      'a product id with NUL',
      { products: ['\u0000'] },
      'products[0]: must not contain NUL characters',
      'products[0]',
      'nul',
    ],
  ])('refuses %s on create and update, and writes nothing', async (_case, fields, message, field, rule) => {
    const link = await createPaylink(ctx.app, merchant, projectId, products.slice(0, 1), { name: 'Before' })
    const count = () => ctx.database.db.selectFrom('paylinks').select('id').execute()
    const before = await count()
    const body = { life_days: 7, products: products.slice(0, 1), project_id: projectId, ...fields }
    for (const [method, url] of [
      ['POST', '/paylinks'],
      ['PUT', `/paylinks/${link.id}`],
    ] as const) {
      const res = await api(ctx.app, merchant, method, url, body)
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        code: 'validation_failed',
        message,
        details: { field, rule, location: 'body' },
      })
    }
    expect(await count()).toEqual(before)
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.name).toBe('Before')
  })

  it.each([
    ['no products', () => [], 'pl000005', 'paylink products length invalid'],
    ['seven products', () => products.slice(0, 7), 'pl000005', 'paylink products length invalid'],
  ])('answers %s with pl000005', async (_case, list, code, message) => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: list(),
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual(err(code, message))
  })

  it('rejects duplicate products naming the rule', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: [products[0], products[0]],
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: 'products: must not contain duplicates',
      details: { field: 'products', rule: 'uniqueItems', location: 'body' },
    })
  })

  it('answers pl000010 for an unknown product, an archived one and another merchant’s one alike', async () => {
    const theirProject = await createProject(ctx.app, intruder)
    const theirs = await createProduct(ctx.app, intruder, theirProject.id)
    const archived = await createProduct(ctx.app, merchant, projectId)
    await api(ctx.app, merchant, 'PATCH', `/products/${archived.id}`, { archived: true })
    for (const [id, detail] of [
      ['0'.repeat(24), 'missing'],
      [theirs.id, 'missing'],
      [archived.id, 'archived'],
    ] as const) {
      const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
        life_days: 7,
        products: [products[0], id],
        project_id: projectId,
      })
      expect(res.status).toBe(404)
      expect(res.body).toEqual({
        code: 'pl000010',
        message: 'at least one of paylink products is not found',
        details: { field: 'products', [detail]: [id] },
      })
    }
  })

  it('answers pl000008 for a product of another project of the merchant', async () => {
    const other = await createProject(ctx.app, merchant)
    const foreign = await createProduct(ctx.app, merchant, other.id)
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: [products[0], foreign.id],
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'pl000008',
      message: 'at least one of paylink products is not belongs to project',
      details: { field: 'products', products: [foreign.id] },
    })
  })

  it.each([
    [0, 'pl000004', 'paylink expiry date in past', 400],
    [-3, 'pl000004', 'paylink expiry date in past', 400],
  ])('answers life_days %i with %s', async (lifeDays, code, message, status) => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: lifeDays,
      products: [products[0]],
      project_id: projectId,
    })
    expect(res.status).toBe(status)
    expect(res.body).toEqual({ code, message, details: { field: 'life_days' } })
  })

  it.each([2, 31, 365])('rejects life_days %i, which is not an allowed value', async (lifeDays) => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: lifeDays,
      products: [products[0]],
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: 'life_days: must be one of 1, 7, 30',
      details: { field: 'life_days', rule: 'enum' },
    })
  })

  it.each([
    [
      { products: ['x'], project_id: 'p', life_days: 7 },
      'products[0]: must be a 24-character lowercase hex id',
    ],
    [{ products: [], life_days: 7 }, 'project_id: is required'],
    [{ products: ['a'.repeat(24)], project_id: 'a'.repeat(24) }, 'life_days: is required'],
    [{ project_id: 'a'.repeat(24), life_days: 7 }, 'products: is required'],
    [
      { products: ['a'.repeat(24)], project_id: 'a'.repeat(24), life_days: 1.5 },
      'life_days: must be an integer',
    ],
    [{ products: 'a', project_id: 'a'.repeat(24), life_days: 7 }, 'products: must be an array'],
  ])('rejects malformed body %j', async (body, message) => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', body)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.message).toBe(message)
  })

  it('answers 404 for a missing project or another merchant’s project', async () => {
    const theirs = await createProject(ctx.app, intruder)
    for (const id of [theirs.id, 'b'.repeat(24)]) {
      const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
        life_days: 7,
        products: [products[0]],
        project_id: id,
      })
      expect(res.status).toBe(404)
      expect(res.body).toEqual({
        code: 'project_not_found',
        message: `project ${id} not found`,
        details: { field: 'project_id' },
      })
    }
  })

  it('writes nothing when a rule fails', async () => {
    const count = async () =>
      Number(
        (
          await ctx.database.db
            .selectFrom('paylinks')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )
    const before = await count()
    await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: [products[0], '0'.repeat(24)],
      project_id: projectId,
    })
    expect(await count()).toBe(before)
  })

  it('honours a configured set of lifetimes', async () => {
    const custom = await createTestContext({ env: { PAYLINK_LIFE_DAYS: '3,90' } })
    try {
      const m = await createMerchant(custom.services)
      const p = await createProject(custom.app, m)
      const pr = await createProduct(custom.app, m, p.id)
      expect((await createPaylink(custom.app, m, p.id, [pr.id], { life_days: 90 })).products).toEqual([pr.id])
      const res = await api(custom.app, m, 'POST', '/paylinks', {
        life_days: 7,
        products: [pr.id],
        project_id: p.id,
      })
      expect(res.body.message).toBe('life_days: must be one of 3, 90')
    } finally {
      await custom.close()
    }
  })
})

describe('PUT /paylinks/:id', () => {
  it('replaces the products and restarts the expiry from the update time (spec example)', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string], { life_days: 1 })
    ctx.clock.advance(3 * DAY)
    const now = ctx.clock.now()
    const res = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      life_days: 7,
      products: [products[1], products[2]],
      project_id: projectId,
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      id: link.id,
      products: [products[1], products[2]],
      expires_at: { seconds: seconds(now) + 7 * 86400, nanos: 0 },
      updated_at: { seconds: seconds(now), nanos: 0 },
      life_days: 7,
      is_expired: false,
    })
    expect(res.body.created_at).toEqual(
      (await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.created_at,
    )
    expect(res.body.created_at.seconds).toBe(seconds(now) - 3 * 86400)
  })

  it('answers pl000003 when the project changes, and changes nothing', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const other = await createProject(ctx.app, merchant)
    const otherProduct = await createProduct(ctx.app, merchant, other.id)
    const res = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      life_days: 7,
      products: [otherProduct.id],
      project_id: other.id,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'pl000003',
      message: 'projectId mismatch for existing paylink',
      details: { field: 'project_id', expected: projectId },
    })
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.products).toEqual([products[0]])
  })

  it('applies the product rules of creation', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      life_days: 7,
      products: [],
      project_id: projectId,
    })
    expect(res.body).toEqual(err('pl000005', 'paylink products length invalid'))
  })
})

describe('unknown, deleted and other merchants’ paylinks', () => {
  it('answer pl000002 on every endpoint, identically', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const deleted = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    expect((await api(ctx.app, merchant, 'DELETE', `/paylinks/${deleted.id}`)).status).toBe(204)
    const body = { life_days: 7, products: [products[0]], project_id: projectId }
    const cases: [TestMerchant, string][] = [
      [intruder, link.id],
      [merchant, deleted.id],
      [merchant, 'c'.repeat(32)],
      [merchant, 'not-a-paylink-id'],
    ]
    for (const [who, id] of cases) {
      for (const [method, path, payload] of [
        ['GET', `/paylinks/${id}`, undefined],
        ['PUT', `/paylinks/${id}`, body],
        ['DELETE', `/paylinks/${id}`, undefined],
        ['GET', `/paylinks/${id}/stat`, undefined],
        ['GET', `/paylinks/${id}/url?utm_source=x`, undefined],
      ] as const) {
        const res = await api(ctx.app, who, method, path, payload)
        expect({ method, path, status: res.status, body: res.body }).toEqual({
          method,
          path,
          status: 404,
          body: err('pl000002', 'paylink not found'),
        })
      }
    }
    const stillThere = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)
    expect(stillThere.status).toBe(200)
  })
})

describe('DELETE /paylinks/:id', () => {
  it('answers 204 with no content, hides the link and keeps its row for statistics', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await ctx.app.inject({
      method: 'DELETE',
      url: `/admin/api/v1/paylinks/${link.id}`,
      headers: merchant.headers,
    })
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    const list = await api(ctx.app, merchant, 'GET', `/paylinks/project/${projectId}?limit=100`)
    expect(list.body.paylinks.map((p: { id: string }) => p.id)).not.toContain(link.id)
    const row = await ctx.database.db
      .selectFrom('paylinks')
      .selectAll()
      .where('id', '=', link.id)
      .executeTakeFirst()
    expect(row?.deleted_at).toEqual(ctx.clock.now())
  })
})

describe('GET /paylinks/:id/url', () => {
  it('answers the spec example with the parameters sorted and each value on its own key', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(
      ctx.app,
      merchant,
      'GET',
      `/paylinks/${link.id}/url?utm_source=3wefwe&utm_medium=njytrn&utm_campaign=bdfbh5`,
    )
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      url: `${PUBLIC_URL}/paylink/${link.id}?utm_campaign=bdfbh5&utm_medium=njytrn&utm_source=3wefwe`,
    })
  })

  it.each([
    ['', ''],
    ['?utm_source=news', '?utm_source=news'],
    ['?utm_campagin=spring', '?utm_campaign=spring'],
    ['?utm_campagin=typo&utm_campaign=right', '?utm_campaign=right'],
    ['?utm_medium=e%20mail&utm_source=a%26b%3Dc', '?utm_medium=e%20mail&utm_source=a%26b%3Dc'],
    ['?utm_source=%C3%A9t%C3%A9%2F%3F%23', '?utm_source=%C3%A9t%C3%A9%2F%3F%23'],
    ['?utm_term=x&utm_content=y&utm_source=z', '?utm_content=y&utm_source=z&utm_term=x'],
    ['?ref=unrelated&utm_source=s', '?utm_source=s'],
  ])('maps query %s to %s', async (query, expected) => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/url${query}`)
    expect(res.body.url).toBe(`${PUBLIC_URL}/paylink/${link.id}${expected}`)
    const parsed = new URL(res.body.url)
    const given = new URLSearchParams(query)
    if (given.get('utm_source')) expect(parsed.searchParams.get('utm_source')).toBe(given.get('utm_source'))
  })

  it('rejects an overlong UTM value', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/url?utm_source=${'x'.repeat(201)}`)
    expect(res.status).toBe(400)
    expect(res.body.message).toBe('utm_source: must be at most 200 characters')
  })

  it('answers pl000001 410 from the expiry instant on, not a millisecond before', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string], { life_days: 1 })
    const start = ctx.clock.now()
    ctx.clock.set(new Date(start.getTime() + DAY - 1))
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/url`)).status).toBe(200)
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.is_expired).toBe(false)
    ctx.clock.set(new Date(start.getTime() + DAY))
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/url`)
    expect(res.status).toBe(410)
    expect(res.body).toEqual(err('pl000001', 'payment link expired'))
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.is_expired).toBe(true)
    ctx.clock.set(start)
  })
})

describe('GET /paylinks/:id/stat', () => {
  it('answers zeros for a new link', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/stat`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      visits: 0,
      unique_visitors: 0,
      orders: 0,
      paid_orders: 0,
      conversion: 0,
      revenue: [],
      refunded: [],
      net_revenue: [],
    })
  })

  it('counts visits, unique visitors, orders, paid orders, conversion and revenue per currency', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const now = ctx.clock.now()
    const { db } = ctx.database
    await db
      .insertInto('visits')
      .values(
        ['a', 'a', 'b', 'c'].map((visitor) => ({
          paylink_id: link.id,
          project_id: projectId,
          visited_at: now,
          visitor_hash: visitor,
        })),
      )
      .execute()
    const order = (n: number, currency: string, amount: number, paid: boolean) => ({
      id: `ord_${n.toString(16).padStart(24, '0')}`,
      merchant_id: merchant.id,
      project_id: projectId,
      paylink_id: link.id,
      status: paid ? ('paid' as const) : ('created' as const),
      currency,
      total_amount: amount,
      created_at: now,
      updated_at: now,
      expires_at: now,
      paid_at: paid ? now : null,
    })
    await db
      .insertInto('orders')
      .values([
        order(1, 'USD', 1999, true),
        order(2, 'USD', 1, true),
        order(3, 'JPY', 500, true),
        order(4, 'USD', 999, false),
      ])
      .execute()
    // The rows were written around the service, so the rollups are recounted from them.
    await db.transaction().execute(rebuildStats)
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/stat`)
    expect(res.body).toEqual({
      visits: 4,
      unique_visitors: 3,
      orders: 4,
      paid_orders: 3,
      conversion: 0.75,
      revenue: [
        { currency: 'JPY', amount: 500 },
        { currency: 'USD', amount: 2000 },
      ],
      refunded: [],
      net_revenue: [
        { currency: 'JPY', amount: 500 },
        { currency: 'USD', amount: 2000 },
      ],
    })
  })
})

describe('GET /paylinks/project/:project_id', () => {
  let project: string
  let made: string[]
  beforeAll(async () => {
    project = (await createProject(ctx.app, merchant)).id
    const product = await createProduct(ctx.app, merchant, project)
    made = []
    for (let i = 0; i < 12; i++) {
      ctx.clock.advance(1000)
      made.push((await createPaylink(ctx.app, merchant, project, [product.id])).id)
    }
  })

  it('answers the spec shape, newest first, with default limit 10', async () => {
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/project/${project}`)
    expect(res.status).toBe(200)
    expect(Object.keys(res.body)).toEqual([
      'merchant_id',
      'project_id',
      'limit',
      'offset',
      'total',
      'paylinks',
    ])
    expect(res.body).toMatchObject({
      merchant_id: merchant.id,
      project_id: project,
      limit: 10,
      offset: 0,
      total: 12,
    })
    expect(res.body.paylinks.map((p: { id: string }) => p.id)).toEqual([...made].reverse().slice(0, 10))
    expect(res.body.paylinks[0]).toEqual((await api(ctx.app, merchant, 'GET', `/paylinks/${made[11]}`)).body)
  })

  it.each([
    ['offset=0&limit=10', 10, 10],
    ['offset=10&limit=10', 2, 10],
    ['offset=12&limit=5', 0, 5],
    ['offset=500', 0, 10],
    ['limit=100', 12, 100],
    ['limit=1', 1, 1],
  ])('pages with %s', async (query, count, limit) => {
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/project/${project}?${query}`)
    expect(res.status).toBe(200)
    expect(res.body.paylinks).toHaveLength(count)
    expect(res.body.total).toBe(12)
    expect(res.body.limit).toBe(limit)
  })

  it.each([
    ['limit=0', 'limit: must be at least 1'],
    ['limit=101', 'limit: must be at most 100'],
    ['offset=-1', 'offset: must be at least 0'],
    ['limit=abc', 'limit: must be an integer'],
  ])('rejects %s', async (query, message) => {
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/project/${project}?${query}`)
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message,
      details: expect.objectContaining({ location: 'querystring' }),
    })
  })

  it('answers 404 for another merchant’s project', async () => {
    const res = await api(ctx.app, intruder, 'GET', `/paylinks/project/${project}`)
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('project_not_found')
  })
})

// What PaySuper's merchant dashboard (paysuper-dashboard, written for PaySuper's later paylinks API) sends
// and reads, where it does not contradict the specification.
describe('PUT /paylinks/:id with the link’s own id in the body', () => {
  it('accepts the id of the link in the path, as the dashboard’s editItem sends it, and a new name', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string], { name: 'Old' })
    const res = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      id: link.id,
      name: 'Spring sale',
      life_days: 7,
      products: [products[1]],
      project_id: projectId,
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: link.id, name: 'Spring sale', products: [products[1]] })
    // Without a name the link keeps its own.
    const kept = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      life_days: 7,
      products: [products[2]],
      project_id: projectId,
    })
    expect(kept.body.name).toBe('Spring sale')
    const row = await ctx.database.db
      .selectFrom('paylinks')
      .select('name')
      .where('id', '=', link.id)
      .executeTakeFirstOrThrow()
    expect(row.name).toBe('Spring sale')
  })

  it.each([
    ['another link’s id', () => 'd'.repeat(32)],
    ['a malformed id', () => '5ca50e3868add4353c4815d2'],
  ])('answers 400 naming id for %s, and changes nothing', async (_case, id) => {
    const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
    const res = await api(ctx.app, merchant, 'PUT', `/paylinks/${link.id}`, {
      id: id(),
      life_days: 7,
      products: [products[1]],
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: `id: must be the id of the paylink in the path, ${link.id}`,
      details: { field: 'id', rule: 'const' },
    })
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.products).toEqual([products[0]])
  })

  it('still refuses an id in the body of a create', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      id: 'e'.repeat(32),
      life_days: 7,
      products: [products[0]],
      project_id: projectId,
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: 'id: is not a known field',
      details: { field: 'id', rule: 'unknown', location: 'body' },
    })
  })
})

describe('GET /paylinks', () => {
  let mine: TestMerchant
  let made: string[]
  beforeAll(async () => {
    mine = await createMerchant(ctx.services)
    made = []
    for (let p = 0; p < 3; p++) {
      const project = await createProject(ctx.app, mine)
      const product = await createProduct(ctx.app, mine, project.id)
      for (let i = 0; i < 4; i++) {
        ctx.clock.advance(1000)
        made.push((await createPaylink(ctx.app, mine, project.id, [product.id])).id)
      }
    }
    const deleted = made.splice(5, 1)[0]
    await api(ctx.app, mine, 'DELETE', `/paylinks/${deleted}`)
  })

  it('lists the merchant’s links of every project, newest first, as {count, items} with a total', async () => {
    const res = await api(ctx.app, mine, 'GET', '/paylinks')
    expect(res.status).toBe(200)
    expect(Object.keys(res.body)).toEqual(['merchant_id', 'count', 'limit', 'offset', 'total', 'items'])
    expect(res.body).toMatchObject({ merchant_id: mine.id, count: 11, limit: 10, offset: 0, total: 11 })
    expect(res.body.items.map((p: { id: string }) => p.id)).toEqual([...made].reverse().slice(0, 10))
    expect(res.body.items[0]).toEqual((await api(ctx.app, mine, 'GET', `/paylinks/${made[10]}`)).body)
  })

  it.each([
    ['offset=10&limit=10', 1, 10, 10],
    ['offset=2&limit=3', 3, 3, 2],
    ['offset=11', 0, 10, 11],
    ['limit=100', 11, 100, 0],
  ])('pages with %s', async (query, length, limit, offset) => {
    const res = await api(ctx.app, mine, 'GET', `/paylinks?${query}`)
    expect(res.status).toBe(200)
    expect(res.body.items).toHaveLength(length)
    expect(res.body).toMatchObject({ count: 11, total: 11, limit, offset })
    const all = [...made].reverse()
    expect(res.body.items.map((p: { id: string }) => p.id)).toEqual(all.slice(offset, offset + limit))
  })

  it.each([
    ['limit=0', 'limit: must be at least 1'],
    ['limit=101', 'limit: must be at most 100'],
    ['offset=-1', 'offset: must be at least 0'],
    ['offset=99999999999999999999', 'offset: must be at most 1000000'],
  ])('rejects %s', async (query, message) => {
    const res = await api(ctx.app, mine, 'GET', `/paylinks?${query}`)
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message,
      details: expect.objectContaining({ location: 'querystring' }),
    })
  })

  it('shows another merchant none of them', async () => {
    const res = await api(ctx.app, intruder, 'GET', '/paylinks?limit=100')
    expect(res.body.items.map((p: { id: string }) => p.id)).not.toEqual(expect.arrayContaining([made[0]]))
    for (const item of res.body.items) expect(item.merchant_id).toBe(intruder.id)
  })
})

describe('the paylink object’s figures', () => {
  it('carries visits, sales, conversion and revenue per currency and in its project’s currency', async () => {
    const project = await createProject(ctx.app, merchant, { default_currency: 'KWD' })
    const product = await createProduct(ctx.app, merchant, project.id, {
      prices: [
        { currency: 'KWD', amount: 1999 },
        { currency: 'USD', amount: 5000 },
      ],
    })
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    for (let i = 0; i < 4; i++) await openPaylink(ctx.app, link.id)
    const { db } = ctx.database
    const orders = await db
      .selectFrom('orders')
      .select('id')
      .where('paylink_id', '=', link.id)
      .orderBy('id')
      .execute()
    // Two paid in KWD (as opened), one re-priced to USD then paid, one left open.
    const now = ctx.clock.now()
    await db
      .updateTable('orders')
      .set({ status: 'paid', paid_at: now })
      .where('id', 'in', [orders[0]?.id as string, orders[1]?.id as string])
      .execute()
    await db
      .updateTable('orders')
      .set({ status: 'paid', paid_at: now, currency: 'USD', total_amount: 5000 })
      .where('id', '=', orders[2]?.id as string)
      .execute()
    await db.transaction().execute(rebuildStats)

    const figures = {
      visits: 4,
      sales_count: 3,
      conversion: 0.75,
      revenue: [
        { currency: 'KWD', amount: 3998 },
        { currency: 'USD', amount: 5000 },
      ],
      transactions_currency: 'KWD',
      gross_total_amount: 3.998,
    }
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body).toMatchObject(figures)
    const listed = await api(ctx.app, merchant, 'GET', `/paylinks/project/${project.id}`)
    expect(listed.body.paylinks[0]).toMatchObject(figures)
    const all = await api(ctx.app, merchant, 'GET', '/paylinks?limit=100')
    expect(all.body.items.find((p: { id: string }) => p.id === link.id)).toMatchObject(figures)
    // The same counts as the link's stat.
    const stat = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/stat`)
    expect(stat.body).toMatchObject({ visits: 4, paid_orders: 3, conversion: 0.75, revenue: figures.revenue })
  })
})

describe('the total of a paylink', () => {
  const MAX = 999_999_999_999
  let big: string
  let one: string
  let euro: string
  beforeAll(async () => {
    const price = (currency: string, amount: number) => ({ currency, amount })
    big = (
      await createProduct(ctx.app, merchant, projectId, { prices: [price('USD', MAX), price('JPY', 5)] })
    ).id
    one = (await createProduct(ctx.app, merchant, projectId, { prices: [price('USD', 1), price('JPY', 1)] }))
      .id
    euro = (await createProduct(ctx.app, merchant, projectId, { prices: [price('EUR', MAX)] })).id
  })

  it.each([
    ['POST', 'the largest price, then 1', () => [big, one], 'products[1]', 'USD'],
    ['POST', '1, then the largest price', () => [one, big], 'products[1]', 'USD'],
    ['PUT', '19.99, then the largest price', () => [products[0] as string, big], 'products[1]', 'USD'],
  ])(
    '%s refuses %s, a total over the maximum in a currency all its products have',
    async (method, _case, list, field, currency) => {
      const link = await createPaylink(ctx.app, merchant, projectId, [products[0] as string])
      const ids = list()
      const res = await api(
        ctx.app,
        merchant,
        method as 'POST' | 'PUT',
        method === 'POST' ? '/paylinks' : `/paylinks/${link.id}`,
        {
          life_days: 7,
          products: ids,
          project_id: projectId,
        },
      )
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        code: 'validation_failed',
        message: `${field}: brings the link's total in ${currency} over the maximum amount, 999999999999 minor units`,
        details: { field, rule: 'maxTotal' },
      })
      expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).body.products).toEqual([
        products[0],
      ])
    },
  )

  it('accepts a link whose over-large sum is in no currency all its products share', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      products: [big, euro],
      project_id: projectId,
    })
    expect(res.status).toBe(200)
  })

  it('shows its “cannot be paid” page when a later price change brings the total over it', async () => {
    const cheap = await createProduct(ctx.app, merchant, projectId, {
      prices: [{ currency: 'USD', amount: 1 }],
    })
    const almost = await createProduct(ctx.app, merchant, projectId, {
      prices: [{ currency: 'USD', amount: MAX - 1 }],
    })
    // Exactly the maximum is accepted; the link is not opened before the change (the public path keeps a
    // link for a second).
    const link = await createPaylink(ctx.app, merchant, projectId, [almost.id, cheap.id])
    const patched = await api(ctx.app, merchant, 'PATCH', `/products/${cheap.id}`, {
      prices: [{ currency: 'USD', amount: 2 }],
    })
    expect(patched.status).toBe(200)
    const { db } = ctx.database
    const count = async (table: 'orders' | 'visits') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where('paylink_id', '=', link.id)
            .executeTakeFirstOrThrow()
        ).n,
      )
    const res = await ctx.app.inject(`/paylink/${link.id}`)
    expect(res.statusCode).toBe(409)
    expect(res.body).toContain('This link cannot be paid right now')
    expect(res.body).toContain('Its total is more than one order can take.')
    expect(await count('orders')).toBe(0)
    expect(await count('visits')).toBe(1)
  })
})
