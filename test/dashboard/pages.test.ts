// The dashboard's pages on the real database: another merchant's objects are not found (and stay
// untouched), bad form input is refused with the field and rule named and nothing written, and the
// statistics page shows what buyers did.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserOf, GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { alertOf, DashboardClient } from '../helpers/dashboard.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'

const PASSWORD = 'pages test password'
let ctx: TestContext
let owner: TestMerchant
let other: TestMerchant
let me: DashboardClient
let intruder: DashboardClient
const theirs: Record<string, string> = {}

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } })
  owner = await createMerchant(ctx.services, 'Owner')
  other = await createMerchant(ctx.services, 'Other')
  await ctx.services.users.create({ merchantId: owner.id, email: 'owner@example.com', password: PASSWORD })
  await ctx.services.users.create({ merchantId: other.id, email: 'other@example.com', password: PASSWORD })
  me = new DashboardClient(ctx.app, '198.51.100.1')
  intruder = new DashboardClient(ctx.app, '198.51.100.2')
  expect((await me.signIn('owner@example.com', PASSWORD)).statusCode).toBe(303)
  expect((await intruder.signIn('other@example.com', PASSWORD)).statusCode).toBe(303)

  // The other merchant's objects, one of each kind.
  theirs.project = (await createProject(ctx.app, other, { name: 'Their project' })).id
  theirs.product = (await createProduct(ctx.app, other, theirs.project, { name: 'Their product' })).id
  theirs.paylink = (await createPaylink(ctx.app, other, theirs.project, [theirs.product])).id
  theirs.order = (await openPaylink(ctx.app, theirs.paylink)).orderId as string
  theirs.portal = (
    await api(ctx.app, other, 'POST', '/portals', { project_id: theirs.project, name: 'P' })
  ).body.id
  theirs.webhook = (
    await api(ctx.app, other, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] })
  ).body.id
})
afterAll(() => ctx.close())

describe('another merchant’s objects', () => {
  it('are not found on any page', async () => {
    const pages = [
      `/dashboard/projects/${theirs.project}`,
      `/dashboard/projects/${theirs.project}/settings`,
      `/dashboard/projects/${theirs.project}/products/new`,
      `/dashboard/projects/${theirs.project}/paylinks/new`,
      `/dashboard/products/${theirs.product}`,
      `/dashboard/paylinks/${theirs.paylink}`,
      `/dashboard/paylinks/${theirs.paylink}/qr.svg`,
      `/dashboard/paylinks/${theirs.paylink}/qr.png`,
      `/dashboard/orders/${theirs.order}`,
      `/dashboard/portals/${theirs.portal}`,
      `/dashboard/webhooks/${theirs.webhook}`,
    ]
    for (const url of pages) {
      const response = await me.get(url)
      expect(response.statusCode, url).toBe(404)
      expect(response.body, url).toContain('There is nothing here, or it belongs to another merchant.')
      expect(response.body, url).not.toContain('Their')
      // The owner sees them.
      expect((await intruder.get(url)).statusCode, url).toBe(200)
    }
  })

  it('cannot be changed or deleted through the forms, and stay as they were', async () => {
    await me.get('/dashboard/projects')
    const attempts: [string, Record<string, string | string[]>][] = [
      [`/dashboard/products/${theirs.product}`, { name: 'Hijacked', currency: 'USD', amount: '1' }],
      [`/dashboard/products/${theirs.product}/archive`, { archived: 'true' }],
      [`/dashboard/products/${theirs.product}/delete`, {}],
      [`/dashboard/projects/${theirs.project}/settings`, { name: 'Hijacked', default_currency: 'USD' }],
      [`/dashboard/projects/${theirs.project}/delete`, {}],
      [`/dashboard/projects/${theirs.project}/products`, { name: 'Planted', currency: 'USD', amount: '1' }],
      [
        `/dashboard/projects/${theirs.project}/paylinks`,
        { products: theirs.product as string, life_days: '7' },
      ],
      [`/dashboard/paylinks/${theirs.paylink}/delete`, {}],
      [`/dashboard/portals/${theirs.portal}/keys`, {}],
      [`/dashboard/portals/${theirs.portal}/delete`, {}],
      [`/dashboard/webhooks/${theirs.webhook}/enabled`, { enabled: 'false' }],
      [`/dashboard/webhooks/${theirs.webhook}/delete`, {}],
    ]
    for (const [url, form] of attempts) {
      expect((await me.post(url, form)).statusCode, url).toBe(404)
    }
    // Malformed ids name nothing either.
    for (const url of [
      '/dashboard/products/nope',
      '/dashboard/paylinks/nope',
      '/dashboard/orders/nope',
      '/dashboard/webhooks/nope',
    ]) {
      expect((await me.get(url)).statusCode, url).toBe(404)
    }
    const product = await api(ctx.app, other, 'GET', `/products/${theirs.product}`)
    expect(product.body).toMatchObject({ name: 'Their product', archived: false })
    const project = await api(ctx.app, other, 'GET', `/projects/${theirs.project}`)
    expect(project.body).toMatchObject({ name: 'Their project', default_currency: 'USD' })
    expect((await api(ctx.app, other, 'GET', `/paylinks/${theirs.paylink}`)).status).toBe(200)
    expect((await api(ctx.app, other, 'GET', `/portals/${theirs.portal}/keys`)).body.keys).toEqual([])
    expect((await api(ctx.app, other, 'GET', `/webhooks/${theirs.webhook}`)).body.enabled).toBe(true)
    expect((await api(ctx.app, other, 'GET', `/products?project_id=${theirs.project}`)).body.total).toBe(1)
    expect((await api(ctx.app, other, 'GET', `/paylinks/project/${theirs.project}`)).body.total).toBe(1)
  })

  it('cannot be picked into my paylink', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Mine' })
    await me.get(`/dashboard/projects/${project.id}/paylinks/new`)
    const response = await me.post(`/dashboard/projects/${project.id}/paylinks`, {
      products: theirs.product as string,
      life_days: '7',
    })
    // Another merchant's product is as unknown as a missing one.
    expect(response.statusCode).toBe(404)
    expect(alertOf(response.body)).toBe('at least one of paylink products is not found')
    expect((await api(ctx.app, owner, 'GET', `/paylinks/project/${project.id}`)).body.total).toBe(0)
  })
})

describe('forms with bad input', () => {
  let projectId: string
  const productCount = async () =>
    (await api(ctx.app, owner, 'GET', `/products?project_id=${projectId}&include_archived=true`)).body.total

  beforeAll(async () => {
    projectId = (await createProject(ctx.app, owner, { name: 'Forms', default_currency: 'KWD' })).id
  })

  it('refuses a project without a name or with an unknown currency, naming the field', async () => {
    await me.get('/dashboard/projects')
    const noName = await me.post('/dashboard/projects', { name: '', default_currency: 'USD' })
    expect(noName.statusCode).toBe(400)
    expect(alertOf(noName.body)).toMatch(/^name: /)
    expect(noName.body).toContain('aria-invalid="true"')
    const badCurrency = await me.post('/dashboard/projects', { name: 'X', default_currency: 'ABC' })
    expect(badCurrency.statusCode).toBe(400)
    expect(alertOf(badCurrency.body)).toMatch(/^default_currency: /)
    // What was typed is kept.
    expect(badCurrency.body).toContain('value="ABC"')
    expect(
      (await api(ctx.app, owner, 'GET', '/projects')).body.projects.map((p: { name: string }) => p.name),
    ).not.toContain('X')
  })

  it('answers a NUL in a form field or in an address with a page naming it, and writes nothing', async () => {
    const names = async () =>
      (await api(ctx.app, owner, 'GET', '/projects?limit=100')).body.projects.map(
        (p: { name: string }) => p.name,
      )
    const before = await names()
    await me.get('/dashboard/projects')
    const nul = await me.post('/dashboard/projects', { name: 'X\u0000', default_currency: 'USD' })
    expect(nul.statusCode).toBe(400)
    expect(nul.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(nul.body).toContain('name: must not contain NUL characters')
    expect(await names()).toEqual(before)
    const page = await me.get('/dashboard/paylinks/%00')
    expect(page.statusCode).toBe(400)
    expect(page.body).toContain('id: must not contain NUL characters')
    const query = await me.get('/dashboard/orders?status=%00')
    expect(query.statusCode).toBe(400)
    expect(query.body).toContain('status: must not contain NUL characters')
  })

  it('refuses prices a person got wrong, with the row and the rule, and writes nothing', async () => {
    await me.get(`/dashboard/projects/${projectId}/products/new`)
    const cases: [Record<string, string | string[]>, string][] = [
      [
        { name: 'P', currency: 'ZZZ', amount: '1' },
        'prices[0].currency: must be an ISO 4217 currency code, e.g. USD',
      ],
      [
        { name: 'P', currency: 'KWD', amount: '1.2345' },
        'prices[0].amount: must be a positive amount with at most 3 digits after the point in KWD',
      ],
      [
        { name: 'P', currency: ['KWD', 'JPY'], amount: ['1.500', '10.5'] },
        'prices[1].amount: must be a positive amount with at most 0 digits after the point in JPY',
      ],
      // Two wrong rows around a blank one: rows count as filled in, and the first mistake is named.
      [
        { name: 'P', currency: ['ZZZ', '', 'JPY'], amount: ['1', '', '1.5'] },
        'prices[0].currency: must be an ISO 4217 currency code, e.g. USD',
      ],
      [
        { name: 'P', currency: ['', 'KWD', 'JPY'], amount: ['', '1', '1.5'] },
        'prices[1].amount: must be a positive amount with at most 0 digits after the point in JPY',
      ],
      [
        { name: 'P', currency: 'KWD', amount: '-1' },
        'prices[0].amount: must be a positive amount with at most 3 digits after the point in KWD',
      ],
      [{ name: '', currency: 'KWD', amount: '1' }, 'name: must not be empty'],
    ]
    for (const [form, message] of cases) {
      const response = await me.post(`/dashboard/projects/${projectId}/products`, form)
      expect(response.statusCode, message).toBe(400)
      expect(alertOf(response.body)).toBe(message)
    }
    expect(await productCount()).toBe(0)
  })

  it('stores a decimal price exactly in minor units', async () => {
    const response = await me.post(`/dashboard/projects/${projectId}/products`, {
      name: 'Exact',
      currency: ['KWD', 'JPY', 'usd'],
      amount: ['4.5', '700', '0.07'],
    })
    expect(response.statusCode).toBe(303)
    const list = await api(ctx.app, owner, 'GET', `/products?project_id=${projectId}`)
    expect(list.body.products[0].prices).toEqual([
      { currency: 'JPY', amount: 700 },
      { currency: 'KWD', amount: 4500 },
      { currency: 'USD', amount: 7 },
    ])
  })

  it('refuses a paylink of no products or of seven, with the API’s code message', async () => {
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      ids.push(
        (await createProduct(ctx.app, owner, projectId, { prices: [{ currency: 'KWD', amount: 1000 }] })).id,
      )
    }
    await me.get(`/dashboard/projects/${projectId}/paylinks/new`)
    for (const products of [[], ids]) {
      const response = await me.post(`/dashboard/projects/${projectId}/paylinks`, {
        products,
        life_days: '7',
      })
      expect(response.statusCode).toBe(400)
      expect(alertOf(response.body)).toBe('paylink products length invalid')
      expect(response.body).toContain('id="products-error"')
    }
    const badLife = await me.post(`/dashboard/projects/${projectId}/paylinks`, {
      products: ids[0] as string,
      life_days: '5',
    })
    expect(badLife.statusCode).toBe(400)
    expect(alertOf(badLife.body)).toMatch(/^life_days: /)
    expect((await api(ctx.app, owner, 'GET', `/paylinks/project/${projectId}`)).body.total).toBe(0)
    const ok = await me.post(`/dashboard/projects/${projectId}/paylinks`, {
      products: ids.slice(0, 6),
      life_days: '7',
    })
    expect(ok.statusCode).toBe(303)
    expect(ok.headers.location).toMatch(/^\/dashboard\/paylinks\/[0-9a-f]{32}\?notice=paylink_created$/)
  })

  it('refuses a form sent without the CSRF token, and writes nothing', async () => {
    const response = await me.post('/dashboard/projects', {
      _csrf: null,
      name: 'Sneaky',
      default_currency: 'USD',
    } as never)
    expect(response.statusCode).toBe(403)
    const names = (await api(ctx.app, owner, 'GET', '/projects')).body.projects.map(
      (p: { name: string }) => p.name,
    )
    expect(names).not.toContain('Sneaky')
  })
})

describe('a project’s settings', () => {
  it('saves every field, clears an optional one left empty, and refuses bad input by field', async () => {
    const project = await createProject(ctx.app, owner, {
      name: 'Settings',
      success_url: 'https://shop.example.test/thanks',
      sales_email: 'sales@example.test',
    })
    const page = await me.get(`/dashboard/projects/${project.id}/settings`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('value="https://shop.example.test/thanks"')
    const url = `/dashboard/projects/${project.id}/settings`
    const cases: [Record<string, string>, RegExp][] = [
      [{ name: '', default_currency: 'USD' }, /^name: /],
      [{ name: 'S', default_currency: 'ABC' }, /^default_currency: /],
      [{ name: 'S', default_currency: 'USD', success_url: 'not a url' }, /^success_url: /],
      [{ name: 'S', default_currency: 'USD', sales_email: 'nope' }, /^sales_email: /],
    ]
    for (const [form, message] of cases) {
      const response = await me.post(url, form)
      expect(response.statusCode, String(message)).toBe(400)
      expect(alertOf(response.body)).toMatch(message)
      expect(response.body).toContain('aria-invalid="true"')
    }
    // Nothing of the refused forms was written.
    expect((await api(ctx.app, owner, 'GET', `/projects/${project.id}`)).body).toMatchObject({
      name: 'Settings',
      default_currency: 'USD',
      success_url: 'https://shop.example.test/thanks',
      sales_email: 'sales@example.test',
    })

    const saved = await me.post(url, {
      name: 'Renamed',
      default_currency: 'eur',
      success_url: '',
      sales_email: 'orders@example.test',
    })
    expect(saved.statusCode).toBe(303)
    expect(saved.headers.location).toBe(`/dashboard/projects/${project.id}?notice=project_updated`)
    expect((await api(ctx.app, owner, 'GET', `/projects/${project.id}`)).body).toMatchObject({
      name: 'Renamed',
      default_currency: 'EUR',
      success_url: null,
      sales_email: 'orders@example.test',
    })
  })

  it('deletes the project: its paylinks stop opening, and its orders stay readable', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Going away' })
    const product = await createProduct(ctx.app, owner, project.id)
    const link = await createPaylink(ctx.app, owner, project.id, [product.id])
    const { orderId } = await openPaylink(ctx.app, link.id)
    await me.get(`/dashboard/projects/${project.id}/settings`)
    const deleted = await me.post(`/dashboard/projects/${project.id}/delete`)
    expect(deleted.statusCode).toBe(303)
    expect(deleted.headers.location).toBe('/dashboard/projects?notice=project_deleted')
    expect((await me.get(`/dashboard/projects/${project.id}`)).statusCode).toBe(404)
    expect((await api(ctx.app, owner, 'GET', `/paylinks/${link.id}`)).status).toBe(404)
    // The public path keeps a live link in memory for a second (CheckoutService.publicLink).
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const opened = await openPaylink(ctx.app, link.id)
    expect(opened.res.statusCode).toBe(404)
    expect(opened.orderId).toBeUndefined()
    // The order outlives its project: its page names the project by id instead of failing.
    const order = await me.get(`/dashboard/orders/${orderId}`)
    expect(order.statusCode).toBe(200)
    expect(order.body).toContain(project.id)
    expect(order.body).not.toContain('Going away')
  })
})

describe('deleting a product', () => {
  it('deletes one nothing refers to, and archives one a paylink holds, saying which', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Products' })
    const unused = await createProduct(ctx.app, owner, project.id, { name: 'Unused' })
    const used = await createProduct(ctx.app, owner, project.id, { name: 'Used' })
    await createPaylink(ctx.app, owner, project.id, [used.id])
    await me.get(`/dashboard/products/${unused.id}`)

    const gone = await me.post(`/dashboard/products/${unused.id}/delete`)
    expect(gone.statusCode).toBe(303)
    expect(gone.headers.location).toBe(`/dashboard/projects/${project.id}?notice=product_deleted`)
    expect((await api(ctx.app, owner, 'GET', `/products/${unused.id}`)).status).toBe(404)

    const kept = await me.post(`/dashboard/products/${used.id}/delete`)
    expect(kept.statusCode).toBe(303)
    expect(kept.headers.location).toBe(`/dashboard/projects/${project.id}?notice=product_archived_in_use`)
    expect((await api(ctx.app, owner, 'GET', `/products/${used.id}`)).body).toMatchObject({
      name: 'Used',
      archived: true,
    })
    const notice = await me.get(kept.headers.location as string)
    expect(notice.body).toContain('Product archived instead of deleted: paylinks or orders refer to it')
  })
})

describe('a project’s page', () => {
  it('shows the project’s figures over the period, with its top paylinks linked', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Two links', default_currency: 'EUR' })
    const product = await createProduct(ctx.app, owner, project.id, {
      prices: [{ currency: 'EUR', amount: 1000 }],
    })
    const busy = await createPaylink(ctx.app, owner, project.id, [product.id], { name: 'Busy link' })
    const quiet = await createPaylink(ctx.app, owner, project.id, [product.id], { name: 'Quiet link' })
    for (const [link, paid] of [
      [busy.id, true],
      [busy.id, true],
      [quiet.id, false],
    ] as const) {
      const { orderId } = await openPaylink(ctx.app, link, '?utm_source=ads', {
        'user-agent': browserOf(link === busy.id ? 1 : 2),
      })
      if (paid) {
        const session = await openPaymentPage(ctx.app, orderId as string)
        expect((await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)).statusCode).toBe(303)
      }
    }
    const page = await me.get(`/dashboard/projects/${project.id}?days=7&tz=Europe/Berlin`)
    expect(page.statusCode).toBe(200)
    const kpi = (name: string) => new RegExp(`data-kpi="${name}">([^<]*)<`).exec(page.body)?.[1]
    expect([kpi('visits'), kpi('orders'), kpi('paid'), kpi('revenue')]).toEqual(['3', '3', '2', '€20.00'])
    expect(page.body).toContain('Showing 2026-02-23 to 2026-03-01 (Europe/Berlin).')
    const table = /<table data-testid="paylinks">([\s\S]*?)<\/table>/.exec(page.body)?.[1] ?? ''
    const rows = [
      ...table.matchAll(
        /<tr><td><a href="([^"]+)">([^<]+)<\/a><\/td><td class="num">(\d+)<\/td><td class="num">(\d+)<\/td>/g,
      ),
    ]
    expect(rows.map((r) => r.slice(1))).toEqual([
      [`/dashboard/paylinks/${busy.id}`, 'Busy link', '2', '2'],
      [`/dashboard/paylinks/${quiet.id}`, 'Quiet link', '1', '0'],
    ])
    const attribute = /data-chart="daily" data-series="([^"]*)"/.exec(page.body)?.[1] ?? ''
    const series = JSON.parse(attribute.replaceAll('&quot;', '"'))
    expect(series.labels).toHaveLength(7)
    expect(series.visits.at(-1)).toBe(3)
    expect(series.revenue).toEqual([{ currency: 'EUR', values: [0, 0, 0, 0, 0, 0, 20] }])
    // The Chart.js script is loaded only by pages with charts.
    expect(page.body).toContain('src="/dashboard/assets/chart.umd.min.js"')
    expect((await me.get('/dashboard/projects')).body).not.toContain('chart.umd.min.js')
  })
})

describe('long lists', () => {
  it('pages a project’s paylinks 25 at a time, keeping the period, and offers every product in the picker', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Many' })
    const products: string[] = []
    for (let i = 0; i < 105; i++) {
      products.push((await createProduct(ctx.app, owner, project.id, { name: `Item ${i}` })).id)
    }
    for (let i = 0; i < 27; i++) {
      await createPaylink(ctx.app, owner, project.id, [products[i] as string], { name: `Link ${i}` })
      ctx.clock.advance(1000) // one creation time each, so newest first is one order
    }
    const rows = (body: string) =>
      [...body.matchAll(/<a href="\/dashboard\/paylinks\/[0-9a-f]{32}">(Link \d+)<\/a>/g)].map((m) => m[1])

    const first = await me.get(`/dashboard/projects/${project.id}?days=7&tz=Asia/Tokyo`)
    expect(first.body).toContain('Paylinks <span class="muted">(27)</span>')
    expect(rows(first.body)).toHaveLength(25)
    expect(first.body).toContain('1–25 of 27')
    const older = /href="([^"]*offset=25[^"]*)">Older</.exec(first.body)?.[1]?.replaceAll('&amp;', '&')
    expect(older).toBe(`/dashboard/projects/${project.id}?offset=25&days=7&tz=Asia%2FTokyo`)
    const second = await me.get(older as string)
    // Newest first: the two oldest links are on the second page, and the period is the one chosen.
    expect(rows(second.body)).toEqual(['Link 1', 'Link 0'])
    expect(second.body).toContain('(Asia/Tokyo).')
    expect(second.body).toContain('>Newer<')

    // All 105 products, over two pages of the API, are named in the product table and offered in the picker.
    expect(first.body).toContain('Products <span class="muted">(105)</span>')
    const picker = await me.get(`/dashboard/projects/${project.id}/paylinks/new`)
    expect((picker.body.match(/name="products" value="[0-9a-f]{24}"/g) ?? []).length).toBe(105)
    expect(picker.body).toContain(`value="${products[104]}"`)
  })
})

describe('a paylink’s page', () => {
  it('shows the URL with UTM tags, a QR code of it, and the figures of paid orders', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Stats', default_currency: 'EUR' })
    const product = await createProduct(ctx.app, owner, project.id, {
      prices: [{ currency: 'EUR', amount: 1250 }],
    })
    const link = await createPaylink(ctx.app, owner, project.id, [product.id])
    for (const query of ['?utm_source=mail', '?utm_source=mail', '']) {
      const { orderId } = await openPaylink(ctx.app, link.id, query, {
        'user-agent': browserOf(query ? 1 : 2),
      })
      if (query) {
        const session = await openPaymentPage(ctx.app, orderId as string)
        expect((await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)).statusCode).toBe(303)
      }
    }
    const page = await me.get(`/dashboard/paylinks/${link.id}?utm_source=mail&utm_campaign=spring&days=7`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain(
      `value="https://pay.example.test/paylink/${link.id}?utm_campaign=spring&amp;utm_source=mail"`,
    )
    expect(page.body).toContain(`qr.svg?utm_source=mail&amp;utm_campaign=spring`)
    const kpi = (name: string) => new RegExp(`data-kpi="${name}">([^<]*)<`).exec(page.body)?.[1]
    expect(kpi('visits')).toBe('3')
    expect(kpi('orders')).toBe('3')
    expect(kpi('paid')).toBe('2')
    expect(kpi('conversion')).toBe('67%')
    expect(kpi('revenue')).toBe('€25.00')
    // Seven local days, today last, in the chart's data.
    const attribute = /data-chart="daily" data-series="([^"]*)"/.exec(page.body)?.[1] ?? ''
    const series = JSON.parse(attribute.replaceAll('&quot;', '"'))
    expect(series.labels).toHaveLength(7)
    expect(series.labels.at(-1)).toBe('2026-03-01')
    expect(series.visits.at(-1)).toBe(3)
    expect(series.paid.at(-1)).toBe(2)
    expect(series.revenue).toEqual([{ currency: 'EUR', values: [0, 0, 0, 0, 0, 0, 25] }])

    const svg = await me.get(`/dashboard/paylinks/${link.id}/qr.svg?utm_source=mail`)
    expect(svg.headers['content-type']).toBe('image/svg+xml')
    expect(svg.body).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    const png = await me.get(`/dashboard/paylinks/${link.id}/qr.png?download=1`)
    expect(png.headers['content-type']).toBe('image/png')
    expect(png.headers['content-disposition']).toBe(
      `attachment; filename="paylink-${link.id.slice(0, 8)}.png"`,
    )
    expect(png.rawPayload.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    )
  })

  it('picks the QR code’s error correction by the URL’s length, and shows the page without one past the largest', async () => {
    const project = await createProject(ctx.app, owner)
    const link = await createPaylink(ctx.app, owner, project.id, [
      (await createProduct(ctx.app, owner, project.id)).id,
    ])
    // 200 astral characters, the longest tag the API takes: 2,400 characters once percent-encoded.
    const tag = encodeURIComponent('😀'.repeat(200))
    // Too long for error correction M, short enough for L.
    const one = await me.get(`/dashboard/paylinks/${link.id}?utm_source=${tag}`)
    expect(one.statusCode).toBe(200)
    expect(one.body).toContain(`<img src="/dashboard/paylinks/${link.id}/qr.svg?utm_source=`)
    const svg = await me.get(`/dashboard/paylinks/${link.id}/qr.svg?utm_source=${tag}`)
    expect(svg.statusCode).toBe(200)
    expect(svg.headers['content-type']).toBe('image/svg+xml')

    const all = `utm_source=${tag}&utm_medium=${tag}&utm_campaign=${tag}`
    const page = await me.get(`/dashboard/paylinks/${link.id}?${all}`)
    expect(page.statusCode).toBe(200)
    expect(page.body).not.toContain('<img src=')
    expect(page.body).toMatch(/This URL is too long for a QR code \(\d+ characters/)
    expect(page.body).toContain(`paylink/${link.id}?utm_campaign=`)
    for (const format of ['svg', 'png']) {
      const res = await me.get(`/dashboard/paylinks/${link.id}/qr.${format}?${all}`)
      expect(res.statusCode).toBe(422)
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(res.body).toMatch(
        /^This URL is too long for a QR code \(7\d{3} characters, and a QR code holds about 2,900\): use shorter UTM tags\.$/,
      )
    }
  })

  it('names a bad time zone or period and falls back to the last 30 days in UTC', async () => {
    const project = await createProject(ctx.app, owner)
    const link = await createPaylink(ctx.app, owner, project.id, [
      (await createProduct(ctx.app, owner, project.id)).id,
    ])
    const badZone = await me.get(`/dashboard/paylinks/${link.id}?tz=Mars/Olympus`)
    expect(badZone.statusCode).toBe(200)
    expect(badZone.body).toContain(
      'time zone: &quot;Mars/Olympus&quot; is not an IANA time zone, e.g. Europe/Berlin',
    )
    expect(badZone.body).toContain('Showing 2026-01-31 to 2026-03-01 (UTC).')
    const backwards = await me.get(
      `/dashboard/paylinks/${link.id}?from=2026-02-10&to=2026-02-01&tz=Asia/Kathmandu`,
    )
    expect(backwards.body).toContain('from: must not be after to')
    const chosen = await me.get(
      `/dashboard/paylinks/${link.id}?from=2026-02-01&to=2026-02-10&tz=Asia/Kathmandu`,
    )
    expect(chosen.body).toContain('Showing 2026-02-01 to 2026-02-10 (Asia/Kathmandu).')
  })
})

describe('the API keys page', () => {
  it('shows the merchant id the command line asks for, and each key’s id', async () => {
    const page = await me.get('/dashboard/api-keys')
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<label for="merchant-id">Merchant id of Owner</label>')
    expect(page.body).toContain(`<input id="merchant-id" class="mono" readonly value="${owner.id}"`)
    expect(page.body).toContain(`<code>npx paylinks key create --merchant ${owner.id}</code>`)
    const keys = await ctx.services.merchants.listKeys(owner.id)
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) expect(page.body).toContain(`<td class="mono">${key.id}</td>`)
    expect(page.body).not.toContain(other.id)
  })
})
