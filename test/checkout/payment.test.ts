// The hosted payment page: the form, paying with the sandbox test cards exactly once, receipts, expiry.
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
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
let projectId: string
let paylinkId: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
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
  return orderId
}

const paymentsOf = (orderId: string) =>
  ctx.database.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .execute()

describe('GET /pay/:order_id', () => {
  it('shows the items, the total and a labelled card form with the standard autocomplete tokens', async () => {
    const orderId = await newOrder()
    const { page } = await openPaymentPage(ctx.app, orderId)
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    expect(page.headers['cache-control']).toBe('no-store')
    expect(page.body).toContain('Pay $49.99')
    for (const [id, token] of [
      ['email', 'email'],
      ['card_number', 'cc-number'],
      ['card_exp', 'cc-exp'],
      ['card_cvc', 'cc-csc'],
      ['card_name', 'cc-name'],
    ]) {
      expect(page.body).toMatch(new RegExp(`<label for="${id}">`))
      expect(page.body).toMatch(new RegExp(`id="${id}"[^>]*autocomplete="${token}"`))
    }
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

describe('POST /pay/:order_id', () => {
  it('pays with 4242…, records the card’s brand, last 4 and expiry only, and shows the receipt', async () => {
    const orderId = await newOrder('?utm_source=ads')
    const session = await openPaymentPage(ctx.app, orderId)
    const res = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe(`${PUBLIC_URL}/pay/${orderId}`)

    const [payment] = await paymentsOf(orderId)
    expect(payment).toMatchObject({
      status: 'succeeded',
      provider: 'sandbox',
      provider_ref: expect.stringMatching(/^sbx_ch_/),
      amount: 4999,
      currency: 'USD',
      card_brand: 'visa',
      card_last4: '4242',
      card_exp_month: 12,
      card_exp_year: 2034,
      failure_code: null,
    })
    const stored =
      JSON.stringify(await ctx.database.db.selectFrom('payments').selectAll().execute()) +
      JSON.stringify(await ctx.database.db.selectFrom('orders').selectAll().execute())
    expect(stored).not.toContain('4242424242424242')
    expect(stored).not.toContain('4242 4242 4242 4242')

    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      buyer_email: 'buyer@example.com',
      paid_at: ctx.clock.now().toISOString(),
      utm: { source: 'ads' },
      payments: [{ status: 'succeeded', card_brand: 'visa', card_last4: '4242' }],
    })

    const receipt = await ctx.app.inject(`/pay/${orderId}`)
    expect(receipt.statusCode).toBe(200)
    expect(receipt.body).toContain('Your payment of $49.99 went through')
    expect(receipt.body).toContain('Visa ending in 4242')
    expect(receipt.body).not.toContain('name="card_number"')
  })

  it.each([
    ['4000 0000 0000 0002', 'card_declined', 'The card was declined.'],
    ['4000000000009995', 'insufficient_funds', 'The card has insufficient funds.'],
  ])(
    'shows why %s was declined, keeps the attempt and lets the buyer try again',
    async (number, code, text) => {
      const orderId = await newOrder()
      const session = await openPaymentPage(ctx.app, orderId)
      const declined = await submitPayment(ctx.app, orderId, session, { ...GOOD_CARD, card_number: number })
      expect(declined.statusCode).toBe(402)
      expect(declined.body).toContain('Payment declined.')
      expect(declined.body).toContain(`${text} (${code})`)
      expect(declined.body).toContain('value="buyer@example.com"')
      expect(declined.body).not.toMatch(/id="card_number"[^>]*value=/)

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
    },
  )

  it.each([
    [{ card_number: '4242 4242 4242 4241' }, 'This card number is not valid.'],
    [
      { card_number: '5555 5555 5555 4444' },
      'This is a sandbox: use a test card such as 4242 4242 4242 4242',
    ],
    [{ card_number: '' }, 'Enter your card number.'],
    [{ card_exp: '13/30' }, 'The expiry month must be from 01 to 12.'],
    [{ card_exp: '01/20' }, 'This card has expired.'],
    [{ card_exp: '1230' }, 'Write the expiry date as MM/YY.'],
    [{ card_cvc: '12' }, 'The security code is 3 or 4 digits.'],
    [{ email: 'nope' }, 'This email address is not valid.'],
    [{ email: '' }, 'Enter your email address for the receipt.'],
  ])('re-shows the form with 400 for %j', async (fields, text) => {
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

  it('pays an order exactly once under concurrent submissions', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const results = await Promise.all(
      Array.from({ length: 8 }, () => submitPayment(ctx.app, orderId, session, GOOD_CARD)),
    )
    const statuses = results.map((r) => r.statusCode)
    expect(statuses.filter((s) => s === 303).length).toBeGreaterThanOrEqual(1)
    expect(statuses.every((s) => s === 303 || s === 409 || s === 200)).toBe(true)
    const payments = await paymentsOf(orderId)
    expect(payments.filter((p) => p.status === 'succeeded')).toHaveLength(1)
    expect(payments.filter((p) => p.status === 'processing')).toHaveLength(0)
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body.status).toBe('paid')
  })

  it('shows the receipt instead of charging a paid order again', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    const again = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(again.statusCode).toBe(200)
    expect(again.body).toContain('went through')
    expect(await paymentsOf(orderId)).toHaveLength(1)
  })

  it('refuses an expired order and shows that it expired', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    ctx.clock.advance(DAY)
    const res = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    const page = await ctx.app.inject(`/pay/${orderId}`)
    ctx.clock.advance(-DAY)
    expect(res.statusCode).toBe(410)
    expect(page.statusCode).toBe(410)
    expect(page.body).toContain('This order has expired')
    expect(await paymentsOf(orderId)).toEqual([])
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('expired')
  })

  it('sends the buyer to the project’s success URL with the order id, which the CSP allows', async () => {
    const project = await createProject(ctx.app, merchant, {
      success_url: 'https://shop.example.com/thanks?from=pay',
    })
    const product = await createProduct(ctx.app, merchant, project.id)
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    const { orderId } = await openPaylink(ctx.app, link.id)
    const session = await openPaymentPage(ctx.app, orderId as string)
    expect(session.page.headers['content-security-policy']).toContain(
      "form-action 'self' https://shop.example.com;",
    )
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
      await submitPayment(app, orderId as string, session, { ...GOOD_CARD, card_cvc: '987' })
      await submitPayment(app, orderId as string, session, {
        ...GOOD_CARD,
        card_number: '4000000000000002',
        card_cvc: '987',
      })
    } finally {
      await app.close()
    }
    const log = lines.join('')
    expect(log.length).toBeGreaterThan(0)
    expect(log).not.toMatch(/4242\s?4242\s?4242\s?4242|4000000000000002/)
    // Neither the form fields nor their values reach a log line.
    expect(log).not.toMatch(/card_number|card_cvc|"cvc"/)
  })
})

describe('order expiry sweep', () => {
  it('expires due orders, leaves fresh ones and ones with a payment in flight', async () => {
    const start = ctx.clock.now()
    const due = await newOrder()
    const inFlight = await newOrder()
    ctx.clock.advance(DAY / 2)
    const fresh = await newOrder()
    ctx.clock.advance(DAY / 2)
    await ctx.database.db
      .insertInto('payments')
      .values({
        id: 'pay_inflight',
        order_id: inFlight,
        status: 'processing',
        provider: 'sandbox',
        provider_ref: null,
        amount: 4999,
        currency: 'USD',
        card_brand: null,
        card_last4: null,
        card_exp_month: null,
        card_exp_year: null,
        failure_code: null,
        failure_message: null,
        created_at: ctx.clock.now(),
        updated_at: ctx.clock.now(),
      })
      .execute()
    const first = await ctx.services.orders.sweep()
    expect(first.stalePayments).toBe(0)
    expect(first.expired).toContain(due)
    expect(first.expired).not.toContain(fresh)
    expect(first.expired).not.toContain(inFlight)

    // Past ten minutes the lost attempt is closed as failed, and then its order expires.
    ctx.clock.advance(11 * 60_000)
    const second = await ctx.services.orders.sweep()
    expect(second.stalePayments).toBe(1)
    expect(second.expired).toEqual([inFlight])
    const [payment] = await paymentsOf(inFlight)
    expect(payment).toMatchObject({ status: 'failed', failure_code: 'processing_timeout' })
    expect((await api(ctx.app, merchant, 'GET', `/orders/${fresh}`)).body.status).toBe('created')
    ctx.clock.set(start)
  })
})
