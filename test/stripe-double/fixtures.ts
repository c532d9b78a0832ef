// Fixtures of the Stripe double's own tests: a fresh double per test, an account whose events go to a
// local receiver, and the official `stripe` client pointed at the double (which proves its answers parse).
import Stripe from 'stripe'
import { test as base } from 'vitest'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
import { type DoubleAccount, type StripeDouble, startStripeDouble } from './index.js'

export function clientFor(double: StripeDouble, key: string, options: Stripe.StripeConfig = {}): Stripe {
  // No automatic retries unless a test asks for them: each request the test makes is one the double sees.
  return new Stripe(key, { ...double.clientOptions(), maxNetworkRetries: 0, ...options })
}

export const test = base.extend<{
  double: StripeDouble
  receiver: Receiver
  account: DoubleAccount
  stripe: Stripe
}>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  double: async ({}, use) => {
    const double = await startStripeDouble()
    await use(double)
    await double.close()
  },
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  receiver: async ({}, use) => {
    const receiver = await startReceiver()
    await use(receiver)
    await receiver.close()
  },
  account: async ({ double, receiver }, use) => {
    await use(double.createAccount({ webhookUrl: receiver.url }))
  },
  stripe: async ({ double, account }, use) => {
    await use(clientFor(double, account.secretKey))
  },
})

export const SUCCESS_URL = 'https://shop.example.com/pay/ord_1/return?session={CHECKOUT_SESSION_ID}'
export const CANCEL_URL = 'https://shop.example.com/pay/ord_1?canceled=1'

/** Two items, 2 × 1500 + 1 × 500 in minor units of the currency given. */
export function lineItems(currency = 'usd'): Stripe.Checkout.SessionCreateParams.LineItem[] {
  return [
    { quantity: 2, price_data: { currency, unit_amount: 1500, product_data: { name: 'Sword' } } },
    { quantity: 1, price_data: { currency, unit_amount: 500, product_data: { name: 'Shield & helmet' } } },
  ]
}

/** A `payment` session as a Checkout integration creates one (3500 USD cents unless overridden). */
export function paymentSession(
  stripe: Stripe,
  overrides: Partial<Stripe.Checkout.SessionCreateParams> = {},
  options: Stripe.RequestOptions = {},
) {
  return stripe.checkout.sessions.create(
    {
      mode: 'payment',
      line_items: lineItems(),
      customer_email: 'buyer@example.com',
      client_reference_id: 'ord_1',
      metadata: { order_id: 'ord_1', payment_id: 'pay_1' },
      payment_intent_data: { metadata: { order_id: 'ord_1', payment_id: 'pay_1' } },
      success_url: SUCCESS_URL,
      cancel_url: CANCEL_URL,
      ...overrides,
    },
    options,
  )
}

export interface RawAnswer {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

/** A request without the `stripe` client, to see exactly what the double answers on the wire. */
export async function raw(
  double: StripeDouble,
  method: string,
  path: string,
  options: { key?: string; form?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const response = await fetch(`${double.url}${path}`, {
    method,
    headers: {
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...(options.form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...options.headers,
    },
    body: options.form,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} }
}

/** The whole `error` of a Stripe error answer, its request log URL aside (it names the request id). */
export function errorOf(answer: RawAnswer): Record<string, unknown> {
  const { request_log_url: _log, ...error } = answer.body.error as Record<string, unknown>
  return error
}
