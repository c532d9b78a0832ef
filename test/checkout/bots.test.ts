// GET and HEAD /paylink/:id for link-preview bots and crawlers: a preview page, a visit recorded as a
// bot's, and no order, no order.created event and nothing in the statistics; people still get their order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_UA, openPaylink } from '../helpers/buyer.js'
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

let ctx: TestContext
let merchant: TestMerchant
let projectId: string
let hat: string
let scarf: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services, 'Ada’s <Shop> & "Co"')
  await listenToEverything(ctx.services, merchant.id)
  projectId = (await createProject(ctx.app, merchant, { name: 'Winter' })).id
  hat = (
    await createProduct(ctx.app, merchant, projectId, {
      name: 'Hat',
      prices: [{ currency: 'USD', amount: 1500 }],
    })
  ).id
  scarf = (
    await createProduct(ctx.app, merchant, projectId, {
      name: 'Scarf',
      prices: [{ currency: 'USD', amount: 2000 }],
    })
  ).id
})
afterAll(() => ctx.close())

const BOTS = [
  ['Slack', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'],
  ['Facebook', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)'],
  ['X', 'Twitterbot/1.0'],
  ['Google', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
  ['WhatsApp', 'WhatsApp/2.23.20.0'],
  ['LinkedIn', 'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)'],
]

/** People's browsers and the tools a person drives: each must get its order. */
const PEOPLE = [
  ['Chrome on Windows', BROWSER_UA],
  [
    'Safari on an iPhone',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  ],
  ['Firefox on Linux', 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'],
  [
    'Facebook’s in-app browser',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21E236 [FBAN/FBIOS;FBAV/460.0.0.39.109;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBLC/en_US]',
  ],
  ['curl, as the README uses it', 'curl/8.5.0'],
  ['Wget', 'Wget/1.21.4'],
  [
    'a headless browser testing the checkout',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36',
  ],
]

const visitsOf = (paylinkId: string) =>
  ctx.database.db
    .selectFrom('visits')
    .select(['bot', 'order_id', 'utm_source'])
    .where('paylink_id', '=', paylinkId)
    .orderBy('id')
    .execute()
const ordersOf = (paylinkId: string) =>
  ctx.database.db.selectFrom('orders').select('id').where('paylink_id', '=', paylinkId).execute()
const createdEvents = async () =>
  (
    await ctx.database.db
      .selectFrom('events')
      .select('id')
      .where('merchant_id', '=', merchant.id)
      .where('type', '=', 'order.created')
      .execute()
  ).length
const statOf = async (paylinkId: string) =>
  (await api(ctx.app, merchant, 'GET', `/paylinks/${paylinkId}/stat`)).body

const NOTHING_COUNTED = { visits: 0, unique_visitors: 0, orders: 0, paid_orders: 0, conversion: 0 }

describe('GET /paylink/:id for a link-preview bot or crawler', () => {
  it.each(BOTS)(
    'answers %s a 200 page with OpenGraph tags, records a bot visit and creates no order',
    async (_name, userAgent) => {
      const link = await createPaylink(ctx.app, merchant, projectId, [hat, scarf])
      const events = await createdEvents()
      const res = await ctx.app.inject({
        url: `/paylink/${link.id}?utm_source=chat`,
        headers: { 'user-agent': userAgent },
      })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['content-security-policy']).toContain("default-src 'none'")
      expect(res.headers.location).toBeUndefined()
      // What the merchant wrote is escaped inside the attributes too.
      const shop = 'Ada’s &lt;Shop&gt; &amp; &quot;Co&quot;'
      expect(res.body).toContain(`<meta property="og:title" content="Hat, Scarf — ${shop}">`)
      expect(res.body).toContain(
        `<meta property="og:description" content="Pay $35.00 to ${shop} with this payment link.">`,
      )
      expect(res.body).toContain(`<meta property="og:url" content="${PUBLIC_URL}/paylink/${link.id}">`)
      expect(res.body).toContain(`<meta property="og:site_name" content="${shop}">`)
      expect(res.body).toContain('<meta name="robots" content="noindex">')
      expect(res.body).toContain('Pay $35.00')
      expect(res.body).toContain('Open this link in your web browser to pay.')

      expect(await visitsOf(link.id)).toEqual([{ bot: true, order_id: null, utm_source: 'chat' }])
      expect(await ordersOf(link.id)).toEqual([])
      expect(await createdEvents()).toBe(events)
      expect(await statOf(link.id)).toMatchObject(NOTHING_COUNTED)
    },
  )

  it('gives a bot the 410 page of an expired link, recorded as a bot visit', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [hat], { life_days: 1 })
    ctx.clock.advance(2 * DAY)
    const res = await ctx.app.inject({
      url: `/paylink/${link.id}`,
      headers: { 'user-agent': 'Twitterbot/1.0' },
    })
    ctx.clock.advance(-2 * DAY)
    expect(res.statusCode).toBe(410)
    expect(res.body).toContain('This payment link has expired')
    expect(await visitsOf(link.id)).toEqual([{ bot: true, order_id: null, utm_source: null }])
    expect(await statOf(link.id)).toMatchObject(NOTHING_COUNTED)
  })

  it('answers a bot 404 for an unknown or deleted link and records nothing', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [hat])
    await api(ctx.app, merchant, 'DELETE', `/paylinks/${link.id}`)
    for (const id of [link.id, 'c'.repeat(32)]) {
      const res = await ctx.app.inject({ url: `/paylink/${id}`, headers: { 'user-agent': 'Twitterbot/1.0' } })
      expect(res.statusCode).toBe(404)
      expect(res.body).toContain('Payment link not found')
    }
    expect(await visitsOf(link.id)).toEqual([])
  })
})

describe('HEAD /paylink/:id', () => {
  it('answers the status and headers of the preview without a body, records a bot visit and creates no order', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [hat])
    const events = await createdEvents()
    const head = await ctx.app.inject({
      method: 'HEAD',
      url: `/paylink/${link.id}`,
      headers: { 'user-agent': BROWSER_UA },
    })
    const preview = await ctx.app.inject({
      url: `/paylink/${link.id}`,
      headers: { 'user-agent': 'Twitterbot/1.0' },
    })
    expect(head.statusCode).toBe(200)
    expect(head.body).toBe('')
    for (const header of ['content-type', 'content-length', 'content-security-policy', 'cache-control'])
      expect([header, head.headers[header]]).toEqual([header, preview.headers[header]])
    expect(await visitsOf(link.id)).toEqual([
      { bot: true, order_id: null, utm_source: null },
      { bot: true, order_id: null, utm_source: null },
    ])
    expect(await ordersOf(link.id)).toEqual([])
    expect(await createdEvents()).toBe(events)
    expect(await statOf(link.id)).toMatchObject(NOTHING_COUNTED)
  })

  it('answers 404 without a body for an unknown link and 410 for an expired one', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [hat], { life_days: 1 })
    const unknown = await ctx.app.inject({ method: 'HEAD', url: `/paylink/${'d'.repeat(32)}` })
    ctx.clock.advance(2 * DAY)
    const expired = await ctx.app.inject({ method: 'HEAD', url: `/paylink/${link.id}` })
    ctx.clock.advance(-2 * DAY)
    expect([unknown.statusCode, unknown.body]).toEqual([404, ''])
    expect([expired.statusCode, expired.body]).toEqual([410, ''])
  })
})

describe('GET /paylink/:id for people', () => {
  it.each(PEOPLE)(
    'creates the order of %s and redirects to it, counted in the statistics',
    async (_name, userAgent) => {
      const link = await createPaylink(ctx.app, merchant, projectId, [hat])
      const events = await createdEvents()
      const { res, orderId } = await openPaylink(ctx.app, link.id, '', { 'user-agent': userAgent })
      expect(res.statusCode).toBe(302)
      expect(res.headers.location).toBe(`${PUBLIC_URL}/pay/${orderId}`)
      expect(await visitsOf(link.id)).toEqual([{ bot: false, order_id: orderId, utm_source: null }])
      expect(await ordersOf(link.id)).toEqual([{ id: orderId }])
      expect(await createdEvents()).toBe(events + 1)
      expect(await statOf(link.id)).toMatchObject({ visits: 1, unique_visitors: 1, orders: 1 })
    },
  )

  it('counts a person beside the bots that previewed the link, and only the person', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [hat])
    for (const [, userAgent] of BOTS)
      await ctx.app.inject({ url: `/paylink/${link.id}`, headers: { 'user-agent': userAgent } })
    await ctx.app.inject({ method: 'HEAD', url: `/paylink/${link.id}` })
    const { orderId } = await openPaylink(ctx.app, link.id)
    const visits = await visitsOf(link.id)
    expect(visits.filter((v) => v.bot)).toHaveLength(BOTS.length + 1)
    expect(visits.filter((v) => !v.bot)).toEqual([{ bot: false, order_id: orderId, utm_source: null }])
    expect(await statOf(link.id)).toMatchObject({ visits: 1, unique_visitors: 1, orders: 1, paid_orders: 0 })
  })
})
