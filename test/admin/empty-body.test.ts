// curl sends `Content-Type: application/json` with no body when a command keeps the header for every call
// (as the README's `auth=(…)` does): an empty body with a JSON content type is no body, not bad JSON.
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
let projectId: string
let productId: string
beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  productId = (await createProduct(ctx.app, merchant, projectId)).id
})
afterAll(() => ctx.close())

/** A request as curl sends it with `-H "Content-Type: application/json"` and no `-d`. */
function bodiless(method: 'DELETE' | 'POST', url: string, contentType = 'application/json') {
  return ctx.app.inject({
    method,
    url: `/admin/api/v1${url}`,
    headers: { ...merchant.headers, 'content-type': contentType },
  })
}

describe('an empty body with a JSON content type', () => {
  it('DELETE /paylinks/:id answers 204 and deletes the link', async () => {
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    const res = await bodiless('DELETE', `/paylinks/${link.id}`)
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    const row = await ctx.database.db
      .selectFrom('paylinks')
      .select('deleted_at')
      .where('id', '=', link.id)
      .executeTakeFirstOrThrow()
    expect(row.deleted_at).not.toBeNull()
    expect((await api(ctx.app, merchant, 'GET', `/paylinks/${link.id}`)).status).toBe(404)
  })

  it('POST /portals/:id/keys answers 201 with a new key, stored as a hash', async () => {
    const portal = await api(ctx.app, merchant, 'POST', '/portals', { project_id: projectId, name: 'acme' })
    expect(portal.status).toBe(201)
    const res = await bodiless('POST', `/portals/${portal.body.id}/keys`, 'application/json; charset=utf-8')
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body).toMatchObject({ id: expect.any(String), key: expect.stringMatching(/^sk-[0-9a-f]{64}$/) })
    const stored = await ctx.database.db
      .selectFrom('portal_keys')
      .select(['id', 'portal_id', 'revoked_at'])
      .where('portal_id', '=', portal.body.id)
      .execute()
    expect(stored).toEqual([{ id: body.id, portal_id: portal.body.id, revoked_at: null }])
  })

  it('POST /webhooks/:id/rotate-secret answers 200 with a new secret and keeps the previous one', async () => {
    const created = await api(ctx.app, merchant, 'POST', '/webhooks', {
      url: 'https://93.184.215.14/hooks',
      events: ['order.paid'],
    })
    expect(created.status).toBe(201)
    const res = await bodiless('POST', `/webhooks/${created.body.id}/rotate-secret`)
    expect(res.statusCode).toBe(200)
    const rotated = res.json()
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(created.body.secret)
    const row = await ctx.database.db
      .selectFrom('webhook_endpoints')
      .select(['secret', 'previous_secret'])
      .where('id', '=', created.body.id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ secret: rotated.secret, previous_secret: created.body.secret })
  })

  it('is still a missing body on a route that needs one, named like any other', async () => {
    const before = await ctx.database.db.selectFrom('projects').select('id').execute()
    const res = await bodiless('POST', '/projects')
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({
      code: 'validation_failed',
      message: 'body: must be an object',
      details: { field: 'body', rule: 'type', location: 'body' },
    })
    expect(await ctx.database.db.selectFrom('projects').select('id').execute()).toEqual(before)
  })

  it('a body of bad JSON or only whitespace is still invalid_body', async () => {
    for (const payload of ['{"name":', 'nope', '  ']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/admin/api/v1/projects',
        headers: { ...merchant.headers, 'content-type': 'application/json' },
        payload,
      })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({
        code: 'invalid_body',
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      })
    }
  })
})
