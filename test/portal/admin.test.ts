// The merchant's side of portals, the checkout-setup page and where portal buyers return.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GOOD_CARD, openPaymentPage, saveSetupCard, submitPayment } from '../helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js'
import { api, createMerchant, createProduct, createProject, type TestMerchant } from '../helpers/factories.js'

let ctx: TestContext
let merchant: TestMerchant
let intruder: TestMerchant
let projectId: string
let portalId: string
let key: string

beforeAll(async () => {
  ctx = await createTestContext({ env: { SMTP_URL: 'smtp://127.0.0.1:9' } })
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant, { sales_email: 'sales@saas.example' })).id
  await createProduct(ctx.app, merchant, projectId, {
    sku: 'SEAT',
    prices: [{ currency: 'USD', amount: 1200 }],
  })
  portalId = (await api(ctx.app, merchant, 'POST', '/portals', { project_id: projectId, name: 'Tenant 1' }))
    .body.id
  key = (await api(ctx.app, merchant, 'POST', `/portals/${portalId}/keys`)).body.key
})
afterAll(() => ctx.close())

const portalCall = (method: 'GET' | 'PUT' | 'POST', url: string, payload?: object) =>
  ctx.app.inject({
    method,
    url: `/api/2.0/portal${url}`,
    headers: { authorization: `Bearer ${key}` },
    ...(payload ? { payload } : {}),
  })

describe('portals admin API', () => {
  it('creates, lists, reads and deletes portals', async () => {
    const created = await api(ctx.app, merchant, 'POST', '/portals', {
      project_id: projectId,
      name: 'Tenant 2',
    })
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      id: expect.stringMatching(/^por_[0-9a-f]{24}$/),
      object: 'portal',
      merchant_id: merchant.id,
      project_id: projectId,
      name: 'Tenant 2',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    })
    const list = await api(ctx.app, merchant, 'GET', `/portals?project_id=${projectId}`)
    expect(list.body.total).toBe(2)
    expect((await api(ctx.app, merchant, 'GET', `/portals/${created.body.id}`)).body).toEqual(created.body)
    expect((await api(ctx.app, merchant, 'DELETE', `/portals/${created.body.id}`)).status).toBe(204)
    expect((await api(ctx.app, merchant, 'GET', `/portals/${created.body.id}`)).status).toBe(404)
  })

  it('answers a portal key once as {"id", "key": "sk-…"} and lists keys without secrets', async () => {
    const res = await api(ctx.app, merchant, 'POST', `/portals/${portalId}/keys`)
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^pkey_/),
      key: expect.stringMatching(/^sk-[0-9a-f]{64}$/),
    })
    const keys = await api(ctx.app, merchant, 'GET', `/portals/${portalId}/keys`)
    expect(keys.body.total).toBe(2)
    expect(JSON.stringify(keys.body)).not.toContain(res.body.key)
  })

  it.each([
    [{ name: 'x' }, 'project_id: is required'],
    [{ project_id: 'a'.repeat(24), name: '' }, 'name: must not be empty'],
    [{ project_id: 'nope', name: 'x' }, 'project_id: must be a 24-character lowercase hex id'],
  ])('rejects %j', async (body, message) => {
    const res = await api(ctx.app, merchant, 'POST', '/portals', body)
    expect(res.status).toBe(400)
    expect(res.body.message).toBe(message)
  })

  it.each([
    [' \t ', 'name: must not be blank', 'blank'],
    ['Ten\u0000ant', 'name: must not contain NUL characters', 'nul'],
  ])('refuses the name %j naming the field, and stores no portal', async (name, message, rule) => {
    const before = await ctx.database.db.selectFrom('portals').select('id').execute()
    const res = await api(ctx.app, merchant, 'POST', '/portals', { project_id: projectId, name })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message,
      details: { field: 'name', rule, location: 'body' },
    })
    expect(await ctx.database.db.selectFrom('portals').select('id').execute()).toEqual(before)
  })

  it('treats another merchant’s portal exactly like a missing one', async () => {
    const missing = `por_${'0'.repeat(24)}`
    for (const [method, path] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/keys'],
      ['GET', '/keys'],
      ['GET', '/payment-method'],
    ] as const) {
      for (const id of [portalId, missing, 'malformed']) {
        const res = await api(ctx.app, intruder, method, `/portals/${id}${path}`)
        expect({ method, path, id, status: res.status, body: res.body }).toEqual({
          method,
          path,
          id,
          status: 404,
          body: { code: 'portal_not_found', message: 'portal not found' },
        })
      }
    }
    const theirProject = await createProject(ctx.app, intruder)
    const own = await api(ctx.app, merchant, 'POST', '/portals', { project_id: theirProject.id, name: 'x' })
    expect(own.status).toBe(404)
    expect((await api(ctx.app, intruder, 'GET', '/payment-requests')).body.total).toBe(0)
    expect((await api(ctx.app, merchant, 'GET', `/portals/${portalId}`)).status).toBe(200)
  })
})

describe('sales request mail', () => {
  it('records a failed mail when the SMTP server cannot be reached, keeping the request', async () => {
    const res = await portalCall('POST', '/payment/request', {
      userName: 'U',
      email: 'u@x.example',
      message: 'hello',
    })
    expect(res.statusCode).toBe(200)
    const listed = await api(ctx.app, merchant, 'GET', '/payment-requests')
    expect(listed.body.payment_requests[0]).toMatchObject({ message: 'hello', mail_status: 'failed' })
    const row = await ctx.database.db
      .selectFrom('payment_requests')
      .select('mail_error')
      .executeTakeFirstOrThrow()
    expect(row.mail_error).toBeTruthy()
  })

  it('logs the mail when SMTP_URL is unset, and skips it when the project has no sales address', async () => {
    const plain = await createTestContext()
    try {
      const m = await createMerchant(plain.services)
      for (const [salesEmail, status] of [
        ['sales@x.example', 'logged'],
        [undefined, 'no_recipient'],
      ] as const) {
        const p = await createProject(plain.app, m, salesEmail ? { sales_email: salesEmail } : {})
        const portal = (await api(plain.app, m, 'POST', '/portals', { project_id: p.id, name: 'p' })).body.id
        const k = (await api(plain.app, m, 'POST', `/portals/${portal}/keys`)).body.key
        const res = await plain.app.inject({
          method: 'POST',
          url: '/api/2.0/portal/payment/request',
          headers: { authorization: k },
          payload: { userName: 'U', email: 'u@x.example', message: 'hi' },
        })
        expect(res.statusCode).toBe(200)
        const listed = await api(plain.app, m, 'GET', `/payment-requests?portal_id=${portal}`)
        expect(listed.body.payment_requests[0].mail_status).toBe(status)
      }
    } finally {
      await plain.close()
    }
  })
})

async function setupUrl(backUrl = 'https://portal.example/billing?tab=card') {
  const res = await portalCall('GET', `/payment/chechoutsetupurl?BackUrl=${encodeURIComponent(backUrl)}`)
  return new URL(res.json().response).pathname
}

const submitSetup = (path: string, fields: Record<string, string>) => saveSetupCard(ctx.app, path, fields)

const CARD = { card_number: '4242 4242 4242 4242', card_exp: '09/31', card_cvc: '123' }

describe('the checkout-setup page', () => {
  it('says what will be saved and sends the portal to the provider’s page for the card — no card field', async () => {
    const path = await setupUrl()
    const page = await ctx.app.inject(path)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('Save a payment method')
    expect(page.body).toContain('Continue to add a card')
    expect(page.body).toContain('<strong>Sandbox</strong>, the payment provider')
    expect(page.body).not.toMatch(/card_number|cc-number/)
    expect(page.headers['content-security-policy']).toContain("form-action 'self';")
  })

  it('saves the card’s brand, last 4 and expiry, returns to the back URL, and the merchant reads it', async () => {
    expect((await api(ctx.app, merchant, 'GET', `/portals/${portalId}/payment-method`)).body).toEqual({
      code: 'payment_method_not_found',
      message: 'the portal has no saved payment method',
    })
    const path = await setupUrl()
    const setupId = path.split('/').pop()
    const res = await submitSetup(path, CARD)
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe(
      `https://portal.example/billing?tab=card&setup_id=${setupId}&status=saved`,
    )
    const method = await api(ctx.app, merchant, 'GET', `/portals/${portalId}/payment-method`)
    expect(method.body).toMatchObject({
      object: 'payment_method',
      portal_id: portalId,
      provider: 'sandbox',
      card_brand: 'visa',
      card_last4: '4242',
      card_exp_month: 9,
      card_exp_year: 2031,
    })
    const rows = JSON.stringify(await ctx.database.db.selectFrom('payment_methods').selectAll().execute())
    expect(rows).not.toContain('4242424242424242')
    // The page now says it is done; a second submit saves nothing more.
    expect((await ctx.app.inject(path)).body).toContain('Payment method saved')
  })

  it('replaces the previous method with a newer one', async () => {
    await submitSetup(await setupUrl(), { ...CARD, card_number: '4242424242424242', card_exp: '01/33' })
    const method = await api(ctx.app, merchant, 'GET', `/portals/${portalId}/payment-method`)
    expect(method.body.card_exp_year).toBe(2033)
  })

  it('shows a declined card and an invalid one without saving', async () => {
    const path = await setupUrl()
    const declined = await submitSetup(path, { ...CARD, card_number: '4000 0000 0000 0002' })
    expect(declined.statusCode).toBe(402)
    expect(declined.body).toContain('The card was not saved.')
    expect(declined.body).toContain('The card was declined. (card_declined)')
    // The sandbox's own page checks the card it is given.
    const invalid = await submitSetup(path, { ...CARD, card_exp: '00/30' })
    expect(invalid.statusCode).toBe(400)
    expect(invalid.body).toContain('The expiry month must be from 01 to 12.')
    expect((await ctx.app.inject(path)).body).toContain('Continue to add a card')
    expect(
      await ctx.database.db
        .selectFrom('payment_methods')
        .selectAll()
        .where('setup_id', '=', path.split('/').pop() as string)
        .execute(),
    ).toEqual([])
  })

  it('answers a NUL in the setup id or in a form field with a page naming it, and saves nothing', async () => {
    const unknown = await ctx.app.inject('/setup/%00')
    expect(unknown.statusCode).toBe(400)
    expect(unknown.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(unknown.body).toContain('holds a NUL character (in setup_id)')
    const before = await ctx.database.db.selectFrom('payment_methods').select('id').execute()
    const path = await setupUrl()
    const res = await submitSetup(path, { ...CARD, card_name: 'Ada\u0000' })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('holds a NUL character (in card_name)')
    expect(await ctx.database.db.selectFrom('payment_methods').select('id').execute()).toEqual(before)
    expect((await ctx.app.inject(path)).body).toContain('Continue to add a card')
  })

  it('expires after a day and answers 404 for an unknown setup', async () => {
    const path = await setupUrl()
    ctx.clock.advance(24 * 60 * 60 * 1000)
    const expired = await ctx.app.inject(path)
    ctx.clock.advance(-24 * 60 * 60 * 1000)
    expect(expired.statusCode).toBe(410)
    expect((await ctx.app.inject(`/setup/cs_${'0'.repeat(24)}`)).statusCode).toBe(404)
  })
})

describe('paying a portal order', () => {
  it('sends the buyer back to backUrl with the order id and status', async () => {
    const res = await portalCall('PUT', '/payment/url', {
      backUrl: 'https://portal.example/return?x=1',
      quantity: { SEAT: 5 },
    })
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    const session = await openPaymentPage(ctx.app, orderId)
    expect(session.page.body).toContain('Pay $60.00')
    // The form goes to paylinks, then to its provider's page; never straight to the portal.
    expect(session.page.headers['content-security-policy']).toContain("form-action 'self';")
    const paid = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(paid.statusCode).toBe(303)
    expect(paid.headers.location).toBe(`https://portal.example/return?x=1&order_id=${orderId}&status=paid`)
    const order = await api(ctx.app, merchant, 'GET', `/orders?portal_id=${portalId}&status=paid`)
    expect(order.body.orders.map((o: { id: string }) => o.id)).toContain(orderId)
    expect(res.json().response).toBe(`${PUBLIC_URL}/pay/${orderId}`)
  })
})

describe('paying a portal order with a successUrl', () => {
  it('sends the buyer to successUrl after paying, and offers backUrl as the way back', async () => {
    const backUrl = 'https://portal.example/payments?tab=plans?complete=true'
    const successUrl = 'https://portal.example/payments?tab=plans?paid=true'
    const res = await portalCall('PUT', '/payment/url', {
      backUrl,
      SuccessUrl: successUrl,
      quantity: { SEAT: 1 },
    })
    expect(res.statusCode).toBe(200)
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    const stored = await ctx.database.db
      .selectFrom('orders')
      .select(['back_url', 'success_url'])
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow()
    expect(stored).toEqual({ back_url: backUrl, success_url: successUrl })

    const session = await openPaymentPage(ctx.app, orderId)
    expect(session.page.body).toContain(`href="${backUrl}"`)
    expect(session.page.headers['content-security-policy']).toContain("form-action 'self';")
    const paid = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(paid.statusCode).toBe(303)
    expect(paid.headers.location).toBe(`${successUrl}&order_id=${orderId}&status=paid`)
    // The receipt continues to the same place.
    const receipt = await ctx.app.inject(`/pay/${orderId}`)
    expect(receipt.body).toContain(`href="${successUrl}&amp;order_id=${orderId}&amp;status=paid"`)
  })

  it('sends the buyer on to successUrl’s origin even when it differs from backUrl’s', async () => {
    const res = await portalCall('PUT', '/payment/url', {
      backUrl: 'https://portal.example/back',
      successUrl: 'https://billing.example/done',
      quantity: { SEAT: 1 },
    })
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    const session = await openPaymentPage(ctx.app, orderId)
    const paid = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(paid.headers.location).toBe(`https://billing.example/done?order_id=${orderId}&status=paid`)
  })
})

describe('a checkout setup without BackUrl', () => {
  it('ends on our own page that says the card was saved', async () => {
    const res = await portalCall('GET', '/payment/chechoutsetupurl')
    expect(res.statusCode).toBe(200)
    const path = new URL(res.json().response).pathname
    const setupId = path.split('/').pop() as string
    const done = await submitSetup(path, CARD)
    expect(done.statusCode).toBe(200)
    expect(done.body).toContain('<h1>Payment method saved</h1>')
    const page = await ctx.app.inject(path)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<h1>Payment method saved</h1>')
    expect(page.body).toContain('Visa ending in 4242')
    expect(page.body).toContain('Tenant 1')
    expect(page.body).toContain('You can close this page.')
    expect(page.body).not.toContain('<a class="button')
    const stored = await ctx.database.db
      .selectFrom('checkout_setups')
      .select(['back_url', 'status'])
      .where('id', '=', setupId)
      .executeTakeFirstOrThrow()
    expect(stored).toEqual({ back_url: null, status: 'completed' })
    const method = await api(ctx.app, merchant, 'GET', `/portals/${portalId}/payment-method`)
    expect(method.body).toMatchObject({ card_last4: '4242', card_exp_year: 2031 })
  })
})

describe('the total of a portal order', () => {
  const MAX = 999_999_999_999

  it.each([
    [{ BIG: 9007 }, 'quantity.BIG'],
    [{ BIG: 9008 }, 'quantity.BIG'],
    [{ BIG: 2 }, 'quantity.BIG'],
    [{ HALF: 1, BIG: 1 }, 'quantity.BIG'],
    [{ BIG: 1, HALF: 1 }, 'quantity.HALF'],
  ])('refuses %j, whose total is over the maximum amount, naming %s', async (quantity, field) => {
    const before = await ctx.database.db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    const res = await portalCall('PUT', '/payment/url', { backUrl: 'https://portal.example/b', quantity })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({
      error: {
        message: `${field}: brings the order total over the maximum amount, 999999999999 minor units of USD`,
        type: 'validation_failed',
      },
      status: 1,
      statusCode: 400,
    })
    const after = await ctx.database.db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(after.n).toBe(before.n)
  })

  it('accepts a total of exactly the maximum amount', async () => {
    const res = await portalCall('PUT', '/payment/url', {
      backUrl: 'https://portal.example/b',
      quantity: { BIG: 1 },
    })
    expect(res.statusCode).toBe(200)
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.total_amount).toBe(MAX)
  })

  beforeAll(async () => {
    await createProduct(ctx.app, merchant, projectId, {
      sku: 'BIG',
      prices: [{ currency: 'USD', amount: MAX }],
    })
    await createProduct(ctx.app, merchant, projectId, {
      sku: 'HALF',
      prices: [{ currency: 'USD', amount: 500_000_000_000 }],
    })
  })
})
