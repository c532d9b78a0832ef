// Fault injection: Stripe answering 500, hanging until the client gives up (with or without having done
// the work), refusing with a 402 card error or a 401, scoped to an account, a method and a path.
import { describe, expect } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { clientFor, paymentSession, test } from './fixtures.js'

describe('faults', () => {
  test('answers 500 without doing anything; a retry with the same key then succeeds', async ({
    double,
    stripe,
  }) => {
    const fault = double.addFault({ kind: 'error', path: '/v1/checkout/sessions', times: 1 })
    await expect(paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })).rejects.toMatchObject({
      type: 'StripeAPIError',
      statusCode: 500,
      message: 'An unknown error occurred',
    })
    expect(double.sessions()).toEqual([])
    const session = await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    expect(session.lastResponse.headers['idempotent-replayed']).toBeUndefined()
    expect(double.requests().map((r) => [r.status, r.fault, r.idempotencyKey])).toEqual([
      [500, `${fault.id}:error`, 'pay_1'],
      [200, null, 'pay_1'],
    ])
    expect(double.faults()).toEqual([])
  })

  test('lets the client’s own retries ride over a 503, with one idempotency key', async ({
    double,
    account,
  }) => {
    double.addFault({ kind: 'error', status: 503, method: 'POST', times: 2 })
    const retrying = clientFor(double, account.secretKey, { maxNetworkRetries: 2 })
    const session = await paymentSession(retrying)
    const keys = double.requests().map((r) => r.idempotencyKey)
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toMatch(/^stripe-node-retry-/)
    expect(double.sessions().map((s) => s.id)).toEqual([session.id])
  })

  test('hangs until the client times out, having done nothing', async ({ double, account }) => {
    double.addFault({ kind: 'hang', path: '/v1/checkout/sessions' })
    const impatient = clientFor(double, account.secretKey, { timeout: 300 })
    await expect(paymentSession(impatient, {}, { idempotencyKey: 'pay_1' })).rejects.toMatchObject({
      type: 'StripeConnectionError',
    })
    expect(double.sessions()).toEqual([])
    expect(double.requests()).toMatchObject([
      { path: '/v1/checkout/sessions', status: null, fault: expect.stringMatching(/:hang$/) },
    ])
  })

  test('drops hung connections on demand; the client retries a closed connection with the same key', async ({
    double,
    stripe,
  }) => {
    double.addFault({ kind: 'hang', path: '/v1/checkout/sessions', times: 1 })
    const pending = paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    await waitFor(() => double.requests().length === 1, 'the hung request')
    expect(double.releaseHung()).toBe(1)
    const session = await pending
    expect(double.requests().map((r) => [r.status, r.idempotencyKey])).toEqual([
      [null, 'pay_1'],
      [200, 'pay_1'],
    ])
    expect(double.sessions().map((s) => s.id)).toEqual([session.id])
  })

  test('hangs after doing the work: a retry with the same key gets the one session', async ({
    double,
    account,
    stripe,
  }) => {
    double.addFault({ kind: 'hang', execute: true, path: '/v1/checkout/sessions', times: 1 })
    const impatient = clientFor(double, account.secretKey, { timeout: 300 })
    await expect(paymentSession(impatient, {}, { idempotencyKey: 'pay_1' })).rejects.toMatchObject({
      type: 'StripeConnectionError',
    })
    expect(double.sessions()).toHaveLength(1)
    const retried = await paymentSession(stripe, {}, { idempotencyKey: 'pay_1' })
    expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true')
    expect(double.sessions().map((s) => s.id)).toEqual([retried.id])
  })

  test('refuses with a 402 card error', async ({ double, stripe }) => {
    double.addFault({
      kind: 'card_error',
      path: '/v1/refunds',
      decline: {
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        message: 'Your card has insufficient funds.',
      },
    })
    await expect(stripe.refunds.create({ payment_intent: 'pi_1' })).rejects.toMatchObject({
      type: 'StripeCardError',
      statusCode: 402,
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    })
  })

  test('refuses a valid key with 401, for one account only', async ({ double, account, stripe }) => {
    double.addFault({ kind: 'unauthorized', account: account.id })
    await expect(stripe.accounts.retrieveCurrent()).rejects.toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
      message: expect.stringMatching(/^Invalid API Key provided: sk_test_\*+/),
    })
    const other = double.createAccount()
    await expect(clientFor(double, other.secretKey).accounts.retrieveCurrent()).resolves.toMatchObject({
      id: other.id,
    })
    double.clearFaults()
    await expect(stripe.accounts.retrieveCurrent()).resolves.toMatchObject({ id: account.id })
  })

  test('matches paths with * within a segment, and answers 429 for rate limits', async ({
    double,
    stripe,
  }) => {
    const session = await paymentSession(stripe)
    double.addFault({ kind: 'rate_limit', path: '/v1/checkout/sessions/*/expire' })
    await expect(stripe.checkout.sessions.retrieve(session.id)).resolves.toMatchObject({ id: session.id })
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({
      type: 'StripeRateLimitError',
      statusCode: 429,
    })
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open')
  })
})
