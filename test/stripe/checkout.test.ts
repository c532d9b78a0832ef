// Paying a Stripe project's order through Checkout, against the Stripe double: what paylinks sends to
// Stripe, the buyer's return looked up before the receipt, a decline and a cancel, an asynchronous bank
// debit, the expiry of an order racing its completion, and Stripe's currency rules.
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STRIPE_API_VERSION } from '../../src/lib/stripe-version.js'
import { closeDueSessions } from '../../src/modules/payments/reconcile.js'
import { openPaylink } from '../helpers/buyer.js'
import { createPaylink, createProduct } from '../helpers/factories.js'
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

/** The types of the webhook events paylinks announced about an order (sorted: the test clock stands still). */
async function webhookEvents(orderId: string): Promise<string[]> {
  const rows = await world.database.db
    .selectFrom('events')
    .select(['type', 'payload'])
    .orderBy('id')
    .execute()
  return rows
    .filter((r) => {
      const data = (r.payload as { data?: { id?: string; order?: { id?: string } } }).data
      return data?.id === orderId || data?.order?.id === orderId
    })
    .map((r) => r.type)
    .sort()
}

/** The inbox's record of a Stripe event type for an account. */
async function inbox(accountId: string, type: string) {
  return world.database.db
    .selectFrom('provider_events')
    .select(['event_id', 'status', 'note'])
    .where('provider_account_id', '=', accountId)
    .where('type', '=', type)
    .orderBy('id')
    .execute()
}

describe('paying through Stripe Checkout', () => {
  it('creates the session from the order, sends the buyer there and back, and shows the receipt once Stripe says it is paid', async () => {
    const orderId = await openOrder(world, shop, { currency: 'USD', amount: 1999, name: 'Starter pack' })
    const page = await world.app.inject(`/pay/${orderId}`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<strong>Stripe</strong>, the payment provider')
    expect(page.body).toContain('Test mode: no real money moves')
    // The form's redirect goes to Stripe's page: the CSP lets it.
    expect(page.headers['content-security-policy']).toContain(`form-action 'self' ${world.double.url};`)

    world.double.clearRequests()
    const checkout = await goToStripe(world, orderId, 'ada@example.com')
    expect(checkout.res.statusCode).toBe(303)
    const sessionId = checkout.sessionId as string
    expect(checkout.res.headers.location).toBe(`${world.double.url}/c/pay/${sessionId}`)
    const payment = await paymentOf(world, orderId)
    expect(payment).toMatchObject({
      status: 'pending',
      provider: 'stripe',
      provider_ref: sessionId,
      livemode: false,
    })

    const [create] = world.double.requests({ method: 'POST', path: '/v1/checkout/sessions' })
    expect(create?.params).toEqual({
      mode: 'payment',
      line_items: [
        {
          quantity: '1',
          price_data: { currency: 'usd', unit_amount: '1999', product_data: { name: 'Starter pack' } },
        },
      ],
      currency: 'usd',
      customer_email: 'ada@example.com',
      client_reference_id: orderId,
      metadata: { order_id: orderId, payment_id: payment.id },
      payment_intent_data: {
        description: `Order ${orderId}`,
        metadata: { order_id: orderId, payment_id: payment.id },
      },
      success_url: `${world.baseUrl}/pay/${orderId}/return?payment=${payment.id}`,
      cancel_url: `${world.baseUrl}/pay/${orderId}/cancel?payment=${payment.id}`,
      // The order has a day; Stripe takes at most 24 hours: 23 hours from the payment's start.
      expires_at: String(Math.floor(payment.created_at.getTime() / 1000) + 23 * 3600),
    })
    expect(create).toMatchObject({
      idempotencyKey: payment.id,
      stripeVersion: STRIPE_API_VERSION,
      apiKey: shop.stripe.secretKey,
      status: 200,
    })
    expect(create?.headers['stripe-version']).toBe(STRIPE_API_VERSION)

    const paid = world.double.pay(sessionId, { number: '4242424242424242', email: 'ada@example.com' })
    expect(paid.status).toBe('succeeded')
    const back = await comeBack(world, (paid as { redirect: string }).redirect, checkout.cookie)
    expect(back.statusCode).toBe(303)
    expect(back.headers.location).toBe(`${world.baseUrl}/pay/${orderId}`)
    // The return looked the session up, with its PaymentIntent and charge, before answering.
    expect(
      world.double.requests({ method: 'GET', path: `/v1/checkout/sessions/${sessionId}` })[0]?.params,
    ).toEqual({
      expand: ['payment_intent.latest_charge'],
    })
    const receipt = await comeBack(world, back.headers.location as string, checkout.cookie)
    expect(receipt.body).toContain('Your payment of $19.99 went through')
    expect(receipt.body).toContain('Visa ending in 4242')
    expect(receipt.body).toContain('Test mode: no real money moved')

    const intent = world.double.sessions(shop.stripe.id).find((s) => s.id === sessionId)?.payment_intent
    const order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({ status: 'paid', livemode: false, buyer_email: 'ada@example.com' })
    expect(order.payments).toMatchObject([
      { status: 'succeeded', provider: 'stripe', livemode: false, card_brand: 'visa', card_last4: '4242' },
    ])
    expect((await paymentOf(world, orderId)).provider_payment_id).toBe(intent)

    // Stripe's event arrives too (it may before or after the return): stored, and changing nothing more.
    await world.double.eventsSettled()
    const completed = await inbox(shop.accountId, 'checkout.session.completed')
    expect(completed.map((e) => e.status)).toEqual([expect.stringMatching(/^(applied|ignored)$/)])
    // Event types paylinks does not act on are recorded and ignored.
    expect((await inbox(shop.accountId, 'payment_intent.succeeded')).map((e) => e.status)).toEqual([
      'ignored',
    ])
    expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.paid'])
  })

  it('keeps a declined card on Stripe’s page; the buyer cancels back to paylinks, which closes the session, and pays again', async () => {
    const orderId = await openOrder(world, shop)
    const first = await goToStripe(world, orderId)
    const sessionId = first.sessionId as string
    expect(world.double.pay(sessionId, { number: '4000000000000002' })).toMatchObject({
      status: 'declined',
      message: 'Your card was declined.',
    })
    await world.double.eventsSettled()
    // Stripe lets the buyer try another card on its page: the payment is still open.
    expect((await paymentOf(world, orderId)).status).toBe('pending')

    const cancelUrl = world.double.cancel(sessionId) as string
    const canceled = await comeBack(world, cancelUrl, first.cookie)
    expect(canceled.statusCode).toBe(200)
    expect(canceled.body).toContain('Payment canceled.')
    const payment = await paymentOf(world, orderId)
    expect(payment).toMatchObject({ status: 'canceled', failure_code: 'session_expired' })
    expect(world.double.object(sessionId)).toMatchObject({ status: 'expired' })
    expect(
      world.double.requests({ method: 'POST', path: `/v1/checkout/sessions/${sessionId}/expire` }),
    ).toMatchObject([{ idempotencyKey: `${payment.id}-expire`, status: 200 }])

    world.clock.advance(1000)
    const second = await goToStripe(world, orderId)
    expect(second.sessionId).not.toBe(sessionId)
    const paid = world.double.pay(second.sessionId as string) as { redirect: string }
    expect((await comeBack(world, paid.redirect, second.cookie)).statusCode).toBe(303)
    const order = await orderOf(world, shop, orderId)
    expect(order.status).toBe('paid')
    expect(order.payments.map((p: { status: string }) => p.status)).toEqual(['canceled', 'succeeded'])
  })

  it('shows “processing” for a bank debit Stripe has not settled, then pays the order when its event says so', async () => {
    const orderId = await openOrder(world, shop, { currency: 'EUR', amount: 2500 })
    const checkout = await goToStripe(world, orderId)
    const sessionId = checkout.sessionId as string
    const debit = world.double.payAsync(sessionId) as { status: string; redirect: string }
    expect(debit.status).toBe('processing')
    const back = await comeBack(world, debit.redirect, checkout.cookie)
    expect(back.statusCode).toBe(200)
    expect(back.body).toContain('Your payment is being processed')
    expect((await paymentOf(world, orderId)).status).toBe('processing')

    world.double.settleAsync(sessionId, 'succeeded')
    await world.double.eventsSettled()
    expect((await orderOf(world, shop, orderId)).status).toBe('paid')
    // Its event was stored; whether it or the completion's lookup (which may run after the debit settled)
    // paid the order first depends on the delivery's timing, and the outcome does not.
    expect(await inbox(shop.accountId, 'checkout.session.async_payment_succeeded')).toHaveLength(1)
    const receipt = await comeBack(world, debit.redirect, checkout.cookie)
    expect(receipt.statusCode).toBe(303)
  })

  it('fails the order’s payment when the bank debit fails, and lets the buyer pay again', async () => {
    const orderId = await openOrder(world, shop, { currency: 'EUR', amount: 2500 })
    const checkout = await goToStripe(world, orderId)
    world.double.payAsync(checkout.sessionId as string)
    world.double.settleAsync(checkout.sessionId as string, 'failed')
    await world.double.eventsSettled()
    const payment = await paymentOf(world, orderId)
    expect(payment).toMatchObject({
      status: 'failed',
      failure_code: 'insufficient_funds',
      failure_message: "The customer's account has insufficient funds to cover this payment.",
    })
    expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.payment_failed'])
    const again = await goToStripe(world, orderId)
    expect(again.res.statusCode).toBe(303)
  })
})

describe('an order expiring while its buyer is at Stripe', () => {
  it('expires the session at Stripe first, then the order', async () => {
    const orderId = await openOrder(world, shop)
    const { sessionId } = await goToStripe(world, orderId)
    world.clock.advance(25 * 3_600_000)
    try {
      const swept = await world.services.payments.sweep()
      expect(swept.expired).toContain(orderId)
    } finally {
      world.clock.advance(-25 * 3_600_000)
    }
    expect(world.double.object(sessionId as string)).toMatchObject({ status: 'expired' })
    expect((await orderOf(world, shop, orderId)).status).toBe('expired')
    expect((await paymentOf(world, orderId)).status).toBe('canceled')
    // Stripe's event of the closed session comes after; the order was announced expired once.
    await world.double.eventsSettled()
    expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.expired'])
  })

  it('expires the order as soon as Stripe reports that it expired the session itself', async () => {
    const orderId = await openOrder(world, shop)
    const { sessionId } = await goToStripe(world, orderId)
    const late = 25 * 3_600
    world.clock.advance(late * 1000)
    try {
      // No sweep: the event of the session Stripe closed at its expires_at cancels the payment that held
      // the order, and the order, past its time, expires in the same step.
      expect(world.double.advanceClock(late)).toContain(sessionId)
      await world.double.eventsSettled()
      expect((await paymentOf(world, orderId)).status).toBe('canceled')
      expect((await orderOf(world, shop, orderId)).status).toBe('expired')
      expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.expired'])
    } finally {
      world.double.advanceClock(-late)
      world.clock.advance(-late * 1000)
    }
  })

  it('lets a completion that came first win: Stripe refuses the expiry, the lookup finds it paid', async () => {
    const orderId = await openOrder(world, shop)
    const { sessionId } = await goToStripe(world, orderId)
    // The buyer pays; Stripe's events are late, so paylinks does not know yet when the order's time is up.
    world.double.holdEvents(shop.stripe.id)
    world.double.pay(sessionId as string)
    world.clock.advance(25 * 3_600_000)
    try {
      // The sweep's step that closes sessions of orders whose time is up, before any lookup knows better.
      expect(await closeDueSessions(world.services.payments.deps)).toEqual({ closed: 1, expired: [] })
      expect(await world.services.orders.expireDue()).not.toContain(orderId)
    } finally {
      world.clock.advance(-25 * 3_600_000)
    }
    expect(
      world.double.requests({ method: 'POST', path: `/v1/checkout/sessions/${sessionId}/expire` }),
    ).toMatchObject([{ status: 400 }])
    const order = await orderOf(world, shop, orderId)
    expect(order.status).toBe('paid')
    world.double.releaseEvents({ account: shop.stripe.id })
    await world.double.eventsSettled()
    expect((await orderOf(world, shop, orderId)).status).toBe('paid')
    expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.paid'])
  })
})

describe('Stripe’s currency rules', () => {
  it('sends JPY as it is (zero-decimal) and KWD in its three decimals', async () => {
    for (const [currency, amount, sent] of [
      ['JPY', 500, '500'],
      ['KWD', 1250, '1250'],
      ['ISK', 500, '50000'],
    ] as const) {
      const orderId = await openOrder(world, shop, { currency, amount })
      world.double.clearRequests()
      const checkout = await goToStripe(world, orderId)
      expect(checkout.res.statusCode).toBe(303)
      const [create] = world.double.requests({ method: 'POST', path: '/v1/checkout/sessions' })
      expect(create?.params.line_items).toMatchObject([
        { price_data: { currency: currency.toLowerCase(), unit_amount: sent } },
      ])
      const paid = world.double.pay(checkout.sessionId as string) as { redirect: string }
      await comeBack(world, paid.redirect, checkout.cookie)
      const order = await orderOf(world, shop, orderId)
      expect(order).toMatchObject({ status: 'paid', currency, total_amount: amount })
    }
  })

  it('refuses a KWD amount that is not a multiple of 10 with a clear page, before sending the buyer anywhere', async () => {
    const orderId = await openOrder(world, shop, { currency: 'KWD', amount: 1255 })
    world.double.clearRequests()
    const checkout = await goToStripe(world, orderId)
    expect(checkout.res.statusCode).toBe(402)
    expect(checkout.res.body).toContain('This payment cannot be made.')
    expect(checkout.res.body).toContain(
      'Stripe takes KWD in steps of 0.010 (the last digit must be 0), so the amount, KWD\u00a01.255, cannot be sent to it.',
    )
    expect(world.double.requests()).toEqual([])
    expect(
      await world.database.db.selectFrom('payments').select('id').where('order_id', '=', orderId).execute(),
    ).toEqual([])
  })

  it('refuses a line whose price Stripe would refuse, though the total would do, before calling Stripe', async () => {
    const products = []
    for (const name of ['Sword', 'Shield']) {
      products.push(
        await createProduct(world.app, shop.merchant, shop.projectId, {
          name,
          prices: [{ currency: 'KWD', amount: 1005 }],
        }),
      )
    }
    const link = await createPaylink(
      world.app,
      shop.merchant,
      shop.projectId,
      products.map((p) => p.id),
    )
    const { orderId } = await openPaylink(world.app, link.id, '?currency=KWD')
    world.double.clearRequests()
    const checkout = await goToStripe(world, orderId as string)
    expect(checkout.res.statusCode).toBe(402)
    expect(checkout.res.body).toContain(
      'Stripe takes KWD in steps of 0.010 (the last digit must be 0), so the price of Sword, KWD\u00a01.005, cannot be sent to it.',
    )
    expect(world.double.requests()).toEqual([])
    expect(await paymentOf(world, orderId as string)).toMatchObject({
      status: 'failed',
      failure_code: 'amount_not_supported',
    })
  })

  it('refuses an amount under Stripe’s minimum for the currency', async () => {
    const orderId = await openOrder(world, shop, { currency: 'USD', amount: 30 })
    const checkout = await goToStripe(world, orderId)
    expect(checkout.res.statusCode).toBe(402)
    expect(checkout.res.body).toContain('Stripe charges at least $0.50 in USD, and the amount is $0.30.')
  })
})

describe('Stripe failing', () => {
  it.each([
    ['a rate limit (429)', { kind: 'rate_limit' as const }, 503, { status: 'unknown' }],
    [
      'a key it no longer accepts (401)',
      { kind: 'unauthorized' as const },
      402,
      {
        status: 'failed',
        failure_code: 'invalid_api_key',
        failure_message:
          "Stripe refused the shop's API key while creating the payment session: the key is wrong or was rolled; save a current one.",
      },
    ],
  ])('answers %s as Stripe means it', async (_what, fault, status, payment) => {
    const orderId = await openOrder(world, shop)
    world.double.addFault({ ...fault, method: 'POST', path: '/v1/checkout/sessions', times: 1 })
    const checkout = await goToStripe(world, orderId)
    expect(checkout.res.statusCode).toBe(status)
    expect(await paymentOf(world, orderId)).toMatchObject(payment)
    if (status === 402) {
      expect(checkout.res.body).toContain(
        'This payment cannot be made.</strong> Stripe refused the shop&#39;s API key while creating the payment session',
      )
    }
  })

  it('leaves a payment unknown when Stripe answers 500, and the reconciler starts it with the same idempotency key', async () => {
    const orderId = await openOrder(world, shop)
    world.double.clearRequests()
    world.double.addFault({ kind: 'error', method: 'POST', path: '/v1/checkout/sessions', times: 1 })
    const checkout = await goToStripe(world, orderId)
    expect(checkout.res.statusCode).toBe(503)
    expect(checkout.res.body).toContain('The payment provider could not be reached.')
    const unknown = await paymentOf(world, orderId)
    expect(unknown).toMatchObject({ status: 'unknown', provider_ref: null })

    world.clock.advance(60_000)
    await world.services.payments.sweep()
    const started = await paymentOf(world, orderId)
    expect(started).toMatchObject({ status: 'pending', provider_ref: expect.stringMatching(/^cs_test_/) })
    expect(
      world.double
        .requests({ method: 'POST', path: '/v1/checkout/sessions' })
        .filter((r) => r.idempotencyKey === unknown.id)
        .map((r) => [r.status, r.idempotencyKey]),
    ).toEqual([
      [500, unknown.id],
      [200, unknown.id],
    ])
    // The buyer submitting again is sent to that session.
    const again = await goToStripe(world, orderId)
    expect(again.sessionId).toBe(started.provider_ref)
  })

  it('leaves a payment unknown when Stripe does not answer in time, and finds the one session it made', async () => {
    const impatient = await startWorld({ timeoutMs: 500 })
    try {
      const local = await stripeShop(impatient)
      const orderId = await openOrder(impatient, local)
      impatient.double.addFault({
        kind: 'hang',
        execute: true,
        method: 'POST',
        path: '/v1/checkout/sessions',
        times: 1,
      })
      const checkout = await goToStripe(impatient, orderId)
      expect(checkout.res.statusCode).toBe(503)
      expect((await paymentOf(impatient, orderId)).status).toBe('unknown')
      expect(impatient.double.sessions(local.stripe.id)).toHaveLength(1)

      impatient.clock.advance(60_000)
      await impatient.services.payments.sweep()
      const payment = await paymentOf(impatient, orderId)
      const [session] = impatient.double.sessions(local.stripe.id)
      expect(payment).toMatchObject({ status: 'pending', provider_ref: session?.id })
      const replayed = impatient.double.requests({ method: 'POST', path: '/v1/checkout/sessions' })
      expect(replayed.map((r) => r.idempotencyKey)).toEqual([payment.id, payment.id])
      expect(replayed[1]?.idempotentReplayed).toBe(true)
      expect(impatient.double.sessions(local.stripe.id)).toHaveLength(1)
    } finally {
      await impatient.close()
    }
  })

  it('shows “processing” when the lookup on return fails, and the reconciler finds the payment paid', async () => {
    const orderId = await openOrder(world, shop)
    const checkout = await goToStripe(world, orderId)
    const sessionId = checkout.sessionId as string
    world.double.holdEvents(shop.stripe.id)
    const paid = world.double.pay(sessionId) as { redirect: string }
    world.double.addFault({
      kind: 'error',
      status: 502,
      method: 'GET',
      path: `/v1/checkout/sessions/${sessionId}`,
      times: 1,
    })
    const back = await comeBack(world, paid.redirect, checkout.cookie)
    expect(back.statusCode).toBe(200)
    expect(back.body).toContain('Your payment is being processed')
    expect((await paymentOf(world, orderId)).status).toBe('unknown')
    world.clock.advance(60_000)
    await world.services.payments.sweep()
    expect((await orderOf(world, shop, orderId)).status).toBe('paid')
    world.double.releaseEvents({ account: shop.stripe.id })
    await world.double.eventsSettled()
  })
})

describe('Stripe’s events', () => {
  it('stores a resent event once and applies it once', async () => {
    const orderId = await openOrder(world, shop)
    const checkout = await goToStripe(world, orderId)
    world.double.pay(checkout.sessionId as string)
    await world.double.eventsSettled()
    const [completed] = world.double
      .events({ account: shop.stripe.id, type: 'checkout.session.completed' })
      .filter((e) => (e.data.object as { id: string }).id === checkout.sessionId)
    world.double.resendEvent(completed?.id as string)
    await world.double.eventsSettled()
    const deliveries = world.double.deliveries({ eventId: completed?.id as string })
    expect(deliveries.map((d) => [d.status, JSON.parse(d.body).outcome])).toEqual([
      [200, 'applied'],
      [200, 'duplicate'],
    ])
    expect(await webhookEvents(orderId)).toEqual(['order.created', 'order.paid'])
  })

  const forged = JSON.stringify({
    id: 'evt_forged',
    object: 'event',
    type: 'checkout.session.completed',
    data: { object: {} },
  })
  const now = () => Math.floor(Date.now() / 1000)
  it.each([
    [
      'a signature made with another secret',
      () =>
        Stripe.webhooks.generateTestHeaderString({
          payload: forged,
          secret: 'whsec_not_the_endpoints_secret',
        }),
      'no signature matches the body: the saved signing secret is not this endpoint’s, or the body was changed on the way',
    ],
    [
      'a signature ten minutes old',
      () =>
        Stripe.webhooks.generateTestHeaderString({
          payload: forged,
          secret: shop.stripe.webhookSecret,
          timestamp: now() - 600,
        }),
      'the signature is older than 5 minutes (a replayed event?)',
    ],
    ['a header that is no signature', () => 'sha256=abc', 'the header is not a Stripe signature (t=…,v1=…)'],
    [`no header`, () => undefined, 'the header is missing'],
  ])('refuses an event with %s with a 400, and stores nothing', async (_what, signature, problem) => {
    const before = await world.database.db.selectFrom('provider_events').select('id').execute()
    const header = signature()
    const res = await world.app.inject({
      method: 'POST',
      url: `/providers/${shop.accountId}/events`,
      headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) },
      payload: forged,
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'invalid_signature', message: `Stripe-Signature: ${problem}` })
    expect(await world.database.db.selectFrom('provider_events').select('id').execute()).toEqual(before)
  })

  it('answers 503 when a lookup an event needs fails, so that Stripe sends it again; the retry applies it', async () => {
    const orderId = await openOrder(world, shop)
    const checkout = await goToStripe(world, orderId)
    const sessionId = checkout.sessionId as string
    world.double.addFault({
      kind: 'error',
      method: 'GET',
      path: `/v1/checkout/sessions/${sessionId}`,
      times: 1,
    })
    world.double.pay(sessionId)
    await world.double.eventsSettled()
    const [completed] = world.double
      .events({ account: shop.stripe.id, type: 'checkout.session.completed' })
      .filter((e) => (e.data.object as { id: string }).id === sessionId)
    expect(world.double.deliveries({ eventId: completed?.id as string }).map((d) => d.status)).toEqual([
      503, 200,
    ])
    expect((await orderOf(world, shop, orderId)).status).toBe('paid')
  })

  it('applies events that arrive late and in reverse order to the same end', async () => {
    const orderId = await openOrder(world, shop)
    const checkout = await goToStripe(world, orderId)
    const sessionId = checkout.sessionId as string
    world.double.holdEvents(shop.stripe.id)
    world.double.pay(sessionId)
    const intent = world.double.object(sessionId).payment_intent as string
    world.double.refundFromDashboard({ paymentIntent: intent, amount: 500 })
    // charge.refunded comes first, before the completion paylinks has not heard of.
    world.double.releaseEvents({ account: shop.stripe.id, order: 'reverse' })
    await world.double.eventsSettled()
    const order = await orderOf(world, shop, orderId)
    expect(order).toMatchObject({ status: 'partially_refunded', amount_refunded: 500 })
    expect(order.refunds).toMatchObject([{ amount: 500, origin: 'provider', status: 'succeeded' }])
    expect(await webhookEvents(orderId)).toEqual([
      'order.created',
      'order.paid',
      'order.refunded',
      'refund.succeeded',
    ])
  })
})

describe('a live key', () => {
  it('takes live payments: the order and its payment say livemode, and no page shows the test badge', async () => {
    const live = await stripeShop(world, { live: true })
    const orderId = await openOrder(world, live)
    // Live from the start: the order and its order.created webhook, before any payment.
    expect(await orderOf(world, live, orderId)).toMatchObject({ livemode: true, payments: [] })
    const created = await world.database.db
      .selectFrom('events')
      .select('payload')
      .where('type', '=', 'order.created')
      .execute()
    expect(
      created
        .map((e) => (e.payload as { data: { id: string; livemode: boolean } }).data)
        .find((o) => o.id === orderId),
    ).toMatchObject({ livemode: true })
    const page = await world.app.inject(`/pay/${orderId}`)
    expect(page.body).not.toContain('Test mode')
    const checkout = await goToStripe(world, orderId)
    expect(checkout.sessionId).toMatch(/^cs_live_/)
    expect(world.double.requests({ method: 'POST', path: '/v1/checkout/sessions' }).at(-1)).toMatchObject({
      apiKey: live.stripe.liveSecretKey,
      livemode: true,
    })
    const paid = world.double.pay(checkout.sessionId as string) as { redirect: string }
    const back = await comeBack(world, paid.redirect, checkout.cookie)
    const receipt = await comeBack(world, back.headers.location as string, checkout.cookie)
    expect(receipt.body).toContain('went through')
    expect(receipt.body).not.toContain('Test mode')
    await world.double.eventsSettled()
    const order = await orderOf(world, live, orderId)
    expect(order).toMatchObject({ status: 'paid', livemode: true, payments: [{ livemode: true }] })
    // A test-mode event that reaches the live account's URL (endpoints mixed up at Stripe) is recorded, not
    // applied, however well it is signed.
    const intent = world.double.object(checkout.sessionId as string).payment_intent as string
    const payload = JSON.stringify({
      id: 'evt_test_mode_mixup',
      object: 'event',
      type: 'charge.dispute.created',
      livemode: false,
      data: {
        object: {
          id: 'dp_test_mode_mixup',
          object: 'dispute',
          amount: 1999,
          currency: 'usd',
          payment_intent: intent,
          reason: 'fraudulent',
          status: 'needs_response',
          livemode: false,
        },
      },
    })
    const res = await world.app.inject({
      method: 'POST',
      url: `/providers/${live.accountId}/events`,
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: live.stripe.webhookSecret,
        }),
      },
      payload,
    })
    expect(res.json()).toEqual({ received: true, outcome: 'ignored' })
    expect(await orderOf(world, live, orderId)).toMatchObject({ status: 'paid', disputes: [] })
  })
})
