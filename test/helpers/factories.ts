// Factories that create objects through the public API, as a client would.
import type { FastifyInstance } from 'fastify'
import { newPrefixedId } from '../../src/lib/ids.js'
import { newWebhookSecret } from '../../src/modules/webhooks/dispatcher.js'
import type { Services } from '../../src/services.js'

export interface TestMerchant {
  id: string
  key: string
  headers: { authorization: string }
}

let counter = 0

export async function createMerchant(
  services: Services,
  name = `Merchant ${++counter}`,
): Promise<TestMerchant> {
  const { merchant, secret } = await services.merchants.createMerchant({ name })
  return { id: merchant.id, key: secret, headers: { authorization: `Bearer ${secret}` } }
}

/**
 * Subscribes the merchant to every event, so that its events are written to the outbox (an event no
 * endpoint subscribes to is not). The endpoint is written as the API writes one, less its address check,
 * which resolves names and refuses private addresses: no address here is both public and resolvable,
 * and nothing is sent to it (no dispatcher runs in process).
 */
export async function listenToEverything(
  services: Services,
  merchantId: string,
  events: string[] = ['*'],
): Promise<void> {
  const now = services.clock.now()
  await services.database.db
    .insertInto('webhook_endpoints')
    .values({
      id: newPrefixedId('we'),
      merchant_id: merchantId,
      url: 'https://hooks.invalid/everything',
      description: 'the tests listen to every event',
      events,
      secret: newWebhookSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
      disabled_reason: null,
      created_at: now,
      updated_at: now,
    })
    .execute()
}

type Json = Record<string, unknown>

export async function api(
  app: FastifyInstance,
  merchant: TestMerchant | undefined,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
) {
  const response = await app.inject({
    method,
    url: url.startsWith('/') && !url.startsWith('/admin') ? `/admin/api/v1${url}` : url,
    headers: merchant?.headers ?? {},
    ...(payload !== undefined ? { payload: payload as Json } : {}),
  })
  const body = response.body ? (JSON.parse(response.body) as Json) : undefined
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert them whole.
  return { status: response.statusCode, body: body as any, headers: response.headers }
}

export async function createProject(app: FastifyInstance, merchant: TestMerchant, overrides: Json = {}) {
  const res = await api(app, merchant, 'POST', '/projects', {
    name: 'Test project',
    default_currency: 'USD',
    ...overrides,
  })
  if (res.status !== 201) throw new Error(`createProject: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as { id: string; default_currency: string; name: string }
}

export async function createProduct(
  app: FastifyInstance,
  merchant: TestMerchant,
  projectId: string,
  overrides: Json = {},
) {
  const res = await api(app, merchant, 'POST', '/products', {
    project_id: projectId,
    name: `Product ${++counter}`,
    prices: [{ currency: 'USD', amount: 1999 }],
    ...overrides,
  })
  if (res.status !== 201) throw new Error(`createProduct: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as {
    id: string
    name: string
    sku: string | null
    prices: { currency: string; amount: number }[]
  }
}

export async function createPaylink(
  app: FastifyInstance,
  merchant: TestMerchant,
  projectId: string,
  productIds: string[],
  overrides: Json = {},
) {
  const res = await api(app, merchant, 'POST', '/paylinks', {
    project_id: projectId,
    products: productIds,
    life_days: 7,
    ...overrides,
  })
  if (res.status !== 200) throw new Error(`createPaylink: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as { id: string; products: string[]; expires_at: { seconds: number; nanos: number } }
}
