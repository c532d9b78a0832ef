// The portal payment API as the specification's example clients use it: the same methods, paths,
// headers and bodies over real HTTP, reading answers the way they do (`json.response || json`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, createMerchant, createProduct, createProject, type TestMerchant } from '../helpers/factories.js'
import { type LiveApp, startLiveApp } from '../helpers/live.js'
import { startSmtpServer } from '../helpers/smtp.js'

let live: LiveApp
let smtp: Awaited<ReturnType<typeof startSmtpServer>>
let merchant: TestMerchant
let projectId: string
let portalId: string
let API_KEY: string
let BASE_URL: string
let HEADERS: Record<string, string>

beforeAll(async () => {
  smtp = await startSmtpServer()
  live = await startLiveApp({ SMTP_URL: smtp.url })
  BASE_URL = live.baseUrl
  merchant = await createMerchant(live.services)
  projectId = (
    await createProject(live.app, merchant, { name: 'DocSpace', sales_email: 'sales@saas.example' })
  ).id
  await createProduct(live.app, merchant, projectId, {
    name: 'Seat',
    sku: '1001',
    prices: [{ currency: 'USD', amount: 800 }],
  })
  portalId = (
    await api(live.app, merchant, 'POST', '/portals', { project_id: projectId, name: 'yourportal' })
  ).body.id
  API_KEY = (await api(live.app, merchant, 'POST', `/portals/${portalId}/keys`)).body.key
  HEADERS = {
    Accept: 'application/json',
    Authorization: `Bearer ${API_KEY}`,
    'Content-Type': 'application/json',
  }
})
afterAll(async () => {
  await live?.close()
  await smtp?.close()
})

// — A client written against the specification, as its examples are —

async function sendPaymentRequest(userName: string, email: string, message: string) {
  const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/request`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ userName, email, message }),
  })
  if (res.status === 200) {
    const json = await res.json()
    return { ok: true as const, result: json.response || json }
  }
  return { ok: false as const, status: res.status, text: await res.text() }
}

async function getPaymentPageUrl(backUrl: string, quantity: Record<string, number> | null = null) {
  const body: Record<string, unknown> = { backUrl }
  if (quantity != null) body.quantity = quantity
  const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/url`, {
    method: 'PUT',
    headers: HEADERS,
    body: JSON.stringify(body),
  })
  if (res.status === 200) {
    const json = await res.json()
    return json.response || json
  }
  return null
}

async function getCheckoutSetupUrl(backUrl: string) {
  const url = new URL(`${BASE_URL}/api/2.0/portal/payment/chechoutsetupurl`)
  url.search = new URLSearchParams({ BackUrl: backUrl }).toString()
  const res = await fetch(url.toString(), { method: 'GET', headers: HEADERS })
  if (res.status === 200) {
    const json = await res.json()
    return json.response || json
  }
  return null
}

describe('the specification’s example flow', () => {
  it('sends a payment request, gets a payment page URL for quantities and a checkout setup URL', async () => {
    const backUrl = 'https://your-portal.example.com/billing/return'
    const sent = await sendPaymentRequest(
      'Billing Admin',
      'billing@example.com',
      'Please complete the payment for the selected DocSpace quota.',
    )
    expect(sent.ok).toBe(true)

    const paymentUrl = await getPaymentPageUrl(backUrl, { '1001': 1 })
    expect(paymentUrl).toMatch(new RegExp(`^${BASE_URL}/pay/ord_[0-9a-f]{24}$`))
    const page = await fetch(paymentUrl)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Pay $8.00')

    const setupUrl = await getCheckoutSetupUrl(backUrl)
    expect(setupUrl).toMatch(new RegExp(`^${BASE_URL}/setup/cs_[0-9a-f]{24}$`))
    expect((await fetch(setupUrl)).status).toBe(200)
  })

  it('answers in the envelope: response, count, links to the request, status 0, statusCode 200', async () => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/url`, {
      method: 'PUT',
      headers: HEADERS,
      body: JSON.stringify({ backUrl: 'https://p.example/back', quantity: { '1001': 3 } }),
    })
    const json = await res.json()
    expect(json).toEqual({
      response: expect.stringMatching(/\/pay\/ord_/),
      count: 1,
      links: [{ href: `${BASE_URL}/api/2.0/portal/payment/url`, action: 'PUT' }],
      status: 0,
      statusCode: 200,
    })
    const orderId = /ord_[0-9a-f]{24}/.exec(json.response)?.[0]
    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      portal_id: portalId,
      paylink_id: null,
      back_url: 'https://p.example/back',
      currency: 'USD',
      total_amount: 2400,
      items: [{ name: 'Seat', quantity: 3, unit_amount: 800, amount: 2400 }],
    })
  })
})

describe('POST /api/2.0/portal/payment/request', () => {
  it('stores the request, mails it to the project’s sales address and lists it for the merchant', async () => {
    const before = smtp.mails.length
    const sent = await sendPaymentRequest('Ann <script>', 'ann@customer.example', 'Need 20 more seats')
    expect(sent.ok && sent.result).toMatchObject({ userName: 'Ann <script>', email: 'ann@customer.example' })
    await expect.poll(() => smtp.mails.length).toBe(before + 1)
    const mail = smtp.mails[smtp.mails.length - 1]
    expect(mail?.to).toEqual(['sales@saas.example'])
    expect(mail?.raw).toContain('Need 20 more seats')
    expect(mail?.raw).toMatch(/Reply-To: ann@customer\.example/i)
    const listed = await api(live.app, merchant, 'GET', `/payment-requests?portal_id=${portalId}`)
    const stored = listed.body.payment_requests.find(
      (r: { message: string }) => r.message === 'Need 20 more seats',
    )
    expect(stored).toMatchObject({
      portal_id: portalId,
      user_name: 'Ann <script>',
      message: 'Need 20 more seats',
      mail_status: 'sent',
    })
  })

  it.each([
    [{ email: 'a@b.example', message: 'm' }, 'userName: is required'],
    [{ userName: '', email: 'a@b.example', message: 'm' }, 'userName: must not be empty'],
    [
      { userName: 'x'.repeat(256), email: 'a@b.example', message: 'm' },
      'userName: must be at most 255 characters',
    ],
    [{ userName: 'u', email: 'not-an-email', message: 'm' }, 'email: must be a valid email address'],
    [
      { userName: 'u', email: `${'a'.repeat(60)}@b.example`, message: 'm' },
      'email: must be at most 64 characters',
    ],
    [{ userName: 'u', email: 'a@b.example' }, 'message: is required'],
    [
      { userName: 'u', email: 'a@b.example', message: 'm'.repeat(256) },
      'message: must be at most 255 characters',
    ],
  ])('answers 400 in the envelope for %j', async (body, message) => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/request`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: { message, type: 'validation_failed' },
      status: 1,
      statusCode: 400,
    })
  })
})

describe('PUT /api/2.0/portal/payment/url', () => {
  it.each([
    [
      { backUrl: 'https://p.example/b', quantity: { nope: 1 } },
      "quantity.nope: is not the id or SKU of a product of the portal's project",
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': 0 } },
      'quantity.1001: must be a positive whole number, not 0',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': -2 } },
      'quantity.1001: must be a positive whole number, not -2',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': 1.5 } },
      'quantity.1001: must be a positive whole number, not 1.5',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '2.0' } },
      'quantity.1001: must be a positive whole number, not "2.0"',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': ' 2' } },
      'quantity.1001: must be a positive whole number, not " 2"',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '-2' } },
      'quantity.1001: must be a positive whole number, not "-2"',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '0' } },
      'quantity.1001: must be a positive whole number, not "0"',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '' } },
      'quantity.1001: must be a positive whole number, not ""',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '100001' } },
      'quantity.1001: must be at most 100000',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': '9'.repeat(20) } },
      'quantity.1001: must be at most 100000',
    ],
    [
      { backUrl: 'https://p.example/b', quantity: { '1001': 'x'.repeat(60) } },
      `quantity.1001: must be a positive whole number, not "${'x'.repeat(40)}…"`,
    ],
    [
      { backUrl: 'https://p.example/b', BackUrl: 'https://p.example/c', quantity: { '1001': 1 } },
      'backUrl: is given more than once, as backUrl and BackUrl',
    ],
    [
      { backUrl: 'https://p.example/b', successUrl: 'javascript:alert(1)', quantity: { '1001': 1 } },
      'successUrl: must be an absolute http:// or https:// URL, not javascript:',
    ],
    [
      { backUrl: 'https://p.example/b', successUrl: 12, quantity: { '1001': 1 } },
      'successUrl: must be a string',
    ],
    [{ backUrl: 'https://p.example/b', quantity: {} }, 'quantity: must name at least one item'],
    [
      { backUrl: 'https://p.example/b', quantity: [1] },
      'quantity: must be an object mapping item identifiers to counts',
    ],
    [{ backUrl: 'https://p.example/b' }, 'quantity: is required'],
    [
      { backUrl: 'javascript:alert(1)', quantity: { '1001': 1 } },
      'backUrl: must be an absolute http:// or https:// URL, not javascript:',
    ],
    [
      { backUrl: '/billing/return', quantity: { '1001': 1 } },
      'backUrl: must be an absolute http:// or https:// URL',
    ],
    [
      { backUrl: `https://p.example/${'x'.repeat(2040)}`, quantity: { '1001': 1 } },
      'backUrl: must be at most 2048 characters',
    ],
    [{ quantity: { '1001': 1 } }, 'backUrl: is required'],
  ])('answers 400 for %j', async (body, message) => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/url`, {
      method: 'PUT',
      headers: HEADERS,
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: { message, type: 'validation_failed' },
      status: 1,
      statusCode: 400,
    })
  })

  it('takes a product id as well as a SKU, and refuses products of other projects', async () => {
    const seat = await createProduct(live.app, merchant, projectId, {
      name: 'Storage',
      prices: [{ currency: 'USD', amount: 100 }],
    })
    expect(await getPaymentPageUrl('https://p.example/b', { [seat.id]: 2, '1001': 1 })).toMatch(/\/pay\/ord_/)
    const other = await createProject(live.app, merchant)
    const foreign = await createProduct(live.app, merchant, other.id, { sku: 'FOREIGN' })
    for (const id of [foreign.id, 'FOREIGN']) {
      const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/url`, {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ backUrl: 'https://p.example/b', quantity: { [id]: 1 } }),
      })
      expect(res.status).toBe(400)
      expect((await res.json()).error.message).toBe(
        `quantity.${id}: is not the id or SKU of a product of the portal's project`,
      )
    }
  })
})

// DocSpace's own server binds JSON bodies case-insensitively and reads numbers given as strings
// (ASP.NET Core with PropertyNameCaseInsensitive and JsonNumberHandling.AllowReadingFromString, in
// ONLYOFFICE/DocSpace-server's BaseStartup.cs and DynamicIgnoreResolver.cs), so its clients may send either.
describe('bodies as DocSpace’s own server reads them', () => {
  const put = (body: object) =>
    fetch(`${BASE_URL}/api/2.0/portal/payment/url`, {
      method: 'PUT',
      headers: HEADERS,
      body: JSON.stringify(body),
    })
  const orderOf = async (res: Response) => {
    expect(res.status).toBe(200)
    const orderId = /ord_[0-9a-f]{24}/.exec((await res.json()).response)?.[0]
    return (await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body
  }

  it.each([
    [{ backUrl: 'https://p.example/s', quantity: { '1001': '3' } }, 3],
    [{ BackUrl: 'https://p.example/s', Quantity: { '1001': 4 } }, 4],
    [{ backurl: 'https://p.example/s', QUANTITY: { '1001': '05' } }, 5],
  ])('takes %j', async (body, quantity) => {
    const order = await orderOf(await put(body))
    expect(order).toMatchObject({
      back_url: 'https://p.example/s',
      total_amount: 800 * quantity,
      items: [{ name: 'Seat', quantity, unit_amount: 800 }],
    })
  })

  it('takes payment request fields in any letter case', async () => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/request`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ UserName: 'Bo', EMAIL: 'bo@customer.example', message: 'Any case' }),
    })
    expect(res.status).toBe(200)
    expect((await res.json()).response).toMatchObject({ userName: 'Bo', email: 'bo@customer.example' })
  })
})

describe('GET /api/2.0/portal/payment/chechoutsetupurl', () => {
  it.each([
    ['', null],
    ['?BackUrl=', null],
    [
      '?backUrl=https%3A%2F%2Fp.example%2Fy%3Fa%3D1%3Fcomplete%3Dtrue',
      'https://p.example/y?a=1?complete=true',
    ],
  ])('answers a setup URL for %j, keeping the back URL %j', async (query, backUrl) => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/chechoutsetupurl${query}`, {
      headers: HEADERS,
    })
    expect(res.status).toBe(200)
    const setupUrl = (await res.json()).response
    expect(setupUrl).toMatch(/\/setup\/cs_[0-9a-f]{24}$/)
    const stored = await live.database.db
      .selectFrom('checkout_setups')
      .select('back_url')
      .where('id', '=', setupUrl.split('/').pop())
      .executeTakeFirstOrThrow()
    expect(stored.back_url).toBe(backUrl)
  })

  it.each([
    ['chechoutsetupurl', 'BackUrl'],
    ['checkoutsetupurl', 'BackUrl'],
    ['chechoutsetupurl', 'backUrl'],
    ['checkoutsetupurl', 'backurl'],
  ])('answers on /%s with the %s parameter', async (path, name) => {
    const res = await fetch(
      `${BASE_URL}/api/2.0/portal/payment/${path}?${name}=${encodeURIComponent('https://p.example/x')}`,
      { headers: HEADERS },
    )
    expect(res.status).toBe(200)
    expect((await res.json()).response).toMatch(/\/setup\/cs_[0-9a-f]{24}$/)
  })

  it.each([
    ['?BackUrl=relative/path', 'BackUrl: must be an absolute http:// or https:// URL'],
    [
      '?BackUrl=javascript%3Aalert(1)',
      'BackUrl: must be an absolute http:// or https:// URL, not javascript:',
    ],
  ])('answers 400 for %s', async (query, message) => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/chechoutsetupurl${query}`, {
      headers: HEADERS,
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: { message, type: 'validation_failed' },
      status: 1,
      statusCode: 400,
    })
  })
})

describe('NUL characters and blank text', () => {
  const count = async (table: 'payment_requests' | 'orders' | 'checkout_setups') =>
    (await live.database.db.selectFrom(table).select('id').execute()).length

  it.each([
    [
      'POST',
      '/payment/request',
      { userName: 'Ann\u0000', email: 'a@b.example', message: 'm' },
      'userName: must not contain NUL characters',
      'payment_requests',
    ],
    [
      'POST',
      '/payment/request',
      { userName: 'Ann', email: 'a@b.example', message: ' \n ' },
      'message: must not be blank',
      'payment_requests',
    ],
    [
      'PUT',
      '/payment/url',
      { backUrl: 'https://p.example/b', quantity: { '10\u000001': 1 } },
      'quantity.10\\001: must not contain NUL characters',
      'orders',
    ],
    [
      'PUT',
      '/payment/url',
      { backUrl: 'https://p.example/\u0000', quantity: { '1001': 1 } },
      'backUrl: must not contain NUL characters',
      'orders',
    ],
    [
      'GET',
      '/payment/chechoutsetupurl?BackUrl=https%3A%2F%2Fp.example%2F%00',
      undefined,
      'BackUrl: must not contain NUL characters',
      'checkout_setups',
    ],
  ] as const)(
    'answers %s %s with a 400 in the envelope naming the field (%j)',
    async (method, path, body, message, table) => {
      const before = await count(table)
      const res = await fetch(`${BASE_URL}/api/2.0/portal${path}`, {
        method,
        headers: HEADERS,
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({
        error: { message, type: 'validation_failed' },
        status: 1,
        statusCode: 400,
      })
      expect(await count(table)).toBe(before)
    },
  )
})

describe('portal authentication', () => {
  const call = (authorization: string | undefined) =>
    fetch(`${BASE_URL}/api/2.0/portal/payment/checkoutsetupurl?BackUrl=https%3A%2F%2Fp.example%2F`, {
      headers: authorization === undefined ? {} : { Authorization: authorization },
    })

  it('accepts Bearer sk-… and the bare sk-…', async () => {
    expect((await call(`Bearer ${API_KEY}`)).status).toBe(200)
    expect((await call(API_KEY)).status).toBe(200)
  })

  it.each([
    ['no header', undefined, 'missing portal key: send Authorization: Bearer sk-…'],
    ['a malformed key', 'sk-123', 'invalid or revoked portal key'],
    ['an unknown key', `sk-${'0'.repeat(64)}`, 'invalid or revoked portal key'],
    ['a merchant key', 'Bearer pl_sk_0123', 'invalid or revoked portal key'],
    ['upper-case hex', () => API_KEY.toUpperCase().replace('SK-', 'sk-'), 'invalid or revoked portal key'],
  ])('answers 401 in the envelope for %s', async (_case, header, message) => {
    const res = await call(typeof header === 'function' ? header() : header)
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: { message, type: 'unauthorized' }, status: 1, statusCode: 401 })
  })

  it('answers 401 once the key is revoked or the portal deleted', async () => {
    const portal = (
      await api(live.app, merchant, 'POST', '/portals', { project_id: projectId, name: 'temp' })
    ).body.id
    const k1 = (await api(live.app, merchant, 'POST', `/portals/${portal}/keys`)).body
    const k2 = (await api(live.app, merchant, 'POST', `/portals/${portal}/keys`)).body
    expect((await call(k1.key)).status).toBe(200)
    await api(live.app, merchant, 'DELETE', `/portals/${portal}/keys/${k1.id}`)
    expect((await call(k1.key)).status).toBe(401)
    expect((await call(k2.key)).status).toBe(200)
    await api(live.app, merchant, 'DELETE', `/portals/${portal}`)
    expect((await call(k2.key)).status).toBe(401)
  })

  it('answers unknown portal routes with a 404 in the envelope', async () => {
    const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/nothing`, { headers: HEADERS })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: { message: 'no route GET /api/2.0/portal/payment/nothing', type: 'route_not_found' },
      status: 1,
      statusCode: 404,
    })
  })
})

describe('rate limit of payment requests', () => {
  it('answers the 11th request in a minute from one portal and address with 429 and Retry-After', async () => {
    const portal = (
      await api(live.app, merchant, 'POST', '/portals', { project_id: projectId, name: 'chatty' })
    ).body.id
    const key = (await api(live.app, merchant, 'POST', `/portals/${portal}/keys`)).body.key
    const headers = { ...HEADERS, Authorization: `Bearer ${key}` }
    const body = JSON.stringify({ userName: 'u', email: 'u@p.example', message: 'm' })
    const statuses = []
    for (let i = 0; i < 11; i++) {
      const res = await fetch(`${BASE_URL}/api/2.0/portal/payment/request`, { method: 'POST', headers, body })
      statuses.push(res.status)
      if (i === 10) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
        const json = await res.json()
        expect(json).toMatchObject({ error: { type: 'rate_limited' }, status: 1, statusCode: 429 })
        expect(json.error.message).toContain('at most 10 requests a minute')
      }
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429])
    // Another portal from the same address is not limited by the first one's requests.
    expect((await sendPaymentRequest('u', 'u@p.example', 'm')).ok).toBe(true)
  })
})
