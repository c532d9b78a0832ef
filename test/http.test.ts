import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPaylink, openPaymentPage, pathOf, startPayment } from './helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from './helpers/context.js'
import { DashboardClient } from './helpers/dashboard.js'
import { type DatabaseProxy, startDatabaseProxy } from './helpers/db-proxy.js'
import { api, createMerchant, createPaylink, createProduct, createProject } from './helpers/factories.js'

let ctx: TestContext
const PASSWORD = 'correct horse battery staple'
beforeAll(async () => {
  ctx = await createTestContext()
})
afterAll(() => ctx.close())

describe('GET /openapi.json', () => {
  it('is generated from the routes and lists every admin route with bearer security', async () => {
    const res = await ctx.app.inject('/openapi.json')
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(doc.openapi).toBe('3.1.0')
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    )
    for (const route of [
      'POST /admin/api/v1/projects',
      'GET /admin/api/v1/projects',
      'GET /admin/api/v1/projects/{project_id}',
      'PATCH /admin/api/v1/projects/{project_id}',
      'DELETE /admin/api/v1/projects/{project_id}',
      'POST /admin/api/v1/products',
      'GET /admin/api/v1/products',
      'GET /admin/api/v1/products/{product_id}',
      'PATCH /admin/api/v1/products/{product_id}',
      'DELETE /admin/api/v1/products/{product_id}',
      'POST /admin/api/v1/paylinks',
      'PUT /admin/api/v1/paylinks/{paylink_id}',
      'GET /admin/api/v1/paylinks/{paylink_id}',
      'DELETE /admin/api/v1/paylinks/{paylink_id}',
      'GET /admin/api/v1/paylinks/{paylink_id}/stat',
      'GET /admin/api/v1/paylinks/{paylink_id}/url',
      'GET /admin/api/v1/paylinks/project/{project_id}',
      ...['summary', 'country', 'referrer', 'utm', 'date'].flatMap((dim) => [
        `GET /admin/api/v1/paylinks/{paylink_id}/dashboard/${dim}`,
        `GET /admin/api/v1/projects/{project_id}/dashboard/${dim}`,
      ]),
      'GET /admin/api/v1/projects/{project_id}/dashboard/paylink',
      'GET /admin/api/v1/merchant',
      'GET /admin/api/v1/api-keys',
      'POST /admin/api/v1/api-keys',
      'DELETE /admin/api/v1/api-keys/{key_id}',
      'GET /healthz',
      'GET /readyz',
      'GET /admin/api/v1/orders',
      'GET /admin/api/v1/orders/{order_id}',
      'POST /admin/api/v1/portals',
      'GET /admin/api/v1/portals',
      'GET /admin/api/v1/portals/{portal_id}',
      'DELETE /admin/api/v1/portals/{portal_id}',
      'POST /admin/api/v1/portals/{portal_id}/keys',
      'GET /admin/api/v1/portals/{portal_id}/keys',
      'DELETE /admin/api/v1/portals/{portal_id}/keys/{key_id}',
      'GET /admin/api/v1/portals/{portal_id}/payment-method',
      'GET /admin/api/v1/payment-requests',
      'POST /admin/api/v1/webhooks',
      'GET /admin/api/v1/webhooks',
      'GET /admin/api/v1/webhooks/{webhook_id}',
      'PATCH /admin/api/v1/webhooks/{webhook_id}',
      'DELETE /admin/api/v1/webhooks/{webhook_id}',
      'POST /admin/api/v1/webhooks/{webhook_id}/rotate-secret',
      'GET /admin/api/v1/webhooks/{webhook_id}/deliveries',
      'POST /admin/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/resend',
      'POST /api/2.0/portal/payment/request',
      'PUT /api/2.0/portal/payment/url',
      'GET /api/2.0/portal/payment/chechoutsetupurl',
      'GET /api/2.0/portal/payment/checkoutsetupurl',
      'GET /paylink/{paylink_id}',
      'GET /pay/{order_id}',
      'POST /pay/{order_id}',
      'GET /setup/{setup_id}',
      'POST /setup/{setup_id}',
    ]) {
      expect(routes).toContain(route)
    }
    const create = doc.paths['/admin/api/v1/paylinks'].post
    expect(create.security).toEqual([{ bearerAuth: [] }])
    expect(create.requestBody.content['application/json'].schema.properties.products).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: 6,
    })
    expect(Object.keys(create.responses).sort()).toEqual(['200', '400', '401', '404'])
    expect(doc.components.schemas).toHaveProperty('Paylink')
    expect(doc.components.schemas).toHaveProperty('ErrorBody')
    // Every operation answers with declared responses, so clients and the reference know each status.
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, { responses?: object }>>,
    )) {
      for (const [method, op] of Object.entries(ops)) {
        expect({ route: `${method} ${path}`, declared: Object.keys(op.responses ?? {}).length > 0 }).toEqual({
          route: `${method} ${path}`,
          declared: true,
        })
      }
    }
  })
})

describe('pagination', () => {
  /** Every operation of /openapi.json that pages, with path parameters of a valid form. */
  async function listOperations() {
    const doc = (await ctx.app.inject('/openapi.json')).json()
    const ids: Record<string, string> = { project_id: '0'.repeat(24), webhook_id: `we_${'0'.repeat(24)}` }
    type Param = { name: string; in: string; schema: object }
    return Object.entries(doc.paths as Record<string, Record<string, { parameters?: Param[] }>>)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))
      .filter(({ op }) => op.parameters?.some((p) => p.in === 'query' && p.name === 'offset'))
      .map(({ path, method, op }) => ({
        route: `${method.toUpperCase()} ${path}`,
        url: path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? name),
        paging: Object.fromEntries(
          (op.parameters ?? [])
            .filter((p) => ['offset', 'limit'].includes(p.name))
            .map((p) => [p.name, p.schema]),
        ),
      }))
  }

  it('is one schema on every list: offset 0 to 1,000,000, limit 1 to 100, default 10', async () => {
    const lists = await listOperations()
    // At least these; a list added later is held to the same schema by the loop below.
    expect(lists.map((l) => l.route)).toEqual(
      expect.arrayContaining([
        'GET /admin/api/v1/orders',
        'GET /admin/api/v1/paylinks/project/{project_id}',
        'GET /admin/api/v1/payment-requests',
        'GET /admin/api/v1/portals',
        'GET /admin/api/v1/products',
        'GET /admin/api/v1/projects',
        'GET /admin/api/v1/webhooks/{webhook_id}/deliveries',
      ]),
    )
    for (const list of lists) {
      expect({ route: list.route, paging: list.paging }).toEqual({
        route: list.route,
        paging: {
          offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
        },
      })
    }
  })

  it('refuses an offset past the maximum on every list with a 400 naming it, and answers the last one', async () => {
    const merchant = await createMerchant(ctx.services)
    for (const list of await listOperations()) {
      const huge = await ctx.app.inject({
        url: `${list.url}?offset=99999999999999999999`,
        headers: merchant.headers,
      })
      expect({ route: list.route, status: huge.statusCode, body: huge.json() }).toEqual({
        route: list.route,
        status: 400,
        body: {
          code: 'validation_failed',
          message: 'offset: must be at most 1000000',
          details: { field: 'offset', rule: 'maximum', location: 'querystring' },
        },
      })
      const last = await ctx.app.inject({
        url: `${list.url}?offset=1000000&limit=100`,
        headers: merchant.headers,
      })
      // A list scoped to an object answers 404 for this made-up one; none fails.
      expect({ route: list.route, status: last.statusCode }).toEqual({
        route: list.route,
        status: list.url.includes('0000') ? 404 : 200,
      })
    }
  })
})

describe('GET /docs', () => {
  it('serves the interactive reference', async () => {
    const res = await ctx.app.inject('/docs/')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('swagger')
  })

  it.each([
    '/docs',
    '/docs/',
    '/docs/static/swagger-ui.css',
    '/docs/static/swagger-ui-bundle.js',
    '/docs/static/swagger-initializer.js',
    '/docs/json',
  ])('sends the security headers of every page on %s', async (url) => {
    const res = await ctx.app.inject(url)
    expect(res.statusCode).toBe(200)
    expect(res.headers).toMatchObject({
      // Swagger UI's own scripts, styles and data: icons, and its "Try it out" calls to the public URL.
      'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ${PUBLIC_URL}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    })
  })
})

describe('probes', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await ctx.app.inject('/healthz')).json()).toEqual({ status: 'ok' })
    const ready = await ctx.app.inject('/readyz')
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ok', database: ctx.database.kind })
  })
})

describe('request ids and unknown routes', () => {
  it('sends a request id in x-request-id, echoing a well-formed incoming one', async () => {
    const generated = await ctx.app.inject('/healthz')
    expect(generated.headers['x-request-id']).toMatch(/^req_[0-9a-f]{16}$/)
    const echoed = await ctx.app.inject({ url: '/healthz', headers: { 'x-request-id': 'lb-1234' } })
    expect(echoed.headers['x-request-id']).toBe('lb-1234')
    const unsafe = await ctx.app.inject({
      url: '/healthz',
      headers: { 'x-request-id': 'bad id\nwith newline' },
    })
    expect(unsafe.headers['x-request-id']).toMatch(/^req_/)
  })

  it('answers unknown routes with a JSON 404', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/admin/api/v2/whatever?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ code: 'route_not_found', message: 'no route POST /admin/api/v2/whatever' })
  })

  it('answers 415 for a body that is not JSON', async () => {
    const merchant = await createMerchant(ctx.services)
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/admin/api/v1/projects',
      headers: { ...merchant.headers, 'content-type': 'text/plain' },
      payload: 'name=x',
    })
    expect(res.statusCode).toBe(415)
    expect(res.json().code).toBe('unsupported_media_type')
  })
})

describe('failures inside the server', () => {
  it('answer 500 with a request id and no internals', async () => {
    const broken = await createTestContext()
    try {
      const merchant = await createMerchant(broken.services)
      // A statement that fails on a database that answers: the table is gone behind the server's back.
      await sql`alter table projects rename to projects_gone`.execute(broken.database.db)
      const failed = await broken.app.inject({ url: '/admin/api/v1/projects', headers: merchant.headers })
      expect(failed.statusCode).toBe(500)
      expect(failed.headers['retry-after']).toBeUndefined()
      expect(failed.json()).toEqual({
        code: 'internal_error',
        message: 'internal server error',
        details: { request_id: failed.headers['x-request-id'] },
      })
    } finally {
      await broken.close()
    }
  })
})

const DATABASE_UNAVAILABLE = 'the database is unavailable for a moment; try again in a few seconds'

/** The admin API's answer when the database cannot be reached: 503, Retry-After and the whole body. */
function expectDatabaseUnavailable(res: Awaited<ReturnType<TestContext['app']['inject']>>) {
  expect(res.statusCode).toBe(503)
  expect(res.headers['retry-after']).toBe('5')
  expect(res.json()).toEqual({
    code: 'service_unavailable',
    message: DATABASE_UNAVAILABLE,
    details: { retry_after_seconds: 5 },
  })
}

describe('the database unavailable', () => {
  it('answers 503 with Retry-After on the APIs and the buyer’s pages, and /readyz reports it down', async () => {
    let proxy: DatabaseProxy | undefined
    const broken = await createTestContext({
      connect: async (url) => {
        proxy = await startDatabaseProxy(url)
        return proxy.url
      },
    })
    const merchant = await createMerchant(broken.services)
    const project = await createProject(broken.app, merchant)
    const product = await createProduct(broken.app, merchant, project.id)
    const link = await createPaylink(broken.app, merchant, project.id, [product.id])
    const portalId = (
      await api(broken.app, merchant, 'POST', '/portals', { project_id: project.id, name: 'yourportal' })
    ).body.id
    const portalKey = (await api(broken.app, merchant, 'POST', `/portals/${portalId}/keys`)).body.key
    // A buyer at the sandbox's card page of an order, when the database goes.
    const { orderId } = await openPaylink(broken.app, link.id)
    const atProvider = await startPayment(
      broken.app,
      orderId as string,
      await openPaymentPage(broken.app, orderId as string),
      'buyer@example.com',
    )
    expect(atProvider.statusCode).toBe(303)
    const cardPage = pathOf(atProvider.headers.location as string)
    await broken.services.users.create({
      merchantId: merchant.id,
      email: 'ada@example.com',
      password: PASSWORD,
    })
    const person = new DashboardClient(broken.app, '192.0.2.80')
    expect((await person.signIn('ada@example.com', PASSWORD)).statusCode).toBe(303)
    // The database goes away: open connections are reset, new ones refused.
    await proxy?.cut()
    try {
      const admin = await broken.app.inject({ url: '/admin/api/v1/projects', headers: merchant.headers })
      expectDatabaseUnavailable(admin)
      const portal = await broken.app.inject({
        method: 'POST',
        url: '/api/2.0/portal/payment/request',
        headers: { authorization: `Bearer ${portalKey}`, 'content-type': 'application/json' },
        payload: { userName: 'Ann', email: 'ann@example.com', message: 'hello' },
      })
      expect(portal.statusCode).toBe(503)
      expect(portal.headers['retry-after']).toBe('5')
      expect(portal.json()).toEqual({
        error: {
          message: DATABASE_UNAVAILABLE,
          type: 'service_unavailable',
        },
        status: 1,
        statusCode: 503,
      })
      const page = await broken.app.inject(`/paylink/${link.id}`)
      expect(page.statusCode).toBe(503)
      expect(page.headers['retry-after']).toBe('5')
      expect(page.body).toContain('Unavailable for a moment')
      expect(page.body).toContain('Nothing was ordered and no money was taken.')
      const order = await broken.app.inject(`/pay/${orderId}`)
      expect(order.statusCode).toBe(503)
      expect(order.headers['retry-after']).toBe('5')
      expect(order.body).toContain('If you have paid, your payment is safe')
      expect(order.body).not.toContain('Nothing was ordered')
      const sandbox = await broken.app.inject(cardPage)
      expect(sandbox.statusCode).toBe(503)
      expect(sandbox.headers['retry-after']).toBe('5')
      expect(sandbox.body).toContain('No card was charged')
      const dashboard = await person.get('/dashboard/')
      expect(dashboard.statusCode).toBe(503)
      expect(dashboard.headers['retry-after']).toBe('5')
      expect(dashboard.body).toContain('Unavailable for a moment')
      const ready = await broken.app.inject('/readyz')
      expect(ready.statusCode).toBe(503)
      expect(ready.json()).toEqual({ status: 'unavailable', database: 'unreachable' })
    } finally {
      await broken.close()
      await proxy?.close()
    }
  })

  it('answers 503 when every connection of the pool stays busy past the wait, and serves again after', async () => {
    // Long enough for the set-up's first connection on a busy machine; the held one makes the request wait it out.
    const busy = await createTestContext({ poolSize: 1, connectionTimeoutMs: 2_000 })
    try {
      const merchant = await createMerchant(busy.services)
      // The pool's one connection, held by a transaction until the test ends it.
      const held = await busy.database.db.startTransaction().execute()
      await sql`select 1`.execute(held)
      const waited = await busy.app.inject({ url: '/admin/api/v1/projects', headers: merchant.headers })
      expectDatabaseUnavailable(waited)
      await held.rollback().execute()
      const served = await busy.app.inject({ url: '/admin/api/v1/projects', headers: merchant.headers })
      expect(served.statusCode).toBe(200)
    } finally {
      await busy.close()
    }
  })
})
