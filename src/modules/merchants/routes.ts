// The signed-in merchant and its API keys.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, IsoDateTime, ObjectId } from '../../lib/http.js'
import type { ApiKeyRow, Merchant } from '../../lib/schema.js'
import type { Services } from '../../services.js'

const tags = ['merchant']

const MerchantView = Type.Object({
  id: ObjectId(),
  object: Type.Literal('merchant'),
  name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  created_at: IsoDateTime,
})

const ApiKeyView = Type.Object({
  id: Type.String(),
  object: Type.Literal('api_key'),
  prefix: Type.String({ description: 'The first characters of the secret' }),
  created_at: IsoDateTime,
  last_used_at: Type.Union([IsoDateTime, Type.Null()]),
  revoked_at: Type.Union([IsoDateTime, Type.Null()]),
})

function merchantView(m: Merchant) {
  return {
    id: m.id,
    object: 'merchant' as const,
    name: m.name,
    email: m.email,
    created_at: m.created_at.toISOString(),
  }
}

function keyView(k: ApiKeyRow) {
  return {
    id: k.id,
    object: 'api_key' as const,
    prefix: k.prefix,
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
    revoked_at: k.revoked_at?.toISOString() ?? null,
  }
}

export const merchantRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { merchants } = services

  app.get(
    '/merchant',
    {
      schema: {
        tags,
        summary: 'The merchant the key belongs to',
        response: { 200: MerchantView, ...errors(401) },
      },
    },
    async (request) => merchantView(await merchants.getMerchant(request.merchantId)),
  )

  app.get(
    '/api-keys',
    {
      schema: {
        tags,
        summary: 'List API keys',
        response: {
          200: Type.Object({ total: Type.Integer(), api_keys: Type.Array(ApiKeyView) }),
          ...errors(401),
        },
      },
    },
    async (request) => {
      const keys = await merchants.listKeys(request.merchantId)
      return { total: keys.length, api_keys: keys.map(keyView) }
    },
  )

  app.post(
    '/api-keys',
    {
      schema: {
        tags,
        summary: 'Create an API key',
        description: 'The secret is in this answer only; it is stored as a hash and cannot be shown again.',
        response: {
          201: Type.Object({ api_key: Type.String(), key: ApiKeyView }),
          ...errors(401),
        },
      },
    },
    async (request, reply) => {
      const created = await merchants.createKey(request.merchantId)
      return reply.status(201).send({ api_key: created.secret, key: keyView(created.key) })
    },
  )

  app.delete(
    '/api-keys/:key_id',
    {
      schema: {
        tags,
        summary: 'Revoke an API key',
        params: Type.Object({ key_id: Type.String({ maxLength: 64 }) }),
        response: { 200: ApiKeyView, ...errors(401, 404) },
      },
    },
    async (request) => keyView(await merchants.revokeKey(request.params.key_id, request.merchantId)),
  )
}
