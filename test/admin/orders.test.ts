import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
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
let projectA: string
let projectB: string
let linkA: string
let linkB: string
const orders: Record<string, string> = {}

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
  projectA = (await createProject(ctx.app, merchant)).id
  projectB = (await createProject(ctx.app, merchant)).id
  linkA = (
    await createPaylink(ctx.app, merchant, projectA, [(await createProduct(ctx.app, merchant, projectA)).id])
  ).id
  linkB = (
    await createPaylink(ctx.app, merchant, projectB, [(await createProduct(ctx.app, merchant, projectB)).id])
  ).id
  for (const [name, link] of [
    ['a1', linkA],
    ['a2', linkA],
    ['b1', linkB],
  ] as const) {
    ctx.clock.advance(1000)
    orders[name] = (await openPaylink(ctx.app, link)).orderId as string
  }
  const session = await openPaymentPage(ctx.app, orders.a2 as string)
  await submitPayment(ctx.app, orders.a2 as string, session, GOOD_CARD)
})
afterAll(() => ctx.close())

describe('GET /orders', () => {
  it.each([
    ['', ['b1', 'a2', 'a1']],
    ['?project_id=PA', ['a2', 'a1']],
    ['?paylink_id=LB', ['b1']],
    ['?status=paid', ['a2']],
    ['?status=created&project_id=PA', ['a1']],
    ['?limit=1&offset=1', ['a2']],
  ])('filters %s', async (query, expected) => {
    const res = await api(
      ctx.app,
      merchant,
      'GET',
      `/orders${query.replace('PA', projectA).replace('LB', linkB)}`,
    )
    expect(res.status).toBe(200)
    expect(res.body.orders.map((o: { id: string }) => o.id)).toEqual(expected.map((n) => orders[n]))
    expect(res.body.total).toBe(query.includes('limit=1') ? 3 : expected.length)
  })

  it('rejects an unknown status naming the allowed ones', async () => {
    const res = await api(ctx.app, merchant, 'GET', '/orders?status=teleported')
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.details.field).toBe('status')
  })

  it.each([
    ['?portal_id=por_%00', 'portal_id'],
    ['?status=paid&status=%00', 'status[1]'],
  ])('refuses a NUL in the query string %s naming the field', async (query, field) => {
    const res = await api(ctx.app, merchant, 'GET', `/orders${query}`)
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: `${field}: must not contain NUL characters`,
      details: { field, rule: 'nul', location: 'querystring' },
    })
  })

  it('shows another merchant none of these orders', async () => {
    const res = await api(ctx.app, intruder, 'GET', '/orders')
    expect(res.body.total).toBe(0)
  })
})

describe('GET /orders/:id', () => {
  it('answers the order with its items and payment attempts', async () => {
    const res = await api(ctx.app, merchant, 'GET', `/orders/${orders.a2}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: orders.a2, object: 'order', status: 'paid', paylink_id: linkA })
    expect(res.body.payments).toHaveLength(1)
  })

  it('answers 404 for another merchant’s, an unknown and a malformed order alike', async () => {
    for (const id of [orders.a1, `ord_${'0'.repeat(24)}`, 'nope']) {
      const res = await api(ctx.app, intruder, 'GET', `/orders/${id}`)
      expect(res.status).toBe(404)
      expect(res.body).toEqual({ code: 'order_not_found', message: 'order not found' })
    }
  })
})

describe('paylink stat with real orders', () => {
  it('counts the visits, orders, the paid order and its revenue', async () => {
    const res = await api(ctx.app, merchant, 'GET', `/paylinks/${linkA}/stat`)
    expect(res.body).toEqual({
      visits: 2,
      unique_visitors: 1,
      orders: 2,
      paid_orders: 1,
      conversion: 0.5,
      revenue: [{ currency: 'USD', amount: 1999 }],
      refunded: [],
      net_revenue: [{ currency: 'USD', amount: 1999 }],
    })
  })
})

describe('deleting a product that an order refers to', () => {
  it('archives it', async () => {
    const project = await createProject(ctx.app, merchant)
    const product = await createProduct(ctx.app, merchant, project.id)
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    await openPaylink(ctx.app, link.id)
    await api(ctx.app, merchant, 'DELETE', `/paylinks/${link.id}`)
    expect((await api(ctx.app, merchant, 'DELETE', `/products/${product.id}`)).status).toBe(204)
    expect((await api(ctx.app, merchant, 'GET', `/products/${product.id}`)).body.archived).toBe(true)
  })
})
