import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
let intruder: TestMerchant
beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
})
afterAll(() => ctx.close())

describe('POST /projects', () => {
  it('creates a project and stores it', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/projects', {
      name: '  Game store ',
      default_currency: 'JPY',
      success_url: 'https://shop.example.com/thanks',
      sales_email: 'sales@shop.example.com',
    })
    expect(res.status).toBe(201)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      object: 'project',
      merchant_id: merchant.id,
      name: 'Game store',
      default_currency: 'JPY',
      success_url: 'https://shop.example.com/thanks',
      sales_email: 'sales@shop.example.com',
      created_at: '2026-03-01T12:00:00.000Z',
      updated_at: '2026-03-01T12:00:00.000Z',
    })
    const row = await ctx.database.db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', res.body.id)
      .executeTakeFirst()
    expect(row).toMatchObject({
      merchant_id: merchant.id,
      name: 'Game store',
      default_currency: 'JPY',
      deleted_at: null,
    })
  })

  it.each([
    [{ default_currency: 'USD' }, 'name: is required', 'name', 'required'],
    [{ name: '', default_currency: 'USD' }, 'name: must not be empty', 'name', 'minLength'],
    [
      { name: 'x'.repeat(201), default_currency: 'USD' },
      'name: must be at most 200 characters',
      'name',
      'maxLength',
    ],
    [{ name: 'P' }, 'default_currency: is required', 'default_currency', 'required'],
    [
      { name: 'P', default_currency: 'usd' },
      'default_currency: must be a three-letter ISO 4217 code in capitals, e.g. USD',
      'default_currency',
      'pattern',
    ],
    [
      { name: 'P', default_currency: 'ABC' },
      'default_currency: ABC is not a supported ISO 4217 currency',
      'default_currency',
      'currency',
    ],
    [
      { name: 'P', default_currency: 'XAU' },
      'default_currency: XAU is not a supported ISO 4217 currency',
      'default_currency',
      'currency',
    ],
    [
      { name: 'P', default_currency: 'USD', success_url: 'javascript:alert(1)' },
      'success_url: must be an absolute http:// or https:// URL',
      'success_url',
      'pattern',
    ],
    [
      { name: 'P', default_currency: 'USD', success_url: '/thanks' },
      'success_url: must be an absolute http:// or https:// URL',
      'success_url',
      'pattern',
    ],
    [
      { name: 'P', default_currency: 'USD', sales_email: 'nobody' },
      'sales_email: must be a valid email address',
      'sales_email',
      'format',
    ],
    [{ name: 'P', default_currency: 'USD', owner: 'x' }, 'owner: is not a known field', 'owner', 'unknown'],
    [{ name: 7, default_currency: 'USD' }, 'name: must be a string', 'name', 'type'],
    [{ name: ' ', default_currency: 'USD' }, 'name: must not be blank', 'name', 'blank'],
    [{ name: '\t\n\u00a0 ', default_currency: 'USD' }, 'name: must not be blank', 'name', 'blank'],
    [
      { name: 'Game\u0000store', default_currency: 'USD' },
      'name: must not contain NUL characters',
      'name',
      'nul',
    ],
    [
      { name: 'P', default_currency: 'USD', sales_email: 'a\u0000@example.com' },
      'sales_email: must not contain NUL characters',
      'sales_email',
      'nul',
    ],
  ])('rejects %j: %s', async (body, message, field, rule) => {
    const before = await ctx.database.db
      .selectFrom('projects')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst()
    const res = await api(ctx.app, merchant, 'POST', '/projects', body)
    expect(res.status).toBe(400)
    const details = rule === 'currency' ? { field, rule } : { field, rule, location: 'body' }
    expect(res.body).toEqual({ code: 'validation_failed', message, details })
    const after = await ctx.database.db
      .selectFrom('projects')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst()
    expect(after).toEqual(before)
  })

  it('rejects a body that is not JSON', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/admin/api/v1/projects',
      headers: { ...merchant.headers, 'content-type': 'application/json' },
      payload: '{"name": ',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'invalid_body', message: expect.stringContaining('JSON') })
  })
})

describe('GET /projects', () => {
  it('lists the merchant’s projects newest first with a total, and nothing of other merchants', async () => {
    const owner = await createMerchant(ctx.services)
    const made = []
    for (let i = 0; i < 3; i++) {
      ctx.clock.advance(1000)
      made.push(await createProject(ctx.app, owner, { name: `P${i}` }))
    }
    await createProject(ctx.app, intruder, { name: 'Not yours' })
    const page = await api(ctx.app, owner, 'GET', '/projects?offset=1&limit=1')
    expect(page.status).toBe(200)
    expect(page.body).toMatchObject({ merchant_id: owner.id, limit: 1, offset: 1, total: 3 })
    expect(page.body.projects.map((p: { id: string }) => p.id)).toEqual([made[1]?.id])
    const all = await api(ctx.app, owner, 'GET', '/projects')
    expect(all.body.projects.map((p: { name: string }) => p.name)).toEqual(['P2', 'P1', 'P0'])
    expect(all.body.limit).toBe(10)
  })

  it.each([
    ['limit=0', 'limit: must be at least 1'],
    ['limit=101', 'limit: must be at most 100'],
    ['offset=-1', 'offset: must be at least 0'],
    ['limit=ten', 'limit: must be an integer'],
  ])('rejects %s', async (query, message) => {
    const res = await api(ctx.app, merchant, 'GET', `/projects?${query}`)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.message).toBe(message)
    expect(res.body.details.location).toBe('querystring')
  })
})

describe('GET, PATCH and DELETE /projects/:id', () => {
  it('reads and updates a project; null clears optional fields', async () => {
    const project = await createProject(ctx.app, merchant, { success_url: 'https://a.example/x' })
    ctx.clock.advance(60_000)
    const res = await api(ctx.app, merchant, 'PATCH', `/projects/${project.id}`, {
      name: 'Renamed',
      default_currency: 'KWD',
      success_url: null,
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'Renamed', default_currency: 'KWD', success_url: null })
    expect(res.body.updated_at).not.toBe(res.body.created_at)
    expect((await api(ctx.app, merchant, 'GET', `/projects/${project.id}`)).body).toEqual(res.body)
  })

  it('refuses a blank or NUL name on update and keeps the stored one', async () => {
    const project = await createProject(ctx.app, merchant, { name: 'Kept' })
    for (const [name, message, rule] of [
      ['   ', 'name: must not be blank', 'blank'],
      ['Ke\u0000pt', 'name: must not contain NUL characters', 'nul'],
    ]) {
      const res = await api(ctx.app, merchant, 'PATCH', `/projects/${project.id}`, { name })
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        code: 'validation_failed',
        message,
        details: { field: 'name', rule, location: 'body' },
      })
    }
    const row = await ctx.database.db
      .selectFrom('projects')
      .select('name')
      .where('id', '=', project.id)
      .executeTakeFirstOrThrow()
    expect(row.name).toBe('Kept')
  })

  it('rejects an empty update', async () => {
    const project = await createProject(ctx.app, merchant)
    const res = await api(ctx.app, merchant, 'PATCH', `/projects/${project.id}`, {})
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: 'body: must have at least 1 entry',
      details: { field: 'body', rule: 'minProperties', location: 'body' },
    })
  })

  it('deletes a project: it, its products and its paylinks disappear from reads', async () => {
    const project = await createProject(ctx.app, merchant)
    const product = await createProduct(ctx.app, merchant, project.id)
    const paylink = await createPaylink(ctx.app, merchant, project.id, [product.id])
    const res = await api(ctx.app, merchant, 'DELETE', `/projects/${project.id}`)
    expect(res.status).toBe(204)
    expect(res.body).toBeUndefined()
    expect((await api(ctx.app, merchant, 'GET', `/projects/${project.id}`)).status).toBe(404)
    expect((await api(ctx.app, merchant, 'GET', `/products/${product.id}`)).status).toBe(404)
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${paylink.id}`)).status).toBe(404)
    expect((await api(ctx.app, merchant, 'DELETE', `/projects/${project.id}`)).status).toBe(404)
    const row = await ctx.database.db
      .selectFrom('paylinks')
      .select('deleted_at')
      .where('id', '=', paylink.id)
      .executeTakeFirst()
    expect(row?.deleted_at).not.toBeNull()
  })

  it('treats another merchant’s project exactly like a missing one', async () => {
    const project = await createProject(ctx.app, merchant)
    const missing = '0'.repeat(24)
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'Mine now' }],
      ['DELETE', undefined],
    ] as const) {
      const theirs = await api(ctx.app, intruder, method, `/projects/${project.id}`, body)
      const none = await api(ctx.app, intruder, method, `/projects/${missing}`, body)
      expect(theirs.status).toBe(404)
      expect(theirs.body).toEqual({
        code: 'project_not_found',
        message: `project ${project.id} not found`,
        details: { field: 'project_id' },
      })
      expect(none.body).toEqual({ ...theirs.body, message: `project ${missing} not found` })
    }
    expect((await api(ctx.app, merchant, 'GET', `/projects/${project.id}`)).body.name).toBe('Test project')
  })

  it('rejects a malformed id naming the rule', async () => {
    const res = await api(ctx.app, merchant, 'GET', '/projects/abc')
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message: 'project_id: must be a 24-character lowercase hex id',
      details: { field: 'project_id', rule: 'pattern', location: 'params' },
    })
  })
})
