// Where buyers and portal admins are sent back to: every return URL is kept byte for byte as its caller
// gave it, and paylinks appends its own parameters after it. DocSpace's web client builds its back URL as
// `location.href + "?complete=true"`, so a URL may hold a second `?`, and it searches the URL it comes
// back to for `complete=true`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GOOD_CARD, openPaylink, openPaymentPage, saveSetupCard, submitPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
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
let key: string

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  const project = await createProject(ctx.app, merchant)
  await createProduct(ctx.app, merchant, project.id, {
    sku: 'SEAT',
    prices: [{ currency: 'USD', amount: 500 }],
  })
  const portal = (
    await api(ctx.app, merchant, 'POST', '/portals', { project_id: project.id, name: 'Tenant' })
  ).body.id
  key = (await api(ctx.app, merchant, 'POST', `/portals/${portal}/keys`)).body.key
})
afterAll(() => ctx.close())

const portalCall = (method: 'GET' | 'PUT', url: string, payload?: object) =>
  ctx.app.inject({
    method,
    url: `/api/2.0/portal${url}`,
    headers: { authorization: `Bearer ${key}` },
    ...(payload ? { payload } : {}),
  })

async function paidRedirect(body: object): Promise<{ orderId: string; location: unknown }> {
  const res = await portalCall('PUT', '/payment/url', body)
  expect(res.statusCode).toBe(200)
  const orderId = /ord_[0-9a-f]{24}/.exec(res.json().response)?.[0] as string
  const session = await openPaymentPage(ctx.app, orderId)
  const paid = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
  expect(paid.statusCode).toBe(303)
  return { orderId, location: paid.headers.location }
}

async function savedRedirect(backUrl: string): Promise<{ setupId: string; location: unknown }> {
  const res = await portalCall('GET', `/payment/chechoutsetupurl?BackUrl=${encodeURIComponent(backUrl)}`)
  expect(res.statusCode).toBe(200)
  const path = new URL(res.json().response).pathname
  const saved = await saveSetupCard(ctx.app, path, {
    card_number: '4242 4242 4242 4242',
    card_exp: '09/31',
    card_cvc: '123',
  })
  expect(saved.statusCode).toBe(303)
  return { setupId: path.split('/').pop() as string, location: saved.headers.location }
}

// [back URL as the caller gives it, what follows it for `(params)`]
const RETURN_URLS: [string, (params: string) => string][] = [
  // DocSpace's `location.href + "?complete=true"` from a page that has a query already.
  [
    'https://portal.example/payments?tab=methods?complete=true',
    (p) => `https://portal.example/payments?tab=methods?complete=true&${p}`,
  ],
  ['https://portal.example/billing', (p) => `https://portal.example/billing?${p}`],
  ['https://portal.example/billing?', (p) => `https://portal.example/billing?${p}`],
  ['https://portal.example/p?x=1#pane', (p) => `https://portal.example/p?x=1&${p}#pane`],
  ['https://portal.example/p#/settings?tab=1', (p) => `https://portal.example/p?${p}#/settings?tab=1`],
  // What a URL parser would rewrite (case, dot segments, escapes, `+`) stays as it was.
  [
    'HTTPS://Portal.Example:443/a/../b?q=%7e&name=a+b&q=%2F',
    (p) => `HTTPS://Portal.Example:443/a/../b?q=%7e&name=a+b&q=%2F&${p}`,
  ],
]

describe('return URLs are kept byte for byte, with our parameters appended', () => {
  it.each(RETURN_URLS)('after paying, backUrl %s', async (backUrl, expected) => {
    const { orderId, location } = await paidRedirect({ backUrl, quantity: { SEAT: 1 } })
    expect(location).toBe(expected(`order_id=${orderId}&status=paid`))
    const stored = await ctx.database.db
      .selectFrom('orders')
      .select('back_url')
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow()
    expect(stored.back_url).toBe(backUrl)
    expect((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.back_url).toBe(backUrl)
  })

  it.each(RETURN_URLS)('after saving a card, BackUrl %s', async (backUrl, expected) => {
    const { setupId, location } = await savedRedirect(backUrl)
    expect(location).toBe(expected(`setup_id=${setupId}&status=saved`))
    const stored = await ctx.database.db
      .selectFrom('checkout_setups')
      .select('back_url')
      .where('id', '=', setupId)
      .executeTakeFirstOrThrow()
    expect(stored.back_url).toBe(backUrl)
    // The page of the completed setup links to the same place.
    const done = await ctx.app.inject(`/setup/${setupId}`)
    const href = expected(`setup_id=${setupId}&status=saved`).replaceAll('&', '&amp;')
    expect(done.body).toContain(`href="${href}"`)
  })

  it('leaves completion detectable the way DocSpace’s client detects it', async () => {
    const href = 'https://portal.example/portal-settings/payments/portal-payments?tab=methods'
    const { location } = await paidRedirect({ backUrl: `${href}?complete=true`, quantity: { SEAT: 2 } })
    expect(String(location).includes('complete=true')).toBe(true)
  })

  it('appends order_id to a project’s success_url the same way', async () => {
    const successUrl = 'https://shop.example/thanks?from=pay?ok=1#top'
    const project = await createProject(ctx.app, merchant, { success_url: successUrl })
    expect(
      (
        await ctx.database.db
          .selectFrom('projects')
          .select('success_url')
          .where('id', '=', project.id)
          .executeTakeFirstOrThrow()
      ).success_url,
    ).toBe(successUrl)
    const product = await createProduct(ctx.app, merchant, project.id)
    const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
    const { orderId } = await openPaylink(ctx.app, link.id)
    const session = await openPaymentPage(ctx.app, orderId as string)
    const paid = await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)
    expect(paid.headers.location).toBe(`https://shop.example/thanks?from=pay?ok=1&order_id=${orderId}#top`)
  })
})

describe('return URLs that cannot be kept as given are refused', () => {
  it.each([
    [' https://portal.example/x', 'must not contain spaces, control characters or non-ASCII characters'],
    ['https://portal.example/x ', 'must not contain spaces, control characters or non-ASCII characters'],
    ['https://portal.example/a b', 'must not contain spaces, control characters or non-ASCII characters'],
    ['https://portal.example/\nx', 'must not contain spaces, control characters or non-ASCII characters'],
    ['https://portal.example/ä', 'must not contain spaces, control characters or non-ASCII characters'],
    ['https:portal.example/x', 'must be an absolute http:// or https:// URL'],
    ['https://', 'must be an absolute http:// or https:// URL'],
    ['ftp://portal.example/x', 'must be an absolute http:// or https:// URL, not ftp:'],
  ])('answers 400 for backUrl %j and stores nothing', async (backUrl, rule) => {
    const before = await ctx.database.db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    const res = await portalCall('PUT', '/payment/url', { backUrl, quantity: { SEAT: 1 } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({
      error: { message: `backUrl: ${rule}`, type: 'validation_failed' },
      status: 1,
      statusCode: 400,
    })
    const after = await ctx.database.db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(after.n).toBe(before.n)

    const setup = await portalCall('GET', `/payment/chechoutsetupurl?BackUrl=${encodeURIComponent(backUrl)}`)
    expect(setup.statusCode).toBe(400)
    expect(setup.json().error.message).toBe(`BackUrl: ${rule}`)
  })
})
