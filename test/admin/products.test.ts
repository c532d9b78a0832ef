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
let projectId: string
beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  intruder = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
})
afterAll(() => ctx.close())

const countProducts = async () =>
  Number(
    (
      await ctx.database.db
        .selectFrom('products')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  )

describe('POST /products', () => {
  it('creates a product with prices in minor units of JPY, USD and KWD', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/products', {
      project_id: projectId,
      name: 'Sword',
      description: 'Sharp',
      sku: 'SWORD-1',
      prices: [
        { currency: 'USD', amount: 1999 },
        { currency: 'JPY', amount: 2500 },
        { currency: 'KWD', amount: 6150 },
      ],
    })
    expect(res.status).toBe(201)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      object: 'product',
      merchant_id: merchant.id,
      project_id: projectId,
      name: 'Sword',
      description: 'Sharp',
      sku: 'SWORD-1',
      prices: [
        { currency: 'JPY', amount: 2500 },
        { currency: 'KWD', amount: 6150 },
        { currency: 'USD', amount: 1999 },
      ],
      archived: false,
      archived_at: null,
      created_at: '2026-03-01T12:00:00.000Z',
      updated_at: '2026-03-01T12:00:00.000Z',
    })
    const prices = await ctx.database.db
      .selectFrom('product_prices')
      .select(['currency', 'amount'])
      .where('product_id', '=', res.body.id)
      .orderBy('currency')
      .execute()
    expect(prices).toEqual([
      { currency: 'JPY', amount: 2500 },
      { currency: 'KWD', amount: 6150 },
      { currency: 'USD', amount: 1999 },
    ])
  })

  const valid = { name: 'Thing', prices: [{ currency: 'USD', amount: 100 }] }
  it.each([
    [{ ...valid, prices: [] }, 'prices: must contain 1 to 50 items', 'minItems'],
    [
      { ...valid, prices: [{ currency: 'USD', amount: 0 }] },
      'prices[0].amount: must be at least 1',
      'minimum',
    ],
    [
      { ...valid, prices: [{ currency: 'USD', amount: -5 }] },
      'prices[0].amount: must be at least 1',
      'minimum',
    ],
    [
      { ...valid, prices: [{ currency: 'USD', amount: 19.99 }] },
      'prices[0].amount: must be an integer',
      'type',
    ],
    [
      { ...valid, prices: [{ currency: 'USD', amount: '100' }] },
      'prices[0].amount: must be an integer',
      'type',
    ],
    [
      { ...valid, prices: [{ currency: 'USD', amount: 1e12 }] },
      'prices[0].amount: must be at most 999999999999',
      'maximum',
    ],
    [{ ...valid, prices: [{ amount: 100 }] }, 'prices[0].currency: is required', 'required'],
    [
      {
        ...valid,
        prices: [
          { currency: 'USD', amount: 1 },
          { currency: 'QQQ', amount: 1 },
        ],
      },
      'prices[1].currency: QQQ is not a supported ISO 4217 currency',
      'currency',
    ],
    [
      {
        ...valid,
        prices: [
          { currency: 'USD', amount: 1 },
          { currency: 'USD', amount: 2 },
        ],
      },
      'prices[1].currency: USD appears twice; a product has one price per currency',
      'unique',
    ],
    [
      { ...valid, sku: 'has space' },
      'sku: must be 1 to 64 letters, digits or . _ : / - and start with a letter or digit',
      'pattern',
    ],
    [{ ...valid, name: '' }, 'name: must not be empty', 'minLength'],
    [
      { ...valid, description: 'd'.repeat(2001) },
      'description: must be at most 2000 characters',
      'maxLength',
    ],
    [{ prices: valid.prices }, 'name: is required', 'required'],
    [{ ...valid, name: ' \u3000 ' }, 'name: must not be blank', 'blank'],
    [{ ...valid, description: '  ' }, 'description: must not be blank', 'blank'],
    [{ ...valid, name: 'Sw\u0000ord' }, 'name: must not contain NUL characters', 'nul'],
    [
      { ...valid, prices: [{ currency: 'US\u0000', amount: 1 }] },
      'prices[0].currency: must not contain NUL characters',
      'nul',
    ],
  ])('rejects %j: %s', async (body, message, rule) => {
    const before = await countProducts()
    const res = await api(ctx.app, merchant, 'POST', '/products', { project_id: projectId, ...body })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.message).toBe(message)
    expect(res.body.details.rule).toBe(rule)
    expect(await countProducts()).toBe(before)
  })

  it('stores names and descriptions without their surrounding whitespace', async () => {
    const res = await api(ctx.app, merchant, 'POST', '/products', {
      project_id: projectId,
      ...valid,
      name: '  Sword ',
      description: '\n A sharp one. \n',
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ name: 'Sword', description: 'A sharp one.' })
    const row = await ctx.database.db
      .selectFrom('products')
      .select(['name', 'description'])
      .where('id', '=', res.body.id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ name: 'Sword', description: 'A sharp one.' })
  })

  it('answers 404 for a project of another merchant, as for a missing one', async () => {
    const theirs = await createProject(ctx.app, intruder)
    const res = await api(ctx.app, merchant, 'POST', '/products', { project_id: theirs.id, ...valid })
    expect(res.status).toBe(404)
    expect(res.body).toEqual({
      code: 'project_not_found',
      message: `project ${theirs.id} not found`,
      details: { field: 'project_id' },
    })
  })

  it('keeps SKUs unique within a project, but not across projects; an archived product frees its SKU', async () => {
    const first = await createProduct(ctx.app, merchant, projectId, { sku: '1001' })
    const dup = await api(ctx.app, merchant, 'POST', '/products', {
      project_id: projectId,
      sku: '1001',
      ...valid,
    })
    expect(dup.status).toBe(409)
    expect(dup.body).toEqual({
      code: 'sku_taken',
      message: 'sku: 1001 is already used by another product of this project',
      details: { field: 'sku', rule: 'unique' },
    })
    const other = await createProject(ctx.app, merchant)
    await createProduct(ctx.app, merchant, other.id, { sku: '1001' })
    await api(ctx.app, merchant, 'PATCH', `/products/${first.id}`, { archived: true })
    const reuse = await createProduct(ctx.app, merchant, projectId, { sku: '1001' })
    expect(reuse.sku).toBe('1001')
    const restore = await api(ctx.app, merchant, 'PATCH', `/products/${first.id}`, { archived: false })
    expect(restore.status).toBe(409)
    expect(restore.body.code).toBe('sku_taken')
  })

  it('settles a race for one SKU with the unique index: one 201, one 409', async () => {
    const body = { project_id: projectId, sku: 'RACE', ...valid }
    const results = await Promise.all([
      api(ctx.app, merchant, 'POST', '/products', body),
      api(ctx.app, merchant, 'POST', '/products', body),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([201, 409])
  })
})

describe('GET /products', () => {
  it('lists by project with offset, limit and total, hiding archived ones unless asked', async () => {
    const project = await createProject(ctx.app, merchant)
    const made = []
    for (let i = 0; i < 4; i++) {
      ctx.clock.advance(1000)
      made.push(await createProduct(ctx.app, merchant, project.id, { name: `N${i}` }))
    }
    await api(ctx.app, merchant, 'PATCH', `/products/${made[0]?.id}`, { archived: true })
    const page = await api(ctx.app, merchant, 'GET', `/products?project_id=${project.id}&limit=2&offset=1`)
    expect(page.status).toBe(200)
    expect(page.body).toMatchObject({
      merchant_id: merchant.id,
      project_id: project.id,
      limit: 2,
      offset: 1,
      total: 3,
    })
    expect(page.body.products.map((p: { name: string }) => p.name)).toEqual(['N2', 'N1'])
    const all = await api(
      ctx.app,
      merchant,
      'GET',
      `/products?project_id=${project.id}&include_archived=true`,
    )
    expect(all.body.total).toBe(4)
    const theirs = await api(ctx.app, intruder, 'GET', `/products?project_id=${project.id}`)
    expect(theirs.body.total).toBe(0)
  })
})

describe('GET, PATCH and DELETE /products/:id', () => {
  it('updates name, description, SKU and replaces prices', async () => {
    const product = await createProduct(ctx.app, merchant, projectId, { description: 'old' })
    const res = await api(ctx.app, merchant, 'PATCH', `/products/${product.id}`, {
      name: 'New',
      description: null,
      sku: 'NEW-1',
      prices: [{ currency: 'EUR', amount: 990 }],
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      name: 'New',
      description: null,
      sku: 'NEW-1',
      prices: [{ currency: 'EUR', amount: 990 }],
    })
    expect((await api(ctx.app, merchant, 'GET', `/products/${product.id}`)).body).toEqual(res.body)
  })

  it('deletes an unreferenced product for good', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    expect((await api(ctx.app, merchant, 'DELETE', `/products/${product.id}`)).status).toBe(204)
    expect((await api(ctx.app, merchant, 'GET', `/products/${product.id}`)).status).toBe(404)
    const row = await ctx.database.db
      .selectFrom('products')
      .select('id')
      .where('id', '=', product.id)
      .executeTakeFirst()
    expect(row).toBeUndefined()
  })

  it('archives instead of deleting a product that a paylink refers to', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    await createPaylink(ctx.app, merchant, projectId, [product.id])
    expect((await api(ctx.app, merchant, 'DELETE', `/products/${product.id}`)).status).toBe(204)
    const after = await api(ctx.app, merchant, 'GET', `/products/${product.id}`)
    expect(after.status).toBe(200)
    expect(after.body).toMatchObject({ archived: true, archived_at: expect.any(String) })
  })

  it('treats another merchant’s product exactly like a missing one', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const missing = 'f'.repeat(24)
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'Stolen' }],
      ['DELETE', undefined],
    ] as const) {
      const theirs = await api(ctx.app, intruder, method, `/products/${product.id}`, body)
      const none = await api(ctx.app, intruder, method, `/products/${missing}`, body)
      expect(theirs.status).toBe(404)
      expect(theirs.body).toEqual({
        code: 'product_not_found',
        message: `product ${product.id} not found`,
        details: { field: 'product_id' },
      })
      expect(none.body).toEqual({ ...theirs.body, message: `product ${missing} not found` })
    }
    const mine = await api(ctx.app, merchant, 'GET', `/products/${product.id}`)
    expect(mine.body.name).toBe(product.name)
    expect(mine.body.archived).toBe(false)
  })

  it('refuses to move a product to another project', async () => {
    const product = await createProduct(ctx.app, merchant, projectId)
    const res = await api(ctx.app, merchant, 'PATCH', `/products/${product.id}`, {
      project_id: 'a'.repeat(24),
    })
    expect(res.status).toBe(400)
    expect(res.body.message).toBe('project_id: is not a known field')
  })
})
