// GET /paylink/:id — the public link: visits, orders, currency choice and the error pages for people.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_UA, openPaylink } from '../helpers/buyer.js'
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
let usdEur: string
let usdJpy: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext({ env: { COUNTRY_HEADER: 'CF-IPCountry' } })
  merchant = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant, { name: 'Shop <b>&</b>' })).id
  usdEur = (
    await createProduct(ctx.app, merchant, projectId, {
      name: 'Hat',
      prices: [
        { currency: 'USD', amount: 1500 },
        { currency: 'EUR', amount: 1400 },
      ],
    })
  ).id
  usdJpy = (
    await createProduct(ctx.app, merchant, projectId, {
      name: 'Scarf',
      prices: [
        { currency: 'USD', amount: 2000 },
        { currency: 'JPY', amount: 3000 },
      ],
    })
  ).id
})
afterAll(() => ctx.close())

const visitsOf = (paylinkId: string) =>
  ctx.database.db.selectFrom('visits').selectAll().where('paylink_id', '=', paylinkId).orderBy('id').execute()

describe('GET /paylink/:id', () => {
  it('records the visit, creates the order and redirects to its payment page keeping the query string', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur, usdJpy])
    const query = '?utm_source=news%20letter&utm_medium=email&utm_campaign=spring&ref=abc'
    const { res, orderId } = await openPaylink(ctx.app, link.id, query, {
      referer: 'https://www.Example.com/blog/post?id=1',
      'cf-ipcountry': 'de',
      'user-agent': BROWSER_UA,
    })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe(`${PUBLIC_URL}/pay/${orderId}${query}`)

    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      id: orderId,
      paylink_id: link.id,
      project_id: projectId,
      status: 'created',
      currency: 'USD',
      total_amount: 3500,
      items: [
        { product_id: usdEur, name: 'Hat', quantity: 1, unit_amount: 1500, amount: 1500 },
        { product_id: usdJpy, name: 'Scarf', quantity: 1, unit_amount: 2000, amount: 2000 },
      ],
      utm: { source: 'news letter', medium: 'email', campaign: 'spring' },
      referrer_host: 'example.com',
      country: 'DE',
      buyer_email: null,
      payment_url: `${PUBLIC_URL}/pay/${orderId}`,
      expires_at: new Date(ctx.clock.now().getTime() + DAY).toISOString(),
    })
    const [visit] = await visitsOf(link.id)
    expect(visit).toMatchObject({
      order_id: orderId,
      utm_source: 'news letter',
      utm_medium: 'email',
      utm_campaign: 'spring',
      referrer_host: 'example.com',
      country: 'DE',
      visitor_hash: expect.stringMatching(/^[0-9a-f]{32}$/),
    })
    expect(JSON.stringify(visit)).not.toContain('127.0.0.1')
  })

  it('takes the misspelled utm_campagin as the campaign', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur])
    await openPaylink(ctx.app, link.id, '?utm_campagin=typo')
    expect((await visitsOf(link.id))[0]?.utm_campaign).toBe('typo')
  })

  it('pays in ?currency when every product has a price in it', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur])
    const { orderId } = await openPaylink(ctx.app, link.id, '?currency=eur')
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({ currency: 'EUR', total_amount: 1400 })
  })

  it.each([
    ['?currency=JPY', 'This link cannot be paid in JPY.'],
    ['?currency=euro', 'The currency in this link is not a valid currency code.'],
  ])('answers a 400 page for %s, with no order', async (query, text) => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur, usdJpy])
    const { res, orderId } = await openPaylink(ctx.app, link.id, query)
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('Currency not available')
    expect(res.body).toContain(text)
    expect(orderId).toBeUndefined()
    expect((await visitsOf(link.id))[0]?.order_id).toBeNull()
  })

  it('answers a 409 page when a product has no price in the project’s currency', async () => {
    const jpyOnly = await createProduct(ctx.app, merchant, projectId, {
      prices: [{ currency: 'JPY', amount: 100 }],
    })
    const link = await createPaylink(ctx.app, merchant, projectId, [jpyOnly.id])
    const { res } = await openPaylink(ctx.app, link.id)
    expect(res.statusCode).toBe(409)
    expect(res.body).toContain('One of its products has no price in USD.')
  })

  it('answers a 409 page when a product was archived after the link was made', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const link = await createPaylink(ctx.app, merchant, projectId, [product.id])
    await api(ctx.app, merchant, 'PATCH', `/products/${product.id}`, { archived: true })
    const { res } = await openPaylink(ctx.app, link.id)
    expect(res.statusCode).toBe(409)
    expect(res.body).toContain('One of its products is no longer sold.')
  })

  it('answers a 410 page from the expiry instant on and records the visit without an order', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur], { life_days: 1 })
    const start = ctx.clock.now()
    ctx.clock.set(new Date(start.getTime() + DAY - 1))
    expect((await openPaylink(ctx.app, link.id)).res.statusCode).toBe(302)
    ctx.clock.set(new Date(start.getTime() + DAY))
    const { res } = await openPaylink(ctx.app, link.id)
    ctx.clock.set(start)
    expect(res.statusCode).toBe(410)
    expect(res.body).toContain('This payment link has expired')
    expect(res.headers['content-security-policy']).toContain("default-src 'none'")
    const visits = await visitsOf(link.id)
    expect(visits.map((v) => v.order_id === null)).toEqual([false, true])
  })

  it.each([
    ['an unknown id', () => Promise.resolve('a'.repeat(32))],
    ['a malformed id', () => Promise.resolve('../../etc/passwd')],
    [
      'a deleted link',
      async () => {
        const link = await createPaylink(ctx.app, merchant, projectId, [usdEur])
        await api(ctx.app, merchant, 'DELETE', `/paylinks/${link.id}`)
        return link.id
      },
    ],
  ])('answers a 404 page for %s and records no visit', async (_case, id) => {
    const paylinkId = await id()
    const before = await ctx.database.db
      .selectFrom('visits')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    const res = await ctx.app.inject(`/paylink/${encodeURIComponent(paylinkId)}`)
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('Payment link not found')
    const after = await ctx.database.db
      .selectFrom('visits')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    expect(after).toEqual(before)
  })

  it.each([
    ['the id', () => '/paylink/%00', 'paylink_id'],
    ['a UTM tag', (id: string) => `/paylink/${id}?utm_source=news%00letter`, 'utm_source'],
    ['the currency', (id: string) => `/paylink/${id}?currency=US%00`, 'currency'],
  ])(
    'answers a NUL in %s with a 400 page naming it, and records no visit or order',
    async (_case, url, field) => {
      const link = await createPaylink(ctx.app, merchant, projectId, [usdEur])
      const count = async () => ({
        visits: (await ctx.database.db.selectFrom('visits').select('id').execute()).length,
        orders: (await ctx.database.db.selectFrom('orders').select('id').execute()).length,
      })
      const before = await count()
      const res = await ctx.app.inject(url(link.id))
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['content-security-policy']).toContain("default-src 'none'")
      expect(res.body).toContain('Bad request')
      expect(res.body).toContain(`holds a NUL character (in ${field})`)
      expect(await count()).toEqual(before)
    },
  )

  it('escapes what the merchant wrote into the page', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur], { life_days: 1 })
    ctx.clock.advance(2 * DAY)
    const { res } = await openPaylink(ctx.app, link.id)
    ctx.clock.advance(-2 * DAY)
    expect(res.body).toContain('Shop &lt;b&gt;&amp;&lt;/b&gt;')
    expect(res.body).not.toContain('<b>&</b>')
  })

  it('counts the same visitor once a day and again the next day', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [usdEur])
    const headers = { 'user-agent': BROWSER_UA }
    await openPaylink(ctx.app, link.id, '', headers)
    await openPaylink(ctx.app, link.id, '', headers)
    await openPaylink(ctx.app, link.id, '', {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
    })
    ctx.clock.advance(DAY)
    await openPaylink(ctx.app, link.id, '', headers)
    ctx.clock.advance(-DAY)
    const hashes = (await visitsOf(link.id)).map((v) => v.visitor_hash)
    expect(hashes[0]).toBe(hashes[1])
    expect(hashes[2]).not.toBe(hashes[0])
    expect(hashes[3]).not.toBe(hashes[0])
    const stat = await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}/stat`)
    expect(stat.body).toMatchObject({
      visits: 4,
      unique_visitors: 3,
      orders: 4,
      paid_orders: 0,
      conversion: 0,
    })
  })
})

describe('country without a proxy header', () => {
  it('comes from the offline GeoIP database, and is unknown for private addresses', async () => {
    const plain = await createTestContext()
    try {
      const m = await createMerchant(plain.services)
      const p = await createProject(plain.app, m)
      const product = await createProduct(plain.app, m, p.id)
      const link = await createPaylink(plain.app, m, p.id, [product.id])
      await plain.app.inject({ url: `/paylink/${link.id}`, remoteAddress: '81.2.69.160' })
      await plain.app.inject({ url: `/paylink/${link.id}`, remoteAddress: '10.1.2.3' })
      const countries = await plain.database.db
        .selectFrom('visits')
        .select('country')
        .where('paylink_id', '=', link.id)
        .orderBy('id')
        .execute()
      expect(countries.map((c) => c.country)).toEqual(['GB', null])
    } finally {
      await plain.close()
    }
  })
})

describe('rate limit', () => {
  it('answers the request past the limit with a 429 page', async () => {
    const limited = await createTestContext({ env: { PUBLIC_RATE_LIMIT: '3' } })
    try {
      const statuses = []
      for (let i = 0; i < 4; i++)
        statuses.push((await limited.app.inject(`/paylink/${'b'.repeat(32)}`)).statusCode)
      expect(statuses).toEqual([404, 404, 404, 429])
      const res = await limited.app.inject(`/paylink/${'b'.repeat(32)}`)
      expect(res.body).toContain('Too many requests')
      expect(res.headers['retry-after']).toBeDefined()
    } finally {
      await limited.close()
    }
  })
})
