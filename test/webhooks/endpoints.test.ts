import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { api, createMerchant, type TestMerchant } from '../helpers/factories.js'

let ctx: TestContext
let merchant: TestMerchant
let intruder: TestMerchant

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
})
afterAll(() => ctx.close())

const body = {
  url: 'https://93.184.215.14/hooks',
  events: ['order.paid', 'order.expired'],
  description: 'ERP',
}

describe('POST /webhooks', () => {
  it('creates an endpoint and shows its secret this once', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/webhooks', body)
    expect(res.status).toBe(201)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^we_[0-9a-f]{24}$/),
      object: 'webhook_endpoint',
      url: body.url,
      events: body.events,
      description: 'ERP',
      enabled: true,
      disabled_reason: null,
      secret_rotation_ends_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    })
    const read = await api(ctx.app, merchant, 'GET', `/webhooks/${res.body.id}`)
    expect(read.body).not.toHaveProperty('secret')
    const list = await api(ctx.app, merchant, 'GET', '/webhooks')
    expect(JSON.stringify(list.body)).not.toContain(res.body.secret)
  })

  it.each([
    [{ ...body, url: 'javascript:alert(1)' }, 'url: must be an absolute http:// or https:// URL'],
    [{ ...body, url: 'ftp://example.com/x' }, 'url: must be an absolute http:// or https:// URL'],
    [
      { ...body, url: 'http://127.0.0.1:8080/x' },
      'url: resolves to 127.0.0.1, a private, loopback or link-local address',
    ],
    [
      { ...body, url: 'http://10.0.0.5/x' },
      'url: resolves to 10.0.0.5, a private, loopback or link-local address',
    ],
    [
      { ...body, url: 'http://169.254.169.254/latest' },
      'url: resolves to 169.254.169.254, a private, loopback or link-local address',
    ],
    [{ ...body, url: 'http://[::1]/x' }, 'url: resolves to ::1, a private, loopback or link-local address'],
    [
      { ...body, url: 'http://localhost/x' },
      'url: resolves to 127.0.0.1, a private, loopback or link-local address',
    ],
    [{ ...body, url: 'https://user:pw@example.com/x' }, 'url: must not carry credentials'],
    [
      { ...body, events: ['order.teleported'] },
      'events[0]: order.teleported is not an event type; use one of',
    ],
    [{ ...body, events: [] }, 'events: must contain 1 to 20 items'],
    [{ url: body.url }, 'events: is required'],
  ])('rejects %j', async (input, message) => {
    const res = await api(ctx.app, merchant, 'POST', '/webhooks', input)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.message.startsWith(message)).toBe(true)
  })

  it.each([
    [{ ...body, description: '   ' }, 'description: must not be blank', 'description', 'blank'],
    [
      { ...body, description: 'E\u0000RP' },
      'description: must not contain NUL characters',
      'description',
      'nul',
    ],
    [
      { ...body, events: ['order.paid\u0000'] },
      'events[0]: must not contain NUL characters',
      'events[0]',
      'nul',
    ],
  ])('refuses %j naming the field, and stores no endpoint', async (input, message, field, rule) => {
    const before = await ctx.database.db.selectFrom('webhook_endpoints').select('id').execute()
    const res = await api(ctx.app, merchant, 'POST', '/webhooks', input)
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message,
      details: { field, rule, location: 'body' },
    })
    expect(await ctx.database.db.selectFrom('webhook_endpoints').select('id').execute()).toEqual(before)
  })

  it('accepts loopback URLs when WEBHOOK_ALLOW_PRIVATE_URLS is set', async () => {
    const dev = await createTestContext({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } })
    try {
      const m = await createMerchant(dev.services)
      const res = await api(dev.app, m, 'POST', '/webhooks', { ...body, url: 'http://127.0.0.1:9/x' })
      expect(res.status).toBe(201)
    } finally {
      await dev.close()
    }
  })
})

describe('PATCH, DELETE and rotate', () => {
  it('stores the description without its surrounding whitespace, and refuses a blank one on update', async () => {
    const { id } = (await api(ctx.app, merchant, 'POST', '/webhooks', { ...body, description: ' ERP\n' }))
      .body
    const blank = await api(ctx.app, merchant, 'PATCH', `/webhooks/${id}`, { description: ' ' })
    expect(blank.body).toEqual({
      code: 'validation_failed',
      message: 'description: must not be blank',
      details: { field: 'description', rule: 'blank', location: 'body' },
    })
    const row = await ctx.database.db
      .selectFrom('webhook_endpoints')
      .select('description')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row.description).toBe('ERP')
  })

  it('disables, enables and edits an endpoint', async () => {
    const { id } = (await api(ctx.app, merchant, 'POST', '/webhooks', body)).body
    const off = await api(ctx.app, merchant, 'PATCH', `/webhooks/${id}`, { enabled: false })
    expect(off.body).toMatchObject({ enabled: false, disabled_reason: 'disabled by the merchant' })
    const on = await api(ctx.app, merchant, 'PATCH', `/webhooks/${id}`, {
      enabled: true,
      events: ['*'],
      description: null,
    })
    expect(on.body).toMatchObject({ enabled: true, disabled_reason: null, events: ['*'], description: null })
  })

  it('rotates the secret and keeps the previous one signing for a day', async () => {
    const created = (await api(ctx.app, merchant, 'POST', '/webhooks', body)).body
    const rotated = await api(ctx.app, merchant, 'POST', `/webhooks/${created.id}/rotate-secret`)
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).toMatch(/^whsec_/)
    expect(rotated.body.secret).not.toBe(created.secret)
    expect(rotated.body.secret_rotation_ends_at).toBe(
      new Date(ctx.clock.now().getTime() + 86_400_000).toISOString(),
    )
  })

  it('deletes an endpoint', async () => {
    const { id } = (await api(ctx.app, merchant, 'POST', '/webhooks', body)).body
    expect((await api(ctx.app, merchant, 'DELETE', `/webhooks/${id}`)).status).toBe(204)
    expect((await api(ctx.app, merchant, 'GET', `/webhooks/${id}`)).status).toBe(404)
  })

  it('treats another merchant’s endpoint exactly like a missing one', async () => {
    const { id } = (await api(ctx.app, merchant, 'POST', '/webhooks', body)).body
    for (const target of [id, `we_${'0'.repeat(24)}`, 'nope']) {
      for (const [method, path, payload] of [
        ['GET', '', undefined],
        ['PATCH', '', { enabled: false }],
        ['DELETE', '', undefined],
        ['POST', '/rotate-secret', undefined],
        ['GET', '/deliveries', undefined],
        ['POST', '/deliveries/whd_x/resend', undefined],
      ] as const) {
        const res = await api(ctx.app, intruder, method, `/webhooks/${target}${path}`, payload)
        expect({ target, method, path, status: res.status, body: res.body }).toEqual({
          target,
          method,
          path,
          status: 404,
          body: { code: 'webhook_not_found', message: 'webhook endpoint not found' },
        })
      }
    }
    expect((await api(ctx.app, merchant, 'GET', `/webhooks/${id}`)).body.enabled).toBe(true)
  })
})
