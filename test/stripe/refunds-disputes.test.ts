// Refunds and disputes of Stripe payments: a refund from the dashboard (the admin API call it makes) sent
// as refunds.create on the PaymentIntent with our refund id as idempotency key, one made in Stripe's own
// dashboard arriving by event, refunds that settle later or fail, and a dispute opened and closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api } from '../helpers/factories.js'
import {
  comeBack,
  goToStripe,
  openOrder,
  orderOf,
  paymentOf,
  type StripeShop,
  startWorld,
  stripeShop,
  type World,
} from './world.js'

let world: World
let shop: StripeShop

beforeAll(async () => {
  world = await startWorld()
  shop = await stripeShop(world)
})
afterAll(() => world?.close())

/** An order paid at Stripe with `card`, its events delivered; answers it with its PaymentIntent. */
async function paidOrder(
  card = '4242424242424242',
  price = { currency: 'USD', amount: 4000 },
  where: StripeShop = shop,
) {
  const orderId = await openOrder(world, where, price)
  const checkout = await goToStripe(world, orderId)
  const paid = world.double.pay(checkout.sessionId as string, { number: card }) as { redirect: string }
  await comeBack(world, paid.redirect, checkout.cookie)
  await world.double.eventsSettled()
  const payment = await paymentOf(world, orderId)
  return { orderId, payment, intent: payment.provider_payment_id as string }
}

async function webhookTypes(orderId: string): Promise<string[]> {
  const rows = await world.database.db.selectFrom('events').select(['type', 'payload']).execute()
  return rows
    .filter((r) => {
      const data = (r.payload as { data?: { id?: string; order?: { id?: string } } }).data
      return data?.id === orderId || data?.order?.id === orderId
    })
    .map((r) => r.type)
    .sort()
}

describe('refunds of Stripe payments', () => {
  it('refunds from the dashboard’s API call on the PaymentIntent, with the amount, reason and our refund id as idempotency key', async () => {
    // A project of its own, so that its statistics are this order's.
    const own = await stripeShop(world)
    const { orderId, payment, intent } = await paidOrder(undefined, undefined, own)
    world.double.clearRequests()
    const res = await api(world.app, own.merchant, 'POST', `/orders/${orderId}/refunds`, {
      amount: 1500,
      reason: 'requested_by_customer',
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1500, currency: 'USD', origin: 'api' })
    expect(world.double.requests({ method: 'POST', path: '/v1/refunds' })).toMatchObject([
      {
        params: {
          payment_intent: intent,
          amount: '1500',
          reason: 'requested_by_customer',
          metadata: { refund_id: res.body.id, payment_id: payment.id },
        },
        idempotencyKey: res.body.id,
        status: 200,
      },
    ])
    await world.double.eventsSettled()
    const order = await orderOf(world, own, orderId)
    expect(order).toMatchObject({ status: 'partially_refunded', amount_refunded: 1500 })
    // Stripe's events about it (charge.refunded) change nothing more: the refund counts once.
    expect(order.refunds).toHaveLength(1)
    expect(await webhookTypes(orderId)).toEqual([
      'order.created',
      'order.paid',
      'order.refunded',
      'refund.succeeded',
    ])
    const summary = await api(world.app, own.merchant, 'GET', `/projects/${own.projectId}/dashboard/summary`)
    expect(summary.body).toMatchObject({
      revenue: [{ currency: 'USD', amount: 4000 }],
      refunded: [{ currency: 'USD', amount: 1500 }],
      net_revenue: [{ currency: 'USD', amount: 2500 }],
    })
  })

  it('shows a refund made in Stripe’s own dashboard on the order, by its events', async () => {
    const { orderId, intent } = await paidOrder()
    world.double.refundFromDashboard({ paymentIntent: intent, reason: 'duplicate' })
    await world.double.eventsSettled()
    const order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({ status: 'refunded', amount_refunded: 4000 })
    expect(order.refunds).toMatchObject([
      { origin: 'provider', status: 'succeeded', amount: 4000, reason: 'duplicate' },
    ])
  })

  it('keeps a refund Stripe has not finished pending until refund.updated says it succeeded', async () => {
    const { orderId } = await paidOrder('4000000000007726')
    const res = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`)
    expect(res.body).toMatchObject({ status: 'pending', amount: 4000 })
    expect((await orderOf(world, shop, orderId)).status).toBe('paid')
    world.double.runScheduled()
    await world.double.eventsSettled()
    const order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({ status: 'refunded', refunds: [{ status: 'succeeded' }] })
  })

  it('looks a pending refund up when Stripe’s events about it never come', async () => {
    const { orderId } = await paidOrder('4000000000007726')
    const res = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`)
    expect(res.body).toMatchObject({ status: 'pending' })
    // What Stripe said of the refund so far has arrived; what it says when it settles is lost for now.
    await world.double.eventsSettled()
    world.double.holdEvents()
    try {
      world.double.runScheduled()
      world.double.clearRequests()
      world.clock.advance(10 * 60_000 + 1_000)
      expect((await world.services.payments.sweep()).refundsLookedUp).toBeGreaterThan(0)
      expect(world.double.requests({ method: 'GET' }).some((r) => r.path.startsWith('/v1/refunds/re_'))).toBe(
        true,
      )
      expect(await orderOf(world, shop, orderId)).toMatchObject({
        status: 'refunded',
        refunds: [{ status: 'succeeded' }],
      })
    } finally {
      // The events, when they come at last, change nothing more.
      world.double.releaseEvents()
    }
    await world.double.eventsSettled()
    expect(await orderOf(world, shop, orderId)).toMatchObject({ status: 'refunded', amount_refunded: 4000 })
  })

  it('records a refund that fails at Stripe afterwards, and the order is paid again', async () => {
    const { orderId } = await paidOrder('4000000000005126')
    const res = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 1000 })
    expect(res.body.status).toBe('succeeded')
    world.double.runScheduled()
    await world.double.eventsSettled()
    const order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({
      status: 'paid',
      amount_refunded: 0,
      refunds: [{ status: 'failed', failure_reason: 'expired_or_canceled_card' }],
    })
    expect(await webhookTypes(orderId)).toContain('refund.failed')
  })

  it('refuses a KWD refund that is not a multiple of 10 before sending it to Stripe', async () => {
    const { orderId } = await paidOrder('4242424242424242', { currency: 'KWD', amount: 5000 })
    world.double.clearRequests()
    const res = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 1005 })
    expect(res.body).toMatchObject({
      status: 'failed',
      failure_reason:
        'Stripe takes KWD in steps of 0.010 (the last digit must be 0), so the refund, KWD\u00a01.005, cannot be sent to it.',
    })
    expect(world.double.requests({ path: '/v1/refunds' })).toEqual([])
    const whole = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 1000 })
    expect(whole.body.status).toBe('succeeded')
    expect(world.double.requests({ path: '/v1/refunds' })[0]?.params.amount).toBe('1000')
  })

  it('leaves a refund unknown when Stripe answers 500, and the sweep sends it again with the same key', async () => {
    const { orderId } = await paidOrder()
    world.double.clearRequests()
    world.double.addFault({ kind: 'error', path: '/v1/refunds', times: 1 })
    const res = await api(world.app, shop.merchant, 'POST', `/orders/${orderId}/refunds`)
    expect(res.body.status).toBe('unknown')
    world.clock.advance(60_000)
    expect((await world.services.payments.sweep()).refundsSent).toBe(1)
    expect(world.double.requests({ path: '/v1/refunds' }).map((r) => [r.status, r.idempotencyKey])).toEqual([
      [500, res.body.id],
      [200, res.body.id],
    ])
    expect((await orderOf(world, shop, orderId)).status).toBe('refunded')
  })
})

describe('disputes of Stripe payments', () => {
  it('opens a dispute on the order when the cardholder disputes, and closes it as Stripe decides', async () => {
    const { orderId, intent } = await paidOrder('4000000000000259')
    world.double.runScheduled()
    await world.double.eventsSettled()
    let order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({
      status: 'disputed',
      disputes: [{ status: 'open', amount: 4000, currency: 'USD', reason: 'fraudulent' }],
    })
    const [dispute] = world.double
      .events({ account: shop.stripe.id, type: 'charge.dispute.created' })
      .map((e) => e.data.object as { id: string; payment_intent: string })
      .filter((d) => d.payment_intent === intent)
    world.double.closeDispute(dispute?.id as string, 'won')
    await world.double.eventsSettled()
    order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({ status: 'paid', disputes: [{ status: 'won' }] })
    expect(await webhookTypes(orderId)).toEqual([
      'dispute.closed',
      'dispute.opened',
      'order.created',
      'order.paid',
    ])
  })

  it('keeps a lost dispute’s order disputed', async () => {
    const { orderId, intent } = await paidOrder()
    const dispute = world.double.openDispute({ paymentIntent: intent, reason: 'product_not_received' })
    world.double.closeDispute(dispute.id as string, 'lost')
    await world.double.eventsSettled()
    expect(await orderOf(world, shop, orderId)).toMatchObject({
      status: 'disputed',
      disputes: [{ status: 'lost', reason: 'product_not_received' }],
    })
  })
})
