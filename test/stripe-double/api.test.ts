// The Stripe double's API layer: keys and modes, Stripe-Version, form bodies, unknown URLs, the request log
// and Idempotency-Key as Stripe honours it, through the official client and on the raw wire.
import Stripe from 'stripe'
import { describe, expect } from 'vitest'
import { STRIPE_API_VERSION } from '../../src/lib/stripe-version.js'
import { clientFor, errorOf, lineItems, paymentSession, raw, test } from './fixtures.js'

describe('authentication', () => {
  test('answers 401 with Stripe’s body for a missing key', async ({ double }) => {
    const answer = await raw(double, 'GET', '/v1/account')
    expect(answer.status).toBe(401)
    expect(errorOf(answer)).toEqual({
      type: 'invalid_request_error',
      message: expect.stringMatching(
        /^You did not provide an API key\. You need to provide your API key in the Authorization header, using Bearer auth/,
      ),
    })
  })

  test('answers 401 naming the unknown key with its middle hidden', async ({ double, account }) => {
    const wrong = `sk_test_${'x'.repeat(20)}abcd`
    await expect(clientFor(double, wrong).accounts.retrieveCurrent()).rejects.toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
      message: `Invalid API Key provided: sk_test_${'*'.repeat(20)}abcd`,
    })
    const answer = await raw(double, 'GET', '/v1/account', { key: wrong })
    expect(errorOf(answer)).toEqual({
      type: 'invalid_request_error',
      message: `Invalid API Key provided: sk_test_${'*'.repeat(20)}abcd`,
    })
    expect(double.requests()[1]).toMatchObject({ status: 401, account: null, apiKey: wrong })
    expect(account.id).toMatch(/^acct_/)
  })

  test('refuses a publishable key and a revoked one', async ({ double, account }) => {
    await expect(clientFor(double, 'pk_test_abcdefghijkl').accounts.retrieveCurrent()).rejects.toMatchObject({
      statusCode: 401,
      message: 'Invalid API Key provided: pk_test_********ijkl',
    })
    double.revokeKey(account.secretKey)
    await expect(clientFor(double, account.secretKey).accounts.retrieveCurrent()).rejects.toMatchObject({
      statusCode: 401,
    })
  })

  test('takes secret and restricted keys, as Bearer or Basic auth, and retrieves the account', async ({
    double,
    account,
  }) => {
    for (const key of [account.secretKey, account.restrictedKey]) {
      const retrieved = await clientFor(double, key).accounts.retrieveCurrent()
      expect(retrieved).toMatchObject({
        id: account.id,
        object: 'account',
        charges_enabled: true,
        country: 'US',
        default_currency: 'usd',
      })
    }
    const basic = await raw(double, 'GET', '/v1/account', {
      headers: { authorization: `Basic ${Buffer.from(`${account.secretKey}:`).toString('base64')}` },
    })
    expect(basic.status).toBe(200)
    expect(basic.body.id).toBe(account.id)
  })

  test('lets the key decide the mode, and keeps test and live objects apart', async ({
    double,
    account,
    stripe,
  }) => {
    const live = clientFor(double, account.liveSecretKey)
    const liveSession = await paymentSession(live)
    expect(liveSession.id).toMatch(/^cs_live_/)
    expect(liveSession.livemode).toBe(true)
    const testSession = await paymentSession(stripe)
    expect(testSession.id).toMatch(/^cs_test_/)
    expect(testSession.livemode).toBe(false)
    await expect(live.checkout.sessions.retrieve(testSession.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 404,
      code: 'resource_missing',
      param: 'session',
      message: `No such checkout.session: '${testSession.id}'; a similar object exists in test mode, but a live mode key was used to make this request.`,
    })
  })

  test('keeps accounts apart: another account’s object does not exist', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    const other = clientFor(double, double.createAccount().secretKey)
    await expect(other.checkout.sessions.retrieve(session.id)).rejects.toMatchObject({
      statusCode: 404,
      message: `No such checkout.session: '${session.id}'`,
    })
  })
})

describe('protocol', () => {
  test('pins the stripe package’s API version in one place and uses it for accounts and events', async ({
    double,
    account,
  }) => {
    expect(STRIPE_API_VERSION).toBe(Stripe.API_VERSION)
    const answer = await raw(double, 'GET', '/v1/account', { key: account.secretKey })
    expect(answer.headers.get('stripe-version')).toBe(STRIPE_API_VERSION)
    expect(answer.headers.get('request-id')).toMatch(/^req_/)
  })

  test('accepts a Stripe-Version header, echoes it and refuses a malformed one', async ({
    double,
    account,
  }) => {
    const older = await raw(double, 'GET', '/v1/account', {
      key: account.secretKey,
      headers: { 'stripe-version': '2025-03-31.basil' },
    })
    expect(older.status).toBe(200)
    expect(older.headers.get('stripe-version')).toBe('2025-03-31.basil')
    const bad = await raw(double, 'GET', '/v1/account', {
      key: account.secretKey,
      headers: { 'stripe-version': 'yesterday' },
    })
    expect(bad.status).toBe(400)
    expect(errorOf(bad)).toEqual({
      type: 'invalid_request_error',
      message: 'Invalid Stripe API version: yesterday',
    })
  })

  test('answers an unknown URL as Stripe does', async ({ double, account }) => {
    const answer = await raw(double, 'GET', '/v1/customers/cus_1', { key: account.secretKey })
    expect(answer.status).toBe(404)
    expect(errorOf(answer)).toEqual({
      type: 'invalid_request_error',
      message:
        'Unrecognized request URL (GET: /v1/customers/cus_1). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.',
    })
  })

  test('refuses a body that is not form-encoded', async ({ double, account }) => {
    const answer = await fetch(`${double.url}/v1/refunds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.secretKey}`, 'content-type': 'application/json' },
      body: '{"payment_intent":"pi_1"}',
    })
    expect(answer.status).toBe(400)
    expect((await answer.json()).error).toMatchObject({
      type: 'invalid_request_error',
      message:
        'Invalid request: unsupported Content-Type application/json. If error persists and you need assistance, please contact support@stripe.com.',
    })
  })

  test('logs each request with its parsed params, idempotency key and version', async ({
    double,
    account,
    stripe,
  }) => {
    const session = await paymentSession(stripe, { expand: ['line_items'] }, { idempotencyKey: 'pay_1' })
    await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] })
    const [create, retrieve] = double.requests({ account: account.id })
    expect(create).toMatchObject({
      method: 'POST',
      path: '/v1/checkout/sessions',
      account: account.id,
      livemode: false,
      apiKey: account.secretKey,
      stripeVersion: STRIPE_API_VERSION,
      idempotencyKey: 'pay_1',
      status: 200,
      idempotentReplayed: false,
      params: {
        mode: 'payment',
        customer_email: 'buyer@example.com',
        client_reference_id: 'ord_1',
        metadata: { order_id: 'ord_1', payment_id: 'pay_1' },
        line_items: [
          {
            quantity: '2',
            price_data: { currency: 'usd', unit_amount: '1500', product_data: { name: 'Sword' } },
          },
          {
            quantity: '1',
            price_data: { currency: 'usd', unit_amount: '500', product_data: { name: 'Shield & helmet' } },
          },
        ],
        expand: ['line_items'],
      },
    })
    expect(create?.rawBody).toContain('line_items[0][price_data][product_data][name]=Sword')
    expect(create?.headers['user-agent']).toMatch(/^Stripe\/v1 NodeBindings\//)
    expect(retrieve).toMatchObject({
      method: 'GET',
      path: `/v1/checkout/sessions/${session.id}`,
      params: { expand: ['payment_intent'] },
      idempotencyKey: null,
    })
  })
})

describe('Idempotency-Key', () => {
  test('replays the stored answer for the same key and parameters', async ({ double, stripe }) => {
    const first = await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    const again = await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    expect(again.id).toBe(first.id)
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true')
    expect(again.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId)
    expect(double.sessions()).toHaveLength(1)
    expect(double.requests().map((r) => r.idempotentReplayed)).toEqual([false, true])
  })

  test('refuses the same key with other parameters or on another endpoint', async ({ double, stripe }) => {
    await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    await expect(
      paymentSession(stripe, { line_items: lineItems('eur') }, { idempotencyKey: 'pay_1' }),
    ).rejects.toMatchObject({
      type: 'StripeIdempotencyError',
      statusCode: 400,
      message:
        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'pay_1' if you meant to execute a different request.",
    })
    await expect(
      stripe.refunds.create({ payment_intent: 'pi_1' }, { idempotencyKey: 'pay_1' }),
    ).rejects.toMatchObject({
      type: 'StripeIdempotencyError',
      rawType: 'idempotency_error',
      message:
        "Keys for idempotent requests can only be used for the same endpoint they were first used for ('POST /v1/checkout/sessions' vs 'POST /v1/refunds'). Try using a key other than 'pay_1' if you meant to execute a different request.",
    })
    expect(double.sessions()).toHaveLength(1)
  })

  test('keeps no answer for refused parameters, so a corrected retry may use the key', async ({
    double,
    stripe,
  }) => {
    await expect(
      paymentSession(stripe, { mode: undefined }, { idempotencyKey: 'pay_1' }),
    ).rejects.toMatchObject({
      param: 'mode',
    })
    const session = await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    expect(session.lastResponse.headers['idempotent-replayed']).toBeUndefined()
    expect(double.sessions().map((s) => s.id)).toEqual([session.id])
  })

  test('scopes keys to the account and the mode', async ({ double, account, stripe }) => {
    const test = await paymentSession(stripe, {}, { idempotencyKey: 'k' })
    const live = await paymentSession(clientFor(double, account.liveSecretKey), {}, { idempotencyKey: 'k' })
    const other = await paymentSession(
      clientFor(double, double.createAccount().secretKey),
      {},
      { idempotencyKey: 'k' },
    )
    expect(new Set([test.id, live.id, other.id]).size).toBe(3)
  })
})
