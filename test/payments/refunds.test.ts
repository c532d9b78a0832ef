// Refunds of paid orders through the admin API: in full or in part up to what was paid, idempotent with
// an Idempotency-Key, settled by the provider's events, shown on the order, in webhooks and statistics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { card, openPaylink } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { eventsOf, paidOrder } from '../helpers/payments.js'

let ctx: TestContext
let merchant: TestMerchant
let other: TestMerchant
let projectId: string
let paylinkId: string

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  await listenToEverything(ctx.services, merchant.id)
  other = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 3000 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

const refund = (orderId: string, body?: unknown, headers: Record<string, string> = {}, who = merchant) =>
  ctx.app
    .inject({
      method: 'POST',
      url: `/admin/api/v1/orders/${orderId}/refunds`,
      headers: {
        ...who.headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    .then((r) => ({ status: r.statusCode, body: JSON.parse(r.body) }))

const refundsOf = (orderId: string) =>
  ctx.database.db
    .selectFrom('refunds')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .execute()

/** Lets the sandbox settle what is due (refunds settle a second later) and deliver its events. */
async function settle() {
  ctx.clock.advance(1_000)
  await ctx.services.sandbox.runOnce()
}

describe('POST /orders/:id/refunds', () => {
  it('refunds the whole order by default: pending, then succeeded by the provider’s event', async () => {
    const { orderId, payment } = await paidOrder(ctx, paylinkId)
    const res = await refund(orderId)
    expect(res.status).toBe(201)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^re_[0-9a-f]{24}$/),
      object: 'refund',
      order_id: orderId,
      payment_id: payment.id,
      amount: 3000,
      currency: 'USD',
      reason: null,
      origin: 'api',
      status: 'pending',
      failure_reason: null,
      created_at: expect.any(String),
      settled_at: null,
    })
    await settle()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'refunded',
      amount_refunded: 3000,
      refunds: [{ id: res.body.id, status: 'succeeded', amount: 3000 }],
      payments: [{ id: payment.id, status: 'succeeded', amount_refunded: 3000 }],
    })
    expect((await eventsOf(ctx, orderId)).slice(2).sort()).toEqual(['order.refunded', 'refund.succeeded'])
    const stat = await api(ctx.app, merchant, 'GET', `/paylinks/${paylinkId}/stat`)
    expect(stat.body.refunded).toContainEqual({ currency: 'USD', amount: 3000 })
  })

  it('refunds in parts up to what was paid, and names the amount left when asked for more', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    expect((await refund(orderId, { amount: 1000, reason: 'requested_by_customer' })).status).toBe(201)
    await settle()
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body).toMatchObject({
      status: 'partially_refunded',
      amount_refunded: 1000,
    })
    const over = await refund(orderId, { amount: 2001 })
    expect(over).toEqual({
      status: 400,
      body: {
        code: 'validation_failed',
        message: 'amount: must be at most 2000 (20.00 USD, the amount left to refund)',
        details: { field: 'amount', rule: 'maximum' },
      },
    })
    expect(await refundsOf(orderId)).toHaveLength(1)
    expect((await refund(orderId, { amount: 2000 })).status).toBe(201)
    // A pending refund counts against what is left: nothing more can be asked for meanwhile.
    const nothing = await refund(orderId, { amount: 1 })
    expect(nothing.body.message).toBe('amount: nothing is left to refund on this order')
    await settle()
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body).toMatchObject({
      status: 'refunded',
      amount_refunded: 3000,
    })
  })

  it.each([
    [{ amount: 0 }, 'amount: must be at least 1'],
    [{ amount: 1.5 }, 'amount: must be an integer'],
    [{ amount: '100' }, 'amount: must be an integer'],
    [{ reason: 'because' }, 'reason: must be one of requested_by_customer, duplicate, fraudulent, other'],
    [{ extra: true }, 'extra: is not a known field'],
  ])('rejects %j naming the field and the rule, and writes nothing', async (body, message) => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    const res = await refund(orderId, body)
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ code: 'validation_failed', message })
    expect(await refundsOf(orderId)).toEqual([])
  })

  it('answers an unpaid order with 409 order_not_paid', async () => {
    const orderId = (await openPaylink(ctx.app, paylinkId)).orderId as string
    expect(await refund(orderId)).toEqual({
      status: 409,
      body: { code: 'order_not_paid', message: `order ${orderId} is created: it has no payment to refund` },
    })
  })

  it('answers another merchant’s order, an unknown one and a malformed id alike: 404', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    const notFound = { status: 404, body: { code: 'order_not_found', message: 'order not found' } }
    expect(await refund(orderId, undefined, {}, other)).toEqual(notFound)
    expect(await refund(`ord_${'0'.repeat(24)}`)).toEqual(notFound)
    expect(await refund('nope')).toEqual(notFound)
    expect(await refundsOf(orderId)).toEqual([])
    const list = await api(ctx.app, other, 'GET', `/orders/${orderId}/refunds`)
    expect(list).toMatchObject(notFound)
  })

  it('honours an Idempotency-Key: the same key and body answer the same refund; another body is a 409', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    const key = { 'idempotency-key': 'refund-once-123' }
    const first = await refund(orderId, { amount: 500 }, key)
    const again = await refund(orderId, { amount: 500 }, key)
    expect(first.status).toBe(201)
    expect(again).toEqual(first)
    expect(await refundsOf(orderId)).toHaveLength(1)
    const conflict = await refund(orderId, { amount: 600 }, key)
    expect(conflict).toEqual({
      status: 409,
      body: {
        code: 'idempotency_conflict',
        message: 'Idempotency-Key: this key was used with another request; use a new key for a new request',
        details: { field: 'Idempotency-Key', rule: 'reused' },
      },
    })
    // Keys are the merchant's own: another merchant's identical key is another request.
    expect((await refund(orderId, { amount: 500 }, key, other)).status).toBe(404)
    // A refused request is answered the same way again, too.
    const over = await refund(orderId, { amount: 99_999 }, { 'idempotency-key': 'too-much' })
    expect(await refund(orderId, { amount: 99_999 }, { 'idempotency-key': 'too-much' })).toEqual(over)
    expect(await refundsOf(orderId)).toHaveLength(1)
  })

  it('keeps the order paid when the provider cannot refund (card 5126), and says why', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId, card('4000 0000 0000 5126'))
    const res = await refund(orderId, { amount: 1200 })
    expect(res.status).toBe(201)
    await settle()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      amount_refunded: 0,
      refunds: [
        {
          id: res.body.id,
          status: 'failed',
          failure_reason: 'The bank could not return the money to this card.',
        },
      ],
    })
    expect(await eventsOf(ctx, orderId)).toContain('refund.failed')
    expect(await eventsOf(ctx, orderId)).not.toContain('order.refunded')
    // What failed is not counted as promised: the whole amount can be asked for again.
    expect((await refund(orderId)).body.amount).toBe(3000)
  })
})

describe('a refund whose event never comes', () => {
  it('is looked up at the provider by the sweep and settled from what it says', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    const asked = await refund(orderId, { amount: 700 })
    ctx.clock.advance(1_000)
    await ctx.services.sandbox.advance()
    // The provider settled it, but its event is lost on the way.
    await ctx.database.db.deleteFrom('sandbox_events').where('delivered_at', 'is', null).execute()
    await ctx.services.payments.sweep()
    expect((await refundsOf(orderId)).map((r) => r.status)).toEqual(['pending'])
    ctx.clock.advance(10 * 60_000 + 1_000)
    // Every refund left pending this long is looked up, this one and those earlier tests left unsettled.
    expect((await ctx.services.payments.sweep()).refundsLookedUp).toBeGreaterThan(0)
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'partially_refunded',
      amount_refunded: 700,
      refunds: [{ id: asked.body.id, status: 'succeeded' }],
    })
    expect(await eventsOf(ctx, orderId)).toContain('refund.succeeded')
  })
})

describe('GET /orders/:id/refunds', () => {
  it('lists an order’s refunds, oldest first', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    const a = await refund(orderId, { amount: 100 })
    ctx.clock.advance(1000)
    const b = await refund(orderId, { amount: 200 })
    const list = await api(ctx.app, merchant, 'GET', `/orders/${orderId}/refunds`)
    expect(list.status).toBe(200)
    expect(list.body).toMatchObject({
      order_id: orderId,
      total: 2,
      refunds: [{ id: a.body.id }, { id: b.body.id }],
    })
  })
})
