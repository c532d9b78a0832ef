import { randomBytes } from 'node:crypto'
import pg from 'pg'
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
import { paidOrder } from '../helpers/payments.js'
import { waitFor } from '../helpers/wait.js'

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

describe('GET /orders/:id while a refund settles', () => {
  it('answers the order and its refunds as of one moment, never a refund beside the order before it', async () => {
    const link = (
      await createPaylink(ctx.app, merchant, projectA, [
        (await createProduct(ctx.app, merchant, projectA)).id,
      ])
    ).id
    const { orderId, payment } = await paidOrder(ctx, link)
    // A writer that settles a refund as the provider's event does: the refund and the order, in one
    // transaction. It holds the refunds table, so that a reader of the order waits on it in mid-answer.
    const writer = new pg.Client({ connectionString: ctx.databaseUrl })
    await writer.connect()
    try {
      await writer.query('begin')
      await writer.query('lock table refunds in access exclusive mode')
      const answer = api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
      await waitFor(async () => {
        const { rows } = await writer.query(
          `select 1 from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        )
        return rows.length > 0
      }, 'the order read to wait for the refunds table')
      const now = new Date(ctx.clock.now())
      await writer.query(
        `insert into refunds (id, merchant_id, order_id, payment_id, amount, currency, reason, origin, status,
                              created_at, updated_at)
         values ($1, $2, $3, $4, 500, 'USD', 'requested_by_customer', 'api', 'succeeded', $5, $5)`,
        [`re_${randomBytes(12).toString('hex')}`, merchant.id, orderId, payment.id, now],
      )
      await writer.query(
        `update orders set status = 'partially_refunded', amount_refunded = 500, updated_at = $2 where id = $1`,
        [orderId, now],
      )
      await writer.query('commit')
      const { status, body } = await answer
      expect(status).toBe(200)
      // As of before the refund: the read began then, and all of it sees that moment.
      expect({ status: body.status, refunded: body.amount_refunded, refunds: body.refunds }).toEqual({
        status: 'paid',
        refunded: 0,
        refunds: [],
      })
      const after = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
      expect(after.body).toMatchObject({ status: 'partially_refunded', amount_refunded: 500 })
      expect(after.body.refunds).toMatchObject([{ amount: 500, status: 'succeeded' }])
    } finally {
      await writer.query('rollback').catch(() => {})
      await writer.end()
    }
  })
})
