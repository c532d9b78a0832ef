import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashKey } from '../../src/modules/merchants/keys.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { api, createMerchant, type TestMerchant } from '../helpers/factories.js'

let ctx: TestContext
let merchant: TestMerchant
beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
})
afterAll(() => ctx.close())

async function get(authorization?: string) {
  const res = await ctx.app.inject({
    method: 'GET',
    url: '/admin/api/v1/projects',
    headers: authorization === undefined ? {} : { authorization },
  })
  return { status: res.statusCode, body: res.json() }
}

describe('admin API authentication', () => {
  it('accepts a valid secret key', async () => {
    expect((await get(`Bearer ${merchant.key}`)).status).toBe(200)
    expect((await get(`bearer   ${merchant.key}`)).status).toBe(200)
  })

  it.each([
    ['no Authorization header', undefined, 'missing API key: send Authorization: Bearer <secret key>'],
    ['an empty header', '', 'missing API key: send Authorization: Bearer <secret key>'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'malformed Authorization header: expected Bearer <secret key>'],
    [
      'a bare key without Bearer',
      'pl_sk_0123',
      'malformed Authorization header: expected Bearer <secret key>',
    ],
    ['Bearer and nothing', 'Bearer ', 'malformed Authorization header: expected Bearer <secret key>'],
    ['a key of the wrong shape', 'Bearer sk-123', 'invalid or revoked API key'],
    ['an unknown key', `Bearer pl_sk_${'0'.repeat(48)}`, 'invalid or revoked API key'],
  ])('answers 401 for %s', async (_case, header, message) => {
    const res = await get(header)
    expect(res).toEqual({ status: 401, body: { code: 'unauthorized', message } })
  })

  it('stores only the SHA-256 of the key and records its last use', async () => {
    const row = await ctx.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('merchant_id', '=', merchant.id)
      .executeTakeFirstOrThrow()
    expect(row.key_hash).toBe(hashKey(merchant.key))
    expect(JSON.stringify(row)).not.toContain(merchant.key)
    expect(row.last_used_at).not.toBeNull()
  })

  it('answers 401 once a key is revoked, and other keys keep working', async () => {
    const other = await api(ctx.app, merchant, 'POST', '/api-keys')
    expect(other.status).toBe(201)
    expect(other.body.api_key).toMatch(/^pl_sk_[0-9a-f]{48}$/)
    const second = {
      ...merchant,
      key: other.body.api_key,
      headers: { authorization: `Bearer ${other.body.api_key}` },
    }
    expect((await api(ctx.app, second, 'GET', '/merchant')).status).toBe(200)

    const revoked = await api(ctx.app, merchant, 'DELETE', `/api-keys/${other.body.key.id}`)
    expect(revoked.status).toBe(200)
    expect(revoked.body.revoked_at).toEqual(expect.any(String))
    expect(await get(`Bearer ${other.body.api_key}`)).toEqual({
      status: 401,
      body: { code: 'unauthorized', message: 'invalid or revoked API key' },
    })
    expect((await get(`Bearer ${merchant.key}`)).status).toBe(200)
  })
})

describe('GET /merchant and /api-keys', () => {
  it('shows the merchant and its keys without any secret', async () => {
    const me = await api(ctx.app, merchant, 'GET', '/merchant')
    expect(me.body).toEqual({
      id: merchant.id,
      object: 'merchant',
      name: expect.any(String),
      email: null,
      created_at: expect.any(String),
    })
    const keys = await api(ctx.app, merchant, 'GET', '/api-keys')
    expect(keys.status).toBe(200)
    expect(keys.body.total).toBe(keys.body.api_keys.length)
    expect(JSON.stringify(keys.body)).not.toContain(merchant.key)
    expect(keys.body.api_keys.map((k: { prefix: string }) => k.prefix)).toContain(merchant.key.slice(0, 12))
  })

  it('does not let another merchant revoke a key: 404 like a missing one', async () => {
    const intruder = await createMerchant(ctx.services)
    const keys = await api(ctx.app, merchant, 'GET', '/api-keys')
    const keyId = keys.body.api_keys[0].id
    const res = await api(ctx.app, intruder, 'DELETE', `/api-keys/${keyId}`)
    const missing = await api(ctx.app, intruder, 'DELETE', '/api-keys/key_000000000000000000000000')
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ code: 'api_key_not_found', message: `api key ${keyId} not found` })
    expect(missing.body).toEqual({
      code: 'api_key_not_found',
      message: 'api key key_000000000000000000000000 not found',
    })
    expect((await get(`Bearer ${merchant.key}`)).status).toBe(200)
  })
})
