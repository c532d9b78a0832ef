// paylinks' own payment page: the order, the email, and the way to the provider's page; the buyer's
// return, looked up before anything is shown; paying exactly once; receipts and expiry.
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import {
  answerChallenge,
  card,
  enterCard,
  GOOD_CARD,
  openPaylink,
  openPaymentPage,
  pathOf,
  returnUrlOf,
  startPayment,
  submitPayment,
} from '../helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { eventsOf as webhookEventsOf } from '../helpers/payments.js'

let ctx: TestContext
let merchant: TestMerchant
let projectId: string
let paylinkId: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  await listenToEverything(ctx.services, merchant.id)
  projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    name: 'Lamp',
    prices: [
      { currency: 'USD', amount: 4999 },
      { currency: 'JPY', amount: 7500 },
      { currency: 'KWD', amount: 15250 },
      { currency: 'EUR', amount: 123456 },
    ],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

async function newOrder(query = '') {
  const { orderId } = await openPaylink(ctx.app, paylinkId, query)
  if (!orderId) throw new Error('no order')
  // What follows happens a moment later, so that rows ordered by time keep the order of the steps.
  ctx.clock.advance(1000)
  return orderId
}

const eventsOf = (orderId: string) => webhookEventsOf(ctx, orderId)

const paymentsOf = (orderId: string) =>
  ctx.database.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .execute()

describe('GET /pay/:order_id', () => {
  it('shows the items, the total, a labelled email field and the way to the provider — no card field', async () => {
    const orderId = await newOrder()
    const { page } = await openPaymentPage(ctx.app, orderId)
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    expect(page.headers['cache-control']).toBe('no-store')
    expect(page.body).toContain('Pay $49.99')
    expect(page.body).toMatch(/<label for="email">/)
    expect(page.body).toMatch(/id="email"[^>]*autocomplete="email"/)
    expect(page.body).toContain('Continue to payment')
    expect(page.body).toContain('<strong>Sandbox</strong>, the payment provider simulated by paylinks')
    expect(page.body).toContain('Test mode')
    expect(page.body).not.toMatch(/card_number|cc-number|cc-csc/)
    const cookie = String(page.headers['set-cookie'])
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Secure', 'Path=/'])
      expect(cookie).toContain(attribute)
  })

  it.each([
    ['?currency=JPY', 'ja-JP', '￥7,500'],
    ['?currency=KWD', 'en-US', 'KWD\u00a015.250'],
    ['?currency=EUR', 'de-DE', '1.234,56\u00a0€'],
    ['', 'fr-CH;q=0.9, xx;q=1', '49.99\u00a0$US'],
  ])('formats the total of %s for %s as %s', async (query, language, total) => {
    const orderId = await newOrder(query)
    const { page } = await openPaymentPage(ctx.app, orderId, { 'accept-language': language })
    expect(page.body).toContain(`Pay ${total}`)
  })

  it('answers 404 for an unknown order', async () => {
    const res = await ctx.app.inject(`/pay/ord_${'0'.repeat(24)}`)
    expect(res.statusCode).toBe(404)
    expect(res.body).toContain('Order not found')
  })

  it('answers a NUL in the order id with a 400 page naming it', async () => {
    const res = await ctx.app.inject('/pay/ord_%00')
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('holds a NUL character (in order_id)')
  })
})

describe('paying through the sandbox provider’s page', () => {
  it('sends the buyer to the sandbox, takes 4242… there, looks the payment up on return and shows the receipt', async () => {
    const orderId = await newOrder('?utm_source=ads')
    const session = await openPaymentPage(ctx.app, orderId)
    const started = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    expect(started.statusCode).toBe(303)
    const sandboxUrl = started.headers.location as string
    expect(sandboxUrl).toMatch(new RegExp(`^${PUBLIC_URL}/sandbox/checkout/sbx_cs_[0-9a-f]{24}$`))

    const sandboxPage = await ctx.app.inject(pathOf(sandboxUrl))
    expect(sandboxPage.statusCode).toBe(200)
    expect(sandboxPage.body).toContain('a simulated payment provider')
    for (const [id, token] of [
      ['card_number', 'cc-number'],
      ['card_exp', 'cc-exp'],
      ['card_cvc', 'cc-csc'],
      ['card_name', 'cc-name'],
    ]) {
      expect(sandboxPage.body).toMatch(new RegExp(`<label for="${id}">`))
      expect(sandboxPage.body).toMatch(new RegExp(`id="${id}"[^>]*autocomplete="${token}"`))
    }
    expect(sandboxPage.body).toContain(`href="${PUBLIC_URL}/pay/${orderId}/cancel?payment=pay_`)

    const entered = await enterCard(ctx.app, sandboxUrl, GOOD_CARD)
    expect(entered.statusCode).toBe(200)
    const back = returnUrlOf(entered) as string
    expect(back).toMatch(new RegExp(`^${PUBLIC_URL}/pay/${orderId}/return\\?payment=pay_[0-9a-f]{24}$`))
    const returned = await ctx.app.inject(pathOf(back))
    expect(returned.statusCode).toBe(303)
    expect(returned.headers.location).toBe(`${PUBLIC_URL}/pay/${orderId}`)

    const [payment] = await paymentsOf(orderId)
    expect(payment).toMatchObject({
      status: 'succeeded',
      provider: 'sandbox',
      provider_ref: expect.stringMatching(/^sbx_cs_/),
      provider_payment_id: expect.stringMatching(/^sbx_ch_/),
      livemode: false,
      amount: 4999,
      currency: 'USD',
      card_brand: 'visa',
      card_last4: '4242',
      card_exp_month: 12,
      card_exp_year: 2034,
      failure_code: null,
    })
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      buyer_email: 'buyer@example.com',
      paid_at: ctx.clock.now().toISOString(),
      utm: { source: 'ads' },
      livemode: false,
      amount_refunded: 0,
      payments: [{ status: 'succeeded', card_brand: 'visa', card_last4: '4242' }],
      refunds: [],
      disputes: [],
    })

    const receipt = await ctx.app.inject(`/pay/${orderId}`)
    expect(receipt.statusCode).toBe(200)
    expect(receipt.body).toContain('Your payment of $49.99 went through')
    expect(receipt.body).toContain('Visa ending in 4242')
  })

  it('applies the sandbox’s signed event once, whether the event or the buyer’s return comes first', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const started = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    await enterCard(ctx.app, started.headers.location as string, GOOD_CARD)
    // The event first: the order is paid before the buyer is back.
    expect(await ctx.services.sandbox.deliverDue()).toBeGreaterThan(0)
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('paid')
    const [payment] = await paymentsOf(orderId)
    const events = await ctx.database.db.selectFrom('provider_events').selectAll().execute()
    const about = (e: (typeof events)[number]) =>
      (e.payload as { data: { object: { reference: string } } }).data.object.reference === payment?.id
    expect(events.filter(about).map((e) => [e.type, e.status])).toEqual([
      ['checkout.session.completed', 'applied'],
    ])
    // The buyer's return then finds the payment settled already, and changes nothing.
    const back = await ctx.app.inject(`/pay/${orderId}/return?payment=${payment?.id}`)
    expect(back.statusCode).toBe(303)
    expect(await eventsOf(orderId)).toEqual(['order.created', 'order.paid'])
  })

  it.each([
    ['4000 0000 0000 0002', 'card_declined', 'The card was declined.'],
    ['4000000000009995', 'insufficient_funds', 'The card has insufficient funds.'],
  ])(
    'shows why %s was declined, keeps the payment and lets the buyer try again',
    async (number, code, text) => {
      const orderId = await newOrder()
      const session = await openPaymentPage(ctx.app, orderId)
      const declined = await submitPayment(ctx.app, orderId, session, card(number))
      expect(declined.statusCode).toBe(402)
      expect(declined.body).toContain('Payment failed.')
      expect(declined.body).toContain(`${text} (${code})`)
      expect(declined.body).toContain('value="buyer@example.com"')

      ctx.clock.advance(1000)
      const retry = await submitPayment(
        ctx.app,
        orderId,
        { ...session, token: /name="_csrf" value="([^"]+)"/.exec(declined.body)?.[1] as string },
        GOOD_CARD,
      )
      expect(retry.statusCode).toBe(303)
      const payments = await paymentsOf(orderId)
      expect(payments.map((p) => [p.status, p.failure_code])).toEqual([
        ['failed', code],
        ['succeeded', null],
      ])
      expect(await eventsOf(orderId)).toEqual(['order.created', 'order.payment_failed', 'order.paid'])
    },
  )

  it('passes the 3-D Secure step when approved, and fails the payment when denied', async () => {
    for (const [answer, status] of [
      ['approve', 'succeeded'],
      ['deny', 'failed'],
    ] as const) {
      const orderId = await newOrder()
      const session = await openPaymentPage(ctx.app, orderId)
      const started = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
      const challenge = await enterCard(
        ctx.app,
        started.headers.location as string,
        card('4000 0027 6000 3184'),
      )
      expect(challenge.statusCode).toBe(200)
      expect(challenge.body).toContain('3-D Secure')
      expect((await paymentsOf(orderId))[0]?.status).toBe('pending')
      await ctx.services.sandbox.deliverDue()
      expect((await paymentsOf(orderId))[0]?.status).toBe('requires_action')
      const answered = await answerChallenge(ctx.app, started.headers.location as string, answer)
      const back = await ctx.app.inject(pathOf(returnUrlOf(answered) as string))
      expect(back.statusCode).toBe(answer === 'approve' ? 303 : 402)
      const [payment] = await paymentsOf(orderId)
      expect(payment?.status).toBe(status)
      if (answer === 'deny') expect(payment?.failure_code).toBe('authentication_failed')
    }
  })

  it('shows “processing” for 4000 0000 0000 0077 until the provider settles it by event a little later', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const back = await submitPayment(ctx.app, orderId, session, card('4000 0000 0000 0077'))
    expect(back.statusCode).toBe(200)
    expect(back.body).toContain('Your payment is being processed')
    expect(back.body).toMatch(/<meta http-equiv="refresh" content="3; url=[^"]+\/return\?payment=pay_/)
    expect((await paymentsOf(orderId))[0]?.status).toBe('processing')
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('created')

    ctx.clock.advance(3_000)
    await ctx.services.sandbox.runOnce()
    expect((await paymentsOf(orderId))[0]?.status).toBe('succeeded')
    const payment = (await paymentsOf(orderId))[0]
    const again = await ctx.app.inject(`/pay/${orderId}/return?payment=${payment?.id}`)
    expect(again.statusCode).toBe(303)
    expect((await ctx.app.inject(`/pay/${orderId}`)).body).toContain('went through')
  })

  it('keeps a payment met by the provider’s outage unknown — never failed — until the reconciler finds it failed', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const back = await submitPayment(ctx.app, orderId, session, card('4000 0000 0000 0119'))
    expect(back.statusCode).toBe(200)
    expect(back.body).toContain('Your payment is being processed')
    expect(back.body).not.toContain('failed')
    expect((await paymentsOf(orderId))[0]?.status).toBe('unknown')
    // During the outage the reconciler cannot learn more; the payment stays unknown.
    ctx.clock.advance(5_000)
    await ctx.services.payments.sweep()
    expect((await paymentsOf(orderId))[0]?.status).toBe('unknown')
    ctx.clock.advance(30_000)
    await ctx.services.payments.sweep()
    const [payment] = await paymentsOf(orderId)
    expect(payment).toMatchObject({ status: 'failed', failure_code: 'processing_error' })
    expect(await eventsOf(orderId)).toEqual(['order.created', 'order.payment_failed'])
    const page = await ctx.app.inject(`/pay/${orderId}`)
    expect(page.body).toContain('Continue to payment')
  })

  it('cancels the session when the buyer gives up at the provider, and lets them start again', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    const [open] = await paymentsOf(orderId)
    const canceled = await ctx.app.inject({
      url: `/pay/${orderId}/cancel?payment=${open?.id}`,
      headers: { cookie: session.cookie },
    })
    expect(canceled.statusCode).toBe(200)
    expect(canceled.body).toContain('Payment canceled.')
    expect((await paymentsOf(orderId))[0]?.status).toBe('canceled')
    ctx.clock.advance(1000)
    const sandboxSession = await ctx.database.db
      .selectFrom('sandbox_sessions')
      .select('status')
      .where('id', '=', open?.provider_ref as string)
      .executeTakeFirstOrThrow()
    expect(sandboxSession.status).toBe('expired')
    const retry = await submitPayment(
      ctx.app,
      orderId,
      { ...session, token: /name="_csrf" value="([^"]+)"/.exec(canceled.body)?.[1] as string },
      GOOD_CARD,
    )
    expect(retry.statusCode).toBe(303)
    expect((await paymentsOf(orderId)).map((p) => p.status)).toEqual(['canceled', 'succeeded'])
  })

  it.each([
    [{ email: 'nope' }, 'This email address is not valid.'],
    [{ email: '' }, 'Enter your email address for the receipt.'],
  ])('re-shows paylinks’ form with 400 for %j', async (fields, text) => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const res = await submitPayment(ctx.app, orderId, session, { ...GOOD_CARD, ...fields })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('Please check the form.')
    expect(res.body).toContain(text)
    expect(res.body).toContain('aria-invalid="true"')
    expect(await paymentsOf(orderId)).toEqual([])
  })

  it.each([
    ['no CSRF token', (s: { cookie: string; token: string }) => ({ ...s, token: '' })],
    ['a forged token', (s: { cookie: string; token: string }) => ({ ...s, token: 'forged' })],
    ['no cookie', (s: { cookie: string; token: string }) => ({ ...s, cookie: '' })],
  ])('refuses a form with %s: 403 and no payment', async (_case, tamper) => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const res = await submitPayment(ctx.app, orderId, tamper(session), GOOD_CARD)
    expect(res.statusCode).toBe(403)
    expect(res.body).toContain('This form has expired')
    expect(await paymentsOf(orderId)).toEqual([])
  })

  it('answers a NUL in a form field with a 400 page naming it, and takes no payment', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const res = await submitPayment(ctx.app, orderId, session, {
      ...GOOD_CARD,
      email: 'buyer\u0000@example.com',
    })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('holds a NUL character (in email)')
    expect(await paymentsOf(orderId)).toEqual([])
    const order = await ctx.database.db
      .selectFrom('orders')
      .select(['status', 'buyer_email'])
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow()
    expect(order).toEqual({ status: 'created', buyer_email: null })
  })

  it('opens one payment — one session at the provider — for 10 concurrent submits', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const results = await Promise.all(
      Array.from({ length: 10 }, () => startPayment(ctx.app, orderId, session, 'buyer@example.com')),
    )
    const payments = await paymentsOf(orderId)
    expect(payments).toHaveLength(1)
    const sessions = await ctx.database.db
      .selectFrom('sandbox_sessions')
      .select('id')
      .where('reference', '=', payments[0]?.id as string)
      .execute()
    expect(sessions).toHaveLength(1)
    for (const res of results) {
      // Each submit goes to the one session, or is told that the payment is in progress.
      expect([303, 409]).toContain(res.statusCode)
      if (res.statusCode === 303)
        expect(res.headers.location).toBe(`${PUBLIC_URL}/sandbox/checkout/${sessions[0]?.id}`)
    }
    await enterCard(ctx.app, `${PUBLIC_URL}/sandbox/checkout/${sessions[0]?.id}`, GOOD_CARD)
    await ctx.services.sandbox.deliverDue()
    expect((await paymentsOf(orderId)).map((p) => p.status)).toEqual(['succeeded'])
  })

  it('shows the receipt instead of charging a paid order again', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    const again = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    expect(again.statusCode).toBe(200)
    expect(again.body).toContain('went through')
    expect(await paymentsOf(orderId)).toHaveLength(1)
  })

  it('refuses an expired order and shows that it expired', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    ctx.clock.advance(DAY)
    const res = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    const page = await ctx.app.inject(`/pay/${orderId}`)
    ctx.clock.advance(-DAY)
    expect(res.statusCode).toBe(410)
    expect(page.statusCode).toBe(410)
    expect(page.body).toContain('This order has expired')
    expect(await paymentsOf(orderId)).toEqual([])
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('expired')
  })

  it('sends the buyer to the project’s success URL with the order id after paying', async () => {
    const project = await createProject(ctx.app, merchant, {
      success_url: 'https://shop.example.com/thanks?from=pay',
    })
    const product = await createProduct(ctx.app, merchant, project.id)
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    const { orderId } = await openPaylink(ctx.app, link.id)
    const session = await openPaymentPage(ctx.app, orderId as string)
    const res = await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe(`https://shop.example.com/thanks?from=pay&order_id=${orderId}`)
  })

  it('never writes a card number or security code to the logs', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const app = await buildApp(ctx.services, { logger: pino({ level: 'trace' }, sink) })
    try {
      const { orderId } = await openPaylink(app, paylinkId)
      const session = await openPaymentPage(app, orderId as string)
      await submitPayment(app, orderId as string, session, { ...card('4000000000000002'), card_cvc: '987' })
      await submitPayment(app, orderId as string, session, { ...GOOD_CARD, card_cvc: '987' })
    } finally {
      await app.close()
      // The sandbox delivers to the app it was last connected to.
      await buildApp(ctx.services).then((fresh) => fresh.close())
    }
    const log = lines.join('')
    expect(log.length).toBeGreaterThan(0)
    expect(log).not.toMatch(/4242\s?4242\s?4242\s?4242|4000000000000002/)
    // Neither the form fields nor their values reach a log line (the code as a value: digits alone also
    // occur in times and ids).
    expect(log).not.toMatch(/card_number|card_cvc|"cvc"|"987"|=987\b/)
  })
})
