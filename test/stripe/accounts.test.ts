// A project's payment provider through the admin API: connecting the merchant's Stripe account (its key
// checked at Stripe first), its mode, the events URL to register, switching back to the sandbox while
// older payments keep their account, and credentials that never come out again, in answers or in logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STRIPE_API_VERSION } from '../../src/lib/stripe-version.js'
import { api, createMerchant, createProject, type TestMerchant } from '../helpers/factories.js'
import {
  comeBack,
  connect,
  goToStripe,
  openOrder,
  orderOf,
  paymentOf,
  type StripeShop,
  startWorld,
  type World,
} from './world.js'

let world: World
let merchant: TestMerchant
let intruder: TestMerchant
/** Every credential a test saved: none may come back in an answer or a log line. */
const secrets: string[] = []
const answers: string[] = []

beforeAll(async () => {
  world = await startWorld()
  merchant = await createMerchant(world.services, 'Acme')
  intruder = await createMerchant(world.services, 'Intruder')
})
afterAll(() => world?.close())

async function call(method: 'GET' | 'PUT', projectId: string, body?: object, who = merchant) {
  const res = await api(world.app, who, method, `/projects/${projectId}/payment-provider`, body)
  answers.push(JSON.stringify(res.body))
  return res
}

function doubleAccount() {
  const account = world.double.createAccount()
  secrets.push(account.secretKey, account.liveSecretKey, account.restrictedKey, account.webhookSecret)
  return account
}

const storedAccount = (id: string) =>
  world.database.db.selectFrom('provider_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

const projectAccountId = async (projectId: string) =>
  (
    await world.database.db
      .selectFrom('projects')
      .select('provider_account_id')
      .where('id', '=', projectId)
      .executeTakeFirstOrThrow()
  ).provider_account_id

describe('GET /admin/api/v1/projects/:id/payment-provider', () => {
  it('answers the sandbox for a new project', async () => {
    const { id } = await createProject(world.app, merchant)
    const res = await call('GET', id)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      object: 'payment_provider',
      project_id: id,
      provider: 'sandbox',
      mode: 'test',
      livemode: false,
      account_id: null,
      external_account_id: null,
      secret_key_last4: null,
      webhook_secret_set: false,
      events_url: null,
      event_types: [],
      updated_at: null,
    })
  })

  it('answers 404 for another merchant’s project, as for an unknown one, and 401 without a key', async () => {
    const { id } = await createProject(world.app, merchant)
    for (const projectId of [id, '0'.repeat(24)]) {
      const res = await call('GET', projectId, undefined, intruder)
      expect(res.status).toBe(404)
      expect(res.body).toEqual({
        code: 'project_not_found',
        message: `project ${projectId} not found`,
        details: { field: 'project_id' },
      })
    }
    const anonymous = await world.app.inject(`/admin/api/v1/projects/${id}/payment-provider`)
    expect(anonymous.statusCode).toBe(401)
  })
})

describe('PUT /admin/api/v1/projects/:id/payment-provider', () => {
  it('checks the key at Stripe, seals the credentials, and answers the mode, the last 4 and the events URL', async () => {
    const { id } = await createProject(world.app, merchant)
    const stripe = doubleAccount()
    world.double.clearRequests()
    const res = await call('PUT', id, {
      provider: 'stripe',
      secret_key: stripe.secretKey,
      webhook_secret: stripe.webhookSecret,
    })
    expect(res.status).toBe(200)
    const accountId = res.body.account_id
    expect(res.body).toEqual({
      object: 'payment_provider',
      project_id: id,
      provider: 'stripe',
      mode: 'test',
      livemode: false,
      account_id: expect.stringMatching(/^pa_[0-9a-f]{24}$/),
      external_account_id: stripe.id,
      secret_key_last4: stripe.secretKey.slice(-4),
      webhook_secret_set: true,
      events_url: `${world.baseUrl}/providers/${accountId}/events`,
      event_types: [
        'checkout.session.completed',
        'checkout.session.async_payment_succeeded',
        'checkout.session.async_payment_failed',
        'checkout.session.expired',
        'charge.refunded',
        'refund.updated',
        'charge.dispute.created',
        'charge.dispute.closed',
        'setup_intent.succeeded',
      ],
      updated_at: expect.any(String),
    })
    expect((await call('GET', id)).body).toEqual(res.body)
    // One cheap read with the key, at the pinned API version.
    expect(world.double.requests()).toMatchObject([
      {
        method: 'GET',
        path: '/v1/account',
        apiKey: stripe.secretKey,
        stripeVersion: STRIPE_API_VERSION,
        status: 200,
      },
    ])
    const row = await storedAccount(accountId)
    expect(row).toMatchObject({
      merchant_id: merchant.id,
      provider: 'stripe',
      livemode: false,
      external_account_id: stripe.id,
      secret_key_last4: stripe.secretKey.slice(-4),
    })
    expect(row.secret_key).toMatch(/^v1\.[0-9a-f]{8}\./)
    expect(row.webhook_secret).toMatch(/^v1\.[0-9a-f]{8}\./)
    expect(JSON.stringify(row)).not.toContain(stripe.secretKey.slice(8, 40))
    expect(JSON.stringify(row)).not.toContain(stripe.webhookSecret.slice(6))
    expect(await projectAccountId(id)).toBe(accountId)
  })

  it('takes a live key as live mode, and a restricted key', async () => {
    const stripe = doubleAccount()
    const live = await createProject(world.app, merchant)
    const liveRes = await call('PUT', live.id, {
      provider: 'stripe',
      secret_key: stripe.liveSecretKey,
      webhook_secret: stripe.webhookSecret,
    })
    expect(liveRes.body).toMatchObject({ provider: 'stripe', mode: 'live', livemode: true })
    const restricted = await createProject(world.app, merchant)
    const restrictedRes = await call('PUT', restricted.id, {
      provider: 'stripe',
      secret_key: stripe.restrictedKey,
      webhook_secret: stripe.webhookSecret,
    })
    expect(restrictedRes.body).toMatchObject({
      mode: 'test',
      secret_key_last4: stripe.restrictedKey.slice(-4),
    })
    // Test and live are two accounts with their own endpoints at Stripe.
    expect(restrictedRes.body.account_id).not.toBe(liveRes.body.account_id)
  })

  it('refuses a key Stripe does not accept with a 400 naming secret_key, and saves nothing', async () => {
    const { id } = await createProject(world.app, merchant)
    const before = await world.database.db.selectFrom('provider_accounts').select('id').execute()
    const res = await call('PUT', id, {
      provider: 'stripe',
      secret_key: `sk_test_${'x'.repeat(24)}`,
      webhook_secret: 'whsec_0123456789abcdef0123456789abcdef',
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      code: 'validation_failed',
      message:
        'secret_key: Stripe does not accept this key (401 Invalid API Key); copy a current secret key from the API keys page of the Stripe dashboard',
      details: { field: 'secret_key', rule: 'rejected' },
    })
    expect(await world.database.db.selectFrom('provider_accounts').select('id').execute()).toEqual(before)
    expect(await projectAccountId(id)).toBeNull()
    expect((await call('GET', id)).body.provider).toBe('sandbox')
  })

  it('answers 503 and saves nothing when Stripe cannot be reached to check the key', async () => {
    const { id } = await createProject(world.app, merchant)
    const stripe = doubleAccount()
    world.double.addFault({ kind: 'error', path: '/v1/account', times: 1 })
    const res = await call('PUT', id, {
      provider: 'stripe',
      secret_key: stripe.secretKey,
      webhook_secret: stripe.webhookSecret,
    })
    expect(res.status).toBe(503)
    expect(res.body).toEqual({
      code: 'service_unavailable',
      message:
        'secret_key: Stripe could not be reached to check the key; nothing was saved. Try again in a moment.',
      details: { field: 'secret_key', rule: 'unchecked' },
    })
    expect(await projectAccountId(id)).toBeNull()
  })

  it.each([
    [
      {
        provider: 'stripe',
        secret_key: 'pk_test_0123456789abcdef',
        webhook_secret: 'whsec_0123456789abcdef',
      },
      'secret_key: must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_test_…, rk_live_…), not a publishable key',
      { field: 'secret_key', rule: 'pattern', location: 'body' },
    ],
    [
      { provider: 'stripe', secret_key: 'sk_test_0123456789abcdef', webhook_secret: 'secret' },
      'webhook_secret: must be the signing secret of a Stripe webhook endpoint (whsec_…)',
      { field: 'webhook_secret', rule: 'pattern', location: 'body' },
    ],
    [
      { provider: 'paypal' },
      'provider: must be one of sandbox, stripe',
      { field: 'provider', rule: 'enum', location: 'body' },
    ],
    [{}, 'provider: is required', { field: 'provider', rule: 'required', location: 'body' }],
    [
      { provider: 'sandbox', api_key: 'x' },
      'api_key: is not a known field',
      { field: 'api_key', rule: 'unknown', location: 'body' },
    ],
    [
      { provider: 'sandbox', secret_key: 'sk_test_0123456789abcdef' },
      'secret_key: is only taken with provider stripe',
      { field: 'secret_key', rule: 'unknown' },
    ],
    [
      { provider: 'stripe', webhook_secret: 'whsec_0123456789abcdef' },
      'secret_key: is required with provider stripe',
      { field: 'secret_key', rule: 'required' },
    ],
  ])('refuses %j with a 400 naming the field and the rule', async (body, message, details) => {
    const { id } = await createProject(world.app, merchant)
    world.double.clearRequests()
    const res = await call('PUT', id, body)
    expect(res.status).toBe(400)
    expect(res.body).toEqual({ code: 'validation_failed', message, details })
    expect(world.double.requests()).toEqual([])
    expect(await projectAccountId(id)).toBeNull()
  })

  it('answers 404 for another merchant’s project and changes nothing there', async () => {
    const { id } = await createProject(world.app, merchant)
    const stripe = doubleAccount()
    const res = await call(
      'PUT',
      id,
      { provider: 'stripe', secret_key: stripe.secretKey, webhook_secret: stripe.webhookSecret },
      intruder,
    )
    expect(res.status).toBe(404)
    expect(res.body).toEqual({
      code: 'project_not_found',
      message: `project ${id} not found`,
      details: { field: 'project_id' },
    })
    expect(await projectAccountId(id)).toBeNull()
    expect(await call('PUT', id, { provider: 'sandbox' }, intruder)).toMatchObject({ status: 404 })
  })

  it('keeps one account per Stripe account: a rolled key updates it, so its events URL stays', async () => {
    const stripe = doubleAccount()
    const first = await createProject(world.app, merchant)
    const second = await createProject(world.app, merchant)
    const a = await call('PUT', first.id, {
      provider: 'stripe',
      secret_key: stripe.secretKey,
      webhook_secret: stripe.webhookSecret,
    })
    const b = await call('PUT', second.id, {
      provider: 'stripe',
      secret_key: stripe.restrictedKey,
      webhook_secret: stripe.webhookSecret,
    })
    expect(b.body.account_id).toBe(a.body.account_id)
    expect(b.body.events_url).toBe(a.body.events_url)
    // Both projects show the key saved last.
    expect((await call('GET', first.id)).body.secret_key_last4).toBe(stripe.restrictedKey.slice(-4))
  })

  it('takes the signing secret after the key, once the events URL is known', async () => {
    const stripe = doubleAccount()
    const { id } = await createProject(world.app, merchant)
    const keyOnly = await call('PUT', id, { provider: 'stripe', secret_key: stripe.secretKey })
    expect(keyOnly.body).toMatchObject({ provider: 'stripe', webhook_secret_set: false })
    // Until the secret is saved an event cannot be verified: refused, and Stripe sends it again later.
    const early = await world.app.inject({
      method: 'POST',
      url: `/providers/${keyOnly.body.account_id}/events`,
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      payload: '{}',
    })
    expect(early.statusCode).toBe(400)
    expect(early.json()).toEqual({ code: 'invalid_signature', message: 'the account has no signing secret' })
    const secret = await call('PUT', id, { provider: 'stripe', webhook_secret: stripe.webhookSecret })
    expect(secret.body).toMatchObject({ account_id: keyOnly.body.account_id, webhook_secret_set: true })
    // A new key without a secret keeps the saved one.
    const again = await call('PUT', id, { provider: 'stripe', secret_key: stripe.restrictedKey })
    expect(again.body).toMatchObject({
      webhook_secret_set: true,
      secret_key_last4: stripe.restrictedKey.slice(-4),
    })
  })
})

describe('switching a project’s provider', () => {
  it('sends new payments to the sandbox while a Stripe payment made before keeps its account for refunds and events', async () => {
    const { id: projectId } = await createProject(world.app, merchant)
    const stripe = doubleAccount()
    const accountId = await connect(world, merchant, projectId, stripe)
    const shop: StripeShop = { merchant, projectId, stripe, accountId }
    const orderId = await openOrder(world, shop)
    const checkout = await goToStripe(world, orderId)
    const paid = world.double.pay(checkout.sessionId as string) as { redirect: string }
    await comeBack(world, paid.redirect, checkout.cookie)
    await world.double.eventsSettled()

    const switched = await call('PUT', projectId, { provider: 'sandbox' })
    expect(switched.body).toMatchObject({ provider: 'sandbox', account_id: null })
    const next = await openOrder(world, shop)
    const sandbox = await goToStripe(world, next)
    expect(sandbox.res.headers.location).toContain(`${world.baseUrl}/sandbox/checkout/`)

    // The old payment is refunded through Stripe, and Stripe's own refund of it arrives by its events URL.
    const refund = await api(world.app, merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 500 })
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 500 })
    const intent = (await paymentOf(world, orderId)).provider_payment_id as string
    world.double.refundFromDashboard({ paymentIntent: intent, amount: 300 })
    await world.double.eventsSettled()
    expect(await orderOf(world, shop, orderId)).toMatchObject({
      status: 'partially_refunded',
      amount_refunded: 800,
      livemode: false,
    })
  })
})

describe('credentials', () => {
  it('never appear in an API answer or in a log line', async () => {
    await world.double.eventsSettled()
    const openapi = await world.app.inject('/openapi.json')
    expect(Object.keys(openapi.json().paths['/admin/api/v1/projects/{project_id}/payment-provider'])).toEqual(
      ['get', 'put'],
    )
    expect(secrets.length).toBeGreaterThan(10)
    expect(world.logs.length).toBeGreaterThan(10)
    const logs = world.logs.join('\n')
    for (const secret of secrets) {
      const tail = secret.slice(-24)
      for (const answer of answers) expect(answer).not.toContain(tail)
      expect(logs).not.toContain(tail)
    }
  })
})
