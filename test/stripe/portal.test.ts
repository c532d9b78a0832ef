// The portal billing API on a project connected to Stripe: its payment URL is paid through Checkout and
// returns to the portal's back URL; its checkout-setup URL saves a card through a `setup` session, read
// from the SetupIntent's payment method (brand, last 4, expiry).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookiesOf, csrfTokenOf } from '../helpers/buyer.js'
import { api, createProduct } from '../helpers/factories.js'
import { comeBack, goToStripe, type StripeShop, startWorld, stripeShop, type World } from './world.js'

let world: World
let shop: StripeShop
let portalId: string
let key: string

beforeAll(async () => {
  world = await startWorld()
  shop = await stripeShop(world)
  await createProduct(world.app, shop.merchant, shop.projectId, {
    sku: 'SEAT',
    prices: [{ currency: 'USD', amount: 1200 }],
  })
  portalId = (
    await api(world.app, shop.merchant, 'POST', '/portals', { project_id: shop.projectId, name: 'Tenant' })
  ).body.id
  key = (await api(world.app, shop.merchant, 'POST', `/portals/${portalId}/keys`)).body.key
})
afterAll(() => world?.close())

const portalCall = (method: 'GET' | 'PUT', url: string, payload?: object) =>
  world.app.inject({
    method,
    url: `/api/2.0/portal${url}`,
    headers: { authorization: `Bearer ${key}` },
    ...(payload ? { payload } : {}),
  })

describe('the portal’s payment URL on a Stripe project', () => {
  it('is paid on Stripe’s page and sends the buyer back to the portal with the order’s status', async () => {
    const res = await portalCall('PUT', '/payment/url', {
      backUrl: 'https://portal.example/return?x=1',
      quantity: { SEAT: 3 },
    })
    expect(res.statusCode).toBe(200)
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    world.double.clearRequests()
    const checkout = await goToStripe(world, orderId)
    expect(checkout.res.statusCode).toBe(303)
    expect(
      world.double.requests({ method: 'POST', path: '/v1/checkout/sessions' })[0]?.params.line_items,
    ).toEqual([
      {
        quantity: '3',
        price_data: { currency: 'usd', unit_amount: '1200', product_data: { name: expect.any(String) } },
      },
    ])
    const paid = world.double.pay(checkout.sessionId as string) as { redirect: string }
    const back = await comeBack(world, paid.redirect, checkout.cookie)
    expect(back.statusCode).toBe(303)
    expect(back.headers.location).toBe(`https://portal.example/return?x=1&order_id=${orderId}&status=paid`)
    const order = await api(world.app, shop.merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({ status: 'paid', total_amount: 3600, portal_id: portalId })
  })
})

describe('the portal’s checkout-setup URL on a Stripe project', () => {
  it('saves the card through a setup session and reads brand, last 4 and expiry from its SetupIntent', async () => {
    const res = await portalCall(
      'GET',
      `/payment/chechoutsetupurl?BackUrl=${encodeURIComponent('https://portal.example/billing')}`,
    )
    const setupPath = new URL(res.json().response).pathname
    const setupId = setupPath.split('/').pop() as string
    const page = await world.app.inject(setupPath)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<strong>Stripe</strong>, the payment provider')
    expect(page.headers['content-security-policy']).toContain(`form-action 'self' ${world.double.url};`)
    world.double.clearRequests()
    const cookie = cookiesOf(page)
    const started = await world.app.inject({
      method: 'POST',
      url: setupPath,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrfTokenOf(page.body) }).toString(),
    })
    expect(started.statusCode).toBe(303)
    const sessionId = /\/c\/pay\/(cs_test_\w+)$/.exec(started.headers.location as string)?.[1] as string
    const [create] = world.double.requests({ method: 'POST', path: '/v1/checkout/sessions' })
    const reference = create?.params.client_reference_id as string
    expect(reference).toMatch(new RegExp(`^${setupId}\\.[0-9a-f]{8}$`))
    expect(create?.params).toEqual({
      mode: 'setup',
      allowed_payment_method_types: ['card'],
      client_reference_id: reference,
      metadata: { setup_id: reference },
      setup_intent_data: { description: 'Payment method for Tenant', metadata: { setup_id: reference } },
      success_url: `${world.baseUrl}/setup/${setupId}/return`,
      cancel_url: `${world.baseUrl}/setup/${setupId}/return`,
      expires_at: expect.stringMatching(/^\d+$/),
    })
    expect(create?.idempotencyKey).toBe(reference)

    const saved = world.double.saveCard(sessionId, {
      number: '5555555555554444',
      expMonth: 9,
      expYear: 2031,
    }) as {
      redirect: string
    }
    const back = await comeBack(world, saved.redirect, cookie)
    expect(back.statusCode).toBe(303)
    expect(back.headers.location).toBe(`https://portal.example/billing?setup_id=${setupId}&status=saved`)
    const method = await api(world.app, shop.merchant, 'GET', `/portals/${portalId}/payment-method`)
    expect(method.body).toMatchObject({
      object: 'payment_method',
      portal_id: portalId,
      provider: 'stripe',
      card_brand: 'mastercard',
      card_last4: '4444',
      card_exp_month: 9,
      card_exp_year: 2031,
    })
    // Its events (setup_intent.succeeded, checkout.session.completed) arrive after: nothing saved twice.
    await world.double.eventsSettled()
    const rows = await world.database.db
      .selectFrom('payment_methods')
      .selectAll()
      .where('setup_id', '=', setupId)
      .execute()
    expect(rows).toHaveLength(1)
    expect(rows[0]?.provider_ref).toMatch(/^pm_/)
  })

  it('saves the card from setup_intent.succeeded when the portal never comes back', async () => {
    const res = await portalCall('GET', '/payment/chechoutsetupurl')
    const setupPath = new URL(res.json().response).pathname
    const setupId = setupPath.split('/').pop() as string
    const page = await world.app.inject(setupPath)
    const started = await world.app.inject({
      method: 'POST',
      url: setupPath,
      headers: { cookie: cookiesOf(page), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrfTokenOf(page.body) }).toString(),
    })
    const sessionId = /\/c\/pay\/(cs_test_\w+)$/.exec(started.headers.location as string)?.[1] as string
    world.double.saveCard(sessionId, { number: '4242424242424242', expMonth: 3, expYear: 2032 })
    await world.double.eventsSettled()
    const rows = await world.database.db
      .selectFrom('payment_methods')
      .select(['card_brand', 'card_last4', 'card_exp_month', 'card_exp_year'])
      .where('setup_id', '=', setupId)
      .execute()
    expect(rows).toEqual([{ card_brand: 'visa', card_last4: '4242', card_exp_month: 3, card_exp_year: 2032 }])
    expect((await world.app.inject(setupPath)).body).toContain('Payment method saved')
  })
})

describe('a portal of a project on a live Stripe key', () => {
  it('makes its orders live from the start', async () => {
    const live = await stripeShop(world, { live: true })
    await createProduct(world.app, live.merchant, live.projectId, {
      sku: 'SEAT',
      prices: [{ currency: 'USD', amount: 1200 }],
    })
    const portal = (
      await api(world.app, live.merchant, 'POST', '/portals', {
        project_id: live.projectId,
        name: 'Live tenant',
      })
    ).body.id
    const liveKey = (await api(world.app, live.merchant, 'POST', `/portals/${portal}/keys`)).body.key
    const res = await world.app.inject({
      method: 'PUT',
      url: '/api/2.0/portal/payment/url',
      headers: { authorization: `Bearer ${liveKey}` },
      payload: { backUrl: 'https://portal.example/return', quantity: { SEAT: 1 } },
    })
    const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
    expect((await api(world.app, live.merchant, 'GET', `/orders/${orderId}`)).body).toMatchObject({
      livemode: true,
      payments: [],
    })
  })
})
