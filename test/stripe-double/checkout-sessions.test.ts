// Checkout Sessions on the double: creating them as an integration does (payment and setup mode), their
// shape as the typed client reads it, every parameter check, Stripe's currency rules, expand[] and expiry.
import type Stripe from 'stripe'
import { describe, expect } from 'vitest'
import {
  CANCEL_URL,
  clientFor,
  errorOf,
  lineItems,
  paymentSession,
  raw,
  SUCCESS_URL,
  test,
} from './fixtures.js'

function item(
  currency: string,
  unitAmount: number,
  quantity = 1,
): Stripe.Checkout.SessionCreateParams.LineItem {
  return { quantity, price_data: { currency, unit_amount: unitAmount, product_data: { name: 'Potion' } } }
}

describe('POST /v1/checkout/sessions', () => {
  test('creates a payment session shaped as Stripe’s reference shows', async ({ double, stripe }) => {
    const before = Math.floor(Date.now() / 1000)
    const session = await paymentSession(stripe)
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: 3500,
      amount_total: 3500,
      currency: 'usd',
      customer_email: 'buyer@example.com',
      client_reference_id: 'ord_1',
      metadata: { order_id: 'ord_1', payment_id: 'pay_1' },
      success_url: SUCCESS_URL,
      cancel_url: CANCEL_URL,
      payment_intent: null,
      setup_intent: null,
      livemode: false,
      ui_mode: 'hosted_page',
      payment_method_types: ['card', 'sepa_debit'],
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      customer_details: null,
    })
    expect(session.id).toMatch(/^cs_test_[0-9A-Za-z]{58}$/)
    expect(session.url).toBe(`${double.url}/c/pay/${session.id}`)
    expect(session.created).toBeGreaterThanOrEqual(before)
    expect(session.expires_at).toBe(session.created + 86_400)
    expect(session.line_items).toBeUndefined()
  })

  test('expands line_items into Stripe’s list of items', async ({ stripe }) => {
    const session = await paymentSession(stripe, { expand: ['line_items'] })
    expect(session.line_items).toMatchObject({
      object: 'list',
      has_more: false,
      url: `/v1/checkout/sessions/${session.id}/line_items`,
      data: [
        {
          object: 'item',
          description: 'Sword',
          quantity: 2,
          amount_subtotal: 3000,
          amount_total: 3000,
          currency: 'usd',
          price: { object: 'price', unit_amount: 1500, currency: 'usd', type: 'one_time' },
        },
        { description: 'Shield & helmet', quantity: 1, amount_total: 500 },
      ],
    })
    const listed = await stripe.checkout.sessions.listLineItems(session.id, { limit: 1 })
    expect(listed.data.map((i) => i.description)).toEqual(['Sword'])
    expect(listed.has_more).toBe(true)
  })

  test('takes expires_at from 30 minutes to 24 hours ahead', async ({ stripe }) => {
    const now = Math.floor(Date.now() / 1000)
    const session = await paymentSession(stripe, { expires_at: now + 3600 })
    expect(session.expires_at).toBe(now + 3600)
  })

  test('creates a setup session with a currency, or with allowed_payment_method_types', async ({
    stripe,
  }) => {
    const session = await stripe.checkout.sessions.create({
      mode: 'setup',
      currency: 'eur',
      customer_email: 'admin@portal.example.com',
      client_reference_id: 'setup_1',
      setup_intent_data: { metadata: { setup_id: 'setup_1' } },
      success_url: 'https://portal.example.com/setup/done?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://portal.example.com/setup',
    })
    expect(session).toMatchObject({
      mode: 'setup',
      status: 'open',
      payment_status: 'no_payment_required',
      currency: 'eur',
      amount_total: null,
      setup_intent: null,
      payment_method_types: ['card'],
    })
    const typed = await stripe.checkout.sessions.create({
      mode: 'setup',
      allowed_payment_method_types: ['card'],
      success_url: 'https://portal.example.com/done',
    })
    expect(typed).toMatchObject({ currency: null, allowed_payment_method_types: ['card'] })
  })

  test('takes payment_method_types only from clients of API versions before it was removed', async ({
    double,
    account,
  }) => {
    const params = { mode: 'setup', payment_method_types: ['card'], success_url: 'https://x.example/done' }
    const current = clientFor(double, account.secretKey)
    // biome-ignore lint/suspicious/noExplicitAny: the parameter is gone from this version's types, which is the point
    await expect(current.checkout.sessions.create(params as any)).rejects.toMatchObject({
      code: 'parameter_unknown',
      param: 'payment_method_types',
      message: 'Received unknown parameter: payment_method_types',
    })
    // biome-ignore lint/suspicious/noExplicitAny: an older API version, whose parameters the pinned types no longer describe
    const older = clientFor(double, account.secretKey, { apiVersion: '2025-03-31.basil' as any })
    // biome-ignore lint/suspicious/noExplicitAny: see above
    const session = await older.checkout.sessions.create(params as any)
    expect(session.payment_method_types).toEqual(['card'])
  })

  const base = {
    mode: 'payment',
    'line_items[0][quantity]': '1',
    'line_items[0][price_data][currency]': 'usd',
    'line_items[0][price_data][unit_amount]': '1000',
    'line_items[0][price_data][product_data][name]': 'Potion',
    success_url: 'https://shop.example.com/ok',
  }
  const refused: [string, Record<string, string | undefined>, Record<string, unknown>][] = [
    [
      'no mode',
      { mode: undefined },
      { code: 'parameter_missing', param: 'mode', message: 'Missing required param: mode.' },
    ],
    [
      'an unknown mode',
      { mode: 'donation' },
      { param: 'mode', message: 'Invalid mode: must be one of payment, setup, or subscription' },
    ],
    [
      'no line items',
      {
        'line_items[0][quantity]': undefined,
        'line_items[0][price_data][currency]': undefined,
        'line_items[0][price_data][unit_amount]': undefined,
        'line_items[0][price_data][product_data][name]': undefined,
      },
      { code: 'parameter_missing', param: 'line_items', message: 'Missing required param: line_items.' },
    ],
    [
      'no quantity',
      { 'line_items[0][quantity]': undefined },
      {
        code: 'parameter_missing',
        param: 'line_items[0][quantity]',
        message: 'Missing required param: line_items[0][quantity].',
      },
    ],
    [
      'a zero quantity',
      { 'line_items[0][quantity]': '0' },
      { param: 'line_items[0][quantity]', message: 'This value must be greater than or equal to 1.' },
    ],
    [
      'no product name',
      {
        'line_items[0][price_data][product_data][name]': undefined,
        'line_items[0][price_data][product_data][description]': 'x',
      },
      {
        param: 'line_items[0][price_data][product_data][name]',
        message: 'Missing required param: line_items[0][price_data][product_data][name].',
      },
    ],
    [
      'a unit amount that is not an integer',
      { 'line_items[0][price_data][unit_amount]': '10.5' },
      {
        code: 'parameter_invalid_integer',
        param: 'line_items[0][price_data][unit_amount]',
        message: 'Invalid integer: 10.5',
      },
    ],
    [
      'an unknown parameter',
      { colour: 'blue' },
      { code: 'parameter_unknown', param: 'colour', message: 'Received unknown parameter: colour' },
    ],
    [
      'an unknown nested parameter',
      { 'line_items[0][price_data][product_data][colour]': 'blue' },
      { code: 'parameter_unknown', param: 'line_items[0][price_data][product_data][colour]' },
    ],
    [
      'a Stripe parameter the double does not model',
      { 'line_items[0][price]': 'price_123' },
      {
        param: 'line_items[0][price]',
        message:
          "The Stripe double does not implement the parameter line_items[0][price]; it is part of Stripe's API, so add it to the double if paylinks needs it.",
      },
    ],
    ['no success_url', { success_url: undefined }, { code: 'parameter_missing', param: 'success_url' }],
    [
      'a success_url that is not a URL',
      { success_url: 'shop.example.com/ok' },
      { code: 'url_invalid', param: 'success_url', message: 'Not a valid URL' },
    ],
    [
      'a bad customer_email',
      { customer_email: 'buyer-at-example.com' },
      {
        code: 'email_invalid',
        param: 'customer_email',
        message: 'Invalid email address: buyer-at-example.com',
      },
    ],
    [
      'a client_reference_id over 200 characters',
      { client_reference_id: 'x'.repeat(201) },
      { code: 'string_length_exceeds_maximum', param: 'client_reference_id' },
    ],
    [
      'metadata with a key over 40 characters',
      { [`metadata[${'k'.repeat(41)}]`]: 'v' },
      { param: `metadata[${'k'.repeat(41)}]` },
    ],
    [
      'expires_at in 10 minutes',
      { expires_at: String(Math.floor(Date.now() / 1000) + 600) },
      {
        param: 'expires_at',
        message: 'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
      },
    ],
    [
      'expires_at in 2 days',
      { expires_at: String(Math.floor(Date.now() / 1000) + 2 * 86_400) },
      {
        param: 'expires_at',
        message: 'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
      },
    ],
    [
      'an unsupported currency',
      { 'line_items[0][price_data][currency]': 'xyz' },
      {
        param: 'line_items[0][price_data][currency]',
        message: expect.stringMatching(
          /^Invalid currency: xyz\. Stripe currently supports these currencies: usd, aed, /,
        ),
      },
    ],
    [
      'line items in two currencies',
      {
        'line_items[1][quantity]': '1',
        'line_items[1][price_data][currency]': 'eur',
        'line_items[1][price_data][unit_amount]': '1000',
        'line_items[1][price_data][product_data][name]': 'Elixir',
      },
      {
        param: 'line_items[1][price_data][currency]',
        message: 'All line items must have the same currency; line_items[1] is in eur, not usd.',
      },
    ],
    [
      'setup_intent_data in payment mode',
      { 'setup_intent_data[metadata][a]': 'b' },
      { param: 'setup_intent_data', message: 'You can not pass `setup_intent_data` in `payment` mode.' },
    ],
    [
      'payment_intent_data[capture_method]=manual',
      { 'payment_intent_data[capture_method]': 'manual' },
      { param: 'payment_intent_data[capture_method]=manual' },
    ],
    ['a ui_mode other than hosted_page', { ui_mode: 'embedded_page' }, { param: 'ui_mode=embedded_page' }],
    [
      'an expansion of a field that cannot be expanded',
      { 'expand[0]': 'customer' },
      { param: 'expand', message: 'This property cannot be expanded (customer).' },
    ],
  ]

  test.for(refused)(
    'refuses %s with a 400 naming the parameter',
    async ([, change, expected], { double, account }) => {
      const form = new URLSearchParams()
      for (const [key, value] of Object.entries({ ...base, ...change }))
        if (value !== undefined) form.set(key, value)
      const answer = await raw(double, 'POST', '/v1/checkout/sessions', {
        key: account.secretKey,
        form: form.toString(),
      })
      expect(answer.status).toBe(400)
      expect(errorOf(answer)).toMatchObject({ type: 'invalid_request_error', ...expected })
      expect(double.sessions()).toEqual([])
    },
  )

  test('refuses line_items in setup mode and a setup session without a currency', async ({
    double,
    stripe,
  }) => {
    await expect(
      stripe.checkout.sessions.create({ mode: 'setup', line_items: lineItems(), success_url: SUCCESS_URL }),
    ).rejects.toMatchObject({
      param: 'line_items',
      message: 'You can not pass `line_items` in `setup` mode.',
    })
    await expect(
      stripe.checkout.sessions.create({ mode: 'setup', success_url: SUCCESS_URL }),
    ).rejects.toMatchObject({
      code: 'parameter_missing',
      param: 'currency',
    })
    expect(double.sessions()).toEqual([])
  })
})

describe('currency rules', () => {
  test('takes zero-decimal amounts as they are', async ({ stripe }) => {
    const session = await paymentSession(stripe, { line_items: [item('jpy', 1999, 2)] })
    expect(session).toMatchObject({ currency: 'jpy', amount_total: 3998 })
    const won = await paymentSession(stripe, { line_items: [item('KRW', 12_000)] })
    expect(won).toMatchObject({ currency: 'krw', amount_total: 12_000 })
  })

  test.for(['kwd', 'bhd', 'jod', 'omr', 'tnd'])(
    'takes %s amounts that are a multiple of 10 and refuses others, naming the parameter',
    async (currency, { stripe }) => {
      const session = await paymentSession(stripe, { line_items: [item(currency, 1990)] })
      expect(session).toMatchObject({ currency, amount_total: 1990 })
      await expect(
        paymentSession(stripe, { line_items: [item(currency, 1000), item(currency, 1995)] }),
      ).rejects.toMatchObject({
        type: 'StripeInvalidRequestError',
        statusCode: 400,
        rawType: 'invalid_request_error',
        code: 'invalid_amount',
        param: 'line_items[1][price_data][unit_amount]',
        message: `Invalid amount for ${currency.toUpperCase()}: amounts in three-decimal currencies must be a multiple of 10 (the last digit must be 0).`,
      })
    },
  )

  const minimums: [string, number, string][] = [
    ['usd', 50, '$0.50'],
    ['eur', 50, '€0.50'],
    ['gbp', 30, '£0.30'],
    ['jpy', 50, '¥50'],
    ['chf', 50, 'CHF\u00a00.50'],
    ['mxn', 1000, 'MX$10.00'],
  ]
  test.for(minimums)(
    'refuses a %s total under %i and takes one of it',
    async ([currency, minimum, shown], { stripe }) => {
      await expect(
        paymentSession(stripe, { line_items: [item(currency, minimum - 1)] }),
      ).rejects.toMatchObject({
        statusCode: 400,
        code: 'amount_too_small',
        param: 'line_items',
        message: `The Checkout Session's total amount due must add up to at least ${shown} ${currency}`,
      })
      expect((await paymentSession(stripe, { line_items: [item(currency, minimum)] })).amount_total).toBe(
        minimum,
      )
    },
  )

  test('refuses a total over eight digits, except in IDR', async ({ stripe }) => {
    await expect(paymentSession(stripe, { line_items: [item('usd', 60_000_000, 2)] })).rejects.toMatchObject({
      code: 'amount_too_large',
      param: 'line_items',
      message: "The Checkout Session's total amount due must be no more than $999,999.99 usd",
    })
    await expect(paymentSession(stripe, { line_items: [item('usd', 100_000_000)] })).rejects.toMatchObject({
      param: 'line_items[0][price_data][unit_amount]',
      message: 'This value must be less than or equal to 99999999.',
    })
    const rupiah = await paymentSession(stripe, { line_items: [item('idr', 500_000_000_000)] })
    expect(rupiah.amount_total).toBe(500_000_000_000)
  })
})

describe('GET /v1/checkout/sessions/:id', () => {
  test('answers the session, expanding the payment intent and its latest charge', async ({
    double,
    stripe,
  }) => {
    const session = await paymentSession(stripe)
    double.pay(session.id)
    const paid = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['payment_intent.latest_charge', 'line_items'],
    })
    expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid', url: null })
    const intent = paid.payment_intent as Stripe.PaymentIntent
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 3500,
      amount_received: 3500,
      currency: 'usd',
      metadata: { order_id: 'ord_1', payment_id: 'pay_1' },
    })
    expect((intent.latest_charge as Stripe.Charge).object).toBe('charge')
    expect(paid.line_items?.data).toHaveLength(2)
    const plain = await stripe.checkout.sessions.retrieve(session.id)
    expect(plain.payment_intent).toBe(intent.id)
  })

  test('answers 404 for an unknown session and refuses expanding more than four levels', async ({
    stripe,
  }) => {
    await expect(stripe.checkout.sessions.retrieve('cs_test_nope')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'session',
      message: "No such checkout.session: 'cs_test_nope'",
    })
    const session = await paymentSession(stripe)
    await expect(
      stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.customer'] }),
    ).resolves.toMatchObject({ payment_intent: null })
    await expect(
      stripe.checkout.sessions.retrieve(session.id, { expand: ['a.b.c.d.e'] }),
    ).rejects.toMatchObject({
      message: 'You cannot expand more than 4 levels of a property.',
    })
  })
})

describe('POST /v1/checkout/sessions/:id/expire', () => {
  test('expires an open session, with an event naming the request', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    const expired = await stripe.checkout.sessions.expire(session.id, {}, { idempotencyKey: 'expire_1' })
    expect(expired).toMatchObject({ id: session.id, status: 'expired', url: null, payment_status: 'unpaid' })
    const [event] = double.events({ type: 'checkout.session.expired' })
    expect(event?.request).toEqual({ id: expired.lastResponse.requestId, idempotency_key: 'expire_1' })
    expect(event?.data.object).toMatchObject({ id: session.id, status: 'expired' })
  })

  test('refuses a completed or an expired session in Stripe’s words', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    double.pay(session.id)
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      message:
        'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of `complete`.',
    })
    const other = await paymentSession(stripe)
    await stripe.checkout.sessions.expire(other.id)
    await expect(stripe.checkout.sessions.expire(other.id)).rejects.toMatchObject({
      message: expect.stringContaining('This Checkout Session has a status of `expired`.'),
    })
    expect(double.object(session.id)).toMatchObject({ status: 'complete' })
  })

  test('cancels the payment intent of a declined attempt', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    expect(double.pay(session.id, { number: '4000000000000002' })).toMatchObject({ status: 'declined' })
    await stripe.checkout.sessions.expire(session.id)
    const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] })
    expect(retrieved.payment_intent).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' })
    expect(double.events().map((e) => e.type)).toContain('payment_intent.canceled')
  })

  test('expires sessions by themselves once expires_at has passed on the double’s clock', async ({
    double,
    stripe,
  }) => {
    const soon = await paymentSession(stripe, { expires_at: Math.floor(Date.now() / 1000) + 1900 })
    const later = await paymentSession(stripe)
    // Both steps run in one tick, so no second of real time passes between reading the clock and sweeping.
    expect(double.advanceClock(soon.expires_at - double.store.now() - 1)).toEqual([])
    expect(double.advanceClock(1)).toEqual([soon.id])
    expect((await stripe.checkout.sessions.retrieve(soon.id)).status).toBe('expired')
    expect((await stripe.checkout.sessions.retrieve(later.id)).status).toBe('open')
    const [event] = double.events({ type: 'checkout.session.expired' })
    expect(event?.request).toEqual({ id: null, idempotency_key: null })
  })
})
