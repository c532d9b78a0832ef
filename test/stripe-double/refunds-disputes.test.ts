// Refunds through the API and from "Stripe's dashboard", the refund test cards whose refunds fail or wait,
// and disputes opening and closing, as the typed client and the events show them.
import type Stripe from 'stripe'
import { describe, expect } from 'vitest'
import { errorOf, paymentSession, raw, test } from './fixtures.js'
import type { StripeDouble } from './index.js'

async function paidIntent(double: StripeDouble, stripe: Stripe, card = '4242424242424242', overrides = {}) {
  const session = await paymentSession(stripe, overrides)
  expect(double.pay(session.id, { number: card })).toMatchObject({ status: 'succeeded' })
  return (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string
}

function potions(currency: string, unitAmount: number): Partial<Stripe.Checkout.SessionCreateParams> {
  return {
    line_items: [
      { quantity: 1, price_data: { currency, unit_amount: unitAmount, product_data: { name: 'Potion' } } },
    ],
  }
}

describe('POST /v1/refunds', () => {
  test('refunds a payment intent in full, by default', async ({ double, stripe }) => {
    const intent = await paidIntent(double, stripe)
    const refund = await stripe.refunds.create(
      { payment_intent: intent, reason: 'requested_by_customer', metadata: { refund_id: 'rf_1' } },
      { idempotencyKey: 'rf_1' },
    )
    expect(refund).toMatchObject({
      id: expect.stringMatching(/^re_/),
      object: 'refund',
      amount: 3500,
      currency: 'usd',
      status: 'succeeded',
      payment_intent: intent,
      reason: 'requested_by_customer',
      metadata: { refund_id: 'rf_1' },
      destination_details: { type: 'card' },
    })
    const charge = await stripe.charges.retrieve(refund.charge as string, { expand: ['refunds'] })
    expect(charge).toMatchObject({ amount_refunded: 3500, refunded: true })
    expect(charge.refunds?.data.map((r) => r.id)).toEqual([refund.id])
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ id: refund.id, status: 'succeeded' })
    const events = double.events().filter((e) => e.type.includes('refund'))
    expect(events.map((e) => e.type)).toEqual(['refund.created', 'charge.refunded'])
    expect(events[0]?.request).toEqual({ id: refund.lastResponse.requestId, idempotency_key: 'rf_1' })
    expect(events[1]?.data).toMatchObject({
      object: { amount_refunded: 3500, refunded: true },
      previous_attributes: { amount_refunded: 0, refunded: false },
    })
  })

  test('refunds partly, several times, up to what is left, by payment intent or by charge', async ({
    double,
    stripe,
  }) => {
    const intent = await paidIntent(double, stripe)
    const charge = (await stripe.paymentIntents.retrieve(intent)).latest_charge as string
    await stripe.refunds.create({ payment_intent: intent, amount: 1000 })
    await stripe.refunds.create({ charge, amount: 2000 })
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 3000, refunded: false })
    await expect(stripe.refunds.create({ payment_intent: intent, amount: 501 })).rejects.toMatchObject({
      statusCode: 400,
      code: 'amount_too_large',
      param: 'amount',
      message: 'Refund amount ($5.01) is greater than unrefunded amount on charge ($5.00)',
    })
    await stripe.refunds.create({ payment_intent: intent })
    await expect(stripe.refunds.create({ payment_intent: intent })).rejects.toMatchObject({
      code: 'charge_already_refunded',
      message: `Charge ${charge} has already been refunded.`,
    })
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 3500, refunded: true })
  })

  test('refuses more than the charge, in Stripe’s words', async ({ double, account, stripe }) => {
    const intent = await paidIntent(double, stripe)
    const answer = await raw(double, 'POST', '/v1/refunds', {
      key: account.secretKey,
      form: `payment_intent=${intent}&amount=3501`,
    })
    expect(answer.status).toBe(400)
    expect(errorOf(answer)).toEqual({
      type: 'invalid_request_error',
      code: 'amount_too_large',
      doc_url: 'https://docs.stripe.com/error-codes/amount-too-large',
      param: 'amount',
      message: 'Refund amount ($35.01) is greater than charge amount ($35.00)',
    })
  })

  const refused: [string, string, Record<string, unknown>][] = [
    [
      'neither payment_intent nor charge',
      'amount=100',
      {
        message: 'One of the following params should be provided for this request: payment_intent or charge.',
      },
    ],
    [
      'an unknown payment intent',
      'payment_intent=pi_nope',
      { code: 'resource_missing', param: 'payment_intent', message: "No such payment_intent: 'pi_nope'" },
    ],
    ['an unknown charge', 'charge=ch_nope', { code: 'resource_missing', param: 'charge' }],
    [
      'a zero amount',
      'payment_intent=PI&amount=0',
      { param: 'amount', message: 'This value must be greater than or equal to 1.' },
    ],
    [
      'an unknown reason',
      'payment_intent=PI&reason=changed_mind',
      {
        param: 'reason',
        message: 'Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer',
      },
    ],
    ['an unknown parameter', 'payment_intent=PI&note=x', { code: 'parameter_unknown', param: 'note' }],
  ]
  test.for(refused)('refuses %s', async ([, form, expected], { double, account, stripe }) => {
    const intent = await paidIntent(double, stripe)
    const answer = await raw(double, 'POST', '/v1/refunds', {
      key: account.secretKey,
      form: form.replace('PI', intent),
    })
    expect(answer.status).toBe(expected.code === 'resource_missing' ? 404 : 400)
    expect(errorOf(answer)).toMatchObject({ type: 'invalid_request_error', ...expected })
    expect(double.store.all('refund')).toEqual([])
  })

  test('refuses a payment intent without a successful charge', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    double.pay(session.id, { number: '4000000000000002' })
    const intent = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string
    await expect(stripe.refunds.create({ payment_intent: intent })).rejects.toMatchObject({
      param: 'payment_intent',
      message: `This PaymentIntent (${intent}) does not have a successful charge to refund.`,
    })
  })

  test('takes JPY refund amounts as they are and KWD ones only as multiples of 10', async ({
    double,
    stripe,
  }) => {
    const yen = await paidIntent(double, stripe, '4242424242424242', potions('jpy', 1999))
    expect(await stripe.refunds.create({ payment_intent: yen, amount: 999 })).toMatchObject({
      amount: 999,
      currency: 'jpy',
    })
    const dinar = await paidIntent(double, stripe, '4242424242424242', potions('kwd', 5000))
    await expect(stripe.refunds.create({ payment_intent: dinar, amount: 1005 })).rejects.toMatchObject({
      code: 'invalid_amount',
      param: 'amount',
    })
    expect(await stripe.refunds.create({ payment_intent: dinar, amount: 1010 })).toMatchObject({
      amount: 1010,
    })
  })
})

describe('refunds on Stripe’s side', () => {
  test('a dashboard refund arrives by events only, not as an API request', async ({ double, stripe }) => {
    const intent = await paidIntent(double, stripe)
    double.clearRequests()
    const refund = double.refundFromDashboard({ paymentIntent: intent, amount: 500 })
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 500,
      status: 'succeeded',
      payment_intent: intent,
    })
    expect(double.requests()).toEqual([])
    const [created] = double.events({ type: 'refund.created' })
    expect(created?.request).toMatchObject({ id: expect.stringMatching(/^req_/), idempotency_key: null })
    expect(created?.data.object).toMatchObject({ id: refund.id, amount: 500 })
    expect(double.events({ type: 'charge.refunded' })[0]?.data.object).toMatchObject({ amount_refunded: 500 })
  })

  test('a refund of 4000 0000 0000 5126 succeeds, then fails later', async ({ double, stripe }) => {
    const intent = await paidIntent(double, stripe, '4000000000005126')
    const refund = await stripe.refunds.create({ payment_intent: intent })
    expect(refund.status).toBe('succeeded')
    expect(double.scheduled()).toEqual([`refund ${refund.id} fails`])
    double.runScheduled()
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
    })
    expect(await stripe.charges.retrieve(refund.charge as string)).toMatchObject({
      amount_refunded: 0,
      refunded: false,
    })
    expect(
      double
        .events()
        .map((e) => e.type)
        .slice(-3),
    ).toEqual(['refund.updated', 'refund.failed', 'charge.refund.updated'])
    expect(double.events({ type: 'refund.updated' })[0]?.data.previous_attributes).toEqual({
      status: 'succeeded',
      failure_reason: null,
    })
  })

  test('a refund of 4000 0000 0000 7726 is pending, then succeeds', async ({ double, stripe }) => {
    const intent = await paidIntent(double, stripe, '4000000000007726')
    const refund = await stripe.refunds.create({ payment_intent: intent, amount: 1000 })
    expect(refund.status).toBe('pending')
    double.runScheduled()
    expect((await stripe.refunds.retrieve(refund.id)).status).toBe('succeeded')
    expect(double.events({ type: 'refund.updated' })[0]?.data).toMatchObject({
      object: { status: 'succeeded' },
      previous_attributes: { status: 'pending' },
    })
  })
})

describe('disputes', () => {
  test('4000 0000 0000 0259 pays, then a dispute opens; it closes won or lost', async ({
    double,
    stripe,
  }) => {
    const intent = await paidIntent(double, stripe, '4000000000000259')
    const charge = (await stripe.paymentIntents.retrieve(intent)).latest_charge as string
    expect(double.events({ type: 'charge.dispute.created' })).toEqual([])
    double.runScheduled()
    const [opened] = double.events({ type: 'charge.dispute.created' })
    const dispute = opened?.data.object as unknown as Stripe.Dispute
    expect(dispute).toMatchObject({
      id: expect.stringMatching(/^dp_/),
      object: 'dispute',
      amount: 3500,
      currency: 'usd',
      charge,
      payment_intent: intent,
      reason: 'fraudulent',
      status: 'needs_response',
    })
    expect(await stripe.disputes.retrieve(dispute.id)).toMatchObject({
      id: dispute.id,
      status: 'needs_response',
    })
    expect((await stripe.charges.retrieve(charge)).disputed).toBe(true)
    await expect(stripe.refunds.create({ payment_intent: intent })).rejects.toMatchObject({
      code: 'charge_disputed',
    })
    double.closeDispute(dispute.id, 'lost')
    const [closed] = double.events({ type: 'charge.dispute.closed' })
    expect(closed?.data).toMatchObject({
      object: { status: 'lost' },
      previous_attributes: { status: 'needs_response' },
    })
    expect(() => double.closeDispute(dispute.id, 'won')).toThrow('is closed already')
  })

  test('a dispute opened on any charge, won, reinstates the funds', async ({ double, stripe }) => {
    const intent = await paidIntent(double, stripe)
    const dispute = double.openDispute({ paymentIntent: intent, reason: 'product_not_received' })
    double.closeDispute(dispute.id as string, 'won')
    expect(
      double
        .events()
        .map((e) => e.type)
        .slice(-4),
    ).toEqual([
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.funds_reinstated',
      'charge.dispute.closed',
    ])
    expect(await stripe.disputes.retrieve(dispute.id as string)).toMatchObject({
      status: 'won',
      reason: 'product_not_received',
    })
  })
})
