// The Stripe provider's event reading, on its own: an event parsed once (with the lookups it needed) is
// kept with what it meant, and reading it again from the inbox asks Stripe nothing.
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProviderAccount } from '../../src/modules/payments/provider.js'
import { StripeProvider } from '../../src/modules/stripe/provider.js'
import { type DoubleAccount, type StripeDouble, startStripeDouble } from '../stripe-double/index.js'

let double: StripeDouble
let stripe: DoubleAccount
let provider: StripeProvider
let account: ProviderAccount

beforeAll(async () => {
  double = await startStripeDouble()
  stripe = double.createAccount()
  provider = new StripeProvider({ apiUrl: double.url, timeoutMs: 5000 })
  account = {
    id: 'pa_000000000000000000000001',
    merchantId: '0'.repeat(24),
    provider: 'stripe',
    livemode: false,
    secretKey: stripe.secretKey,
    webhookSecret: stripe.webhookSecret,
  }
})
afterAll(() => double?.close())

describe('StripeProvider events', () => {
  it('keeps a parsed event with its updates, and reads it again without asking Stripe', async () => {
    const started = await provider.startPayment(account, {
      reference: 'pay_000000000000000000000001',
      orderId: 'ord_000000000000000000000001',
      amount: 2500,
      currency: 'EUR',
      lineItems: [{ name: 'Poster', quantity: 1, unitAmount: 2500 }],
      email: 'buyer@example.com',
      description: 'Order ord_000000000000000000000001',
      returnUrl: 'https://shop.example/return',
      cancelUrl: 'https://shop.example/cancel',
      expiresAt: new Date(Date.now() + 3_600_000 * 2),
      startedAt: new Date(),
    })
    double.pay(started.providerRef)
    const [event] = double.events({ account: stripe.id, type: 'checkout.session.completed' })
    const body = JSON.stringify(event, null, 2)
    const parsed = await provider.parseEvent(account, Buffer.from(body), {
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: stripe.webhookSecret,
      }),
    })
    expect(parsed.updates).toEqual([
      {
        kind: 'payment',
        reference: 'pay_000000000000000000000001',
        providerRef: started.providerRef,
        providerPaymentId: expect.stringMatching(/^pi_/),
        snapshot: {
          status: 'succeeded',
          providerPaymentId: expect.stringMatching(/^pi_/),
          card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: expect.any(Number) },
        },
      },
    ])
    expect(parsed.payload).toEqual({ event, updates: parsed.updates })
    double.clearRequests()
    const again = await provider.readEvent(account, JSON.parse(JSON.stringify(parsed.payload)))
    expect(again).toEqual({ ...parsed, payload: JSON.parse(JSON.stringify(parsed.payload)) })
    expect(double.requests()).toEqual([])
  })

  it('ignores events of sessions paylinks did not make', async () => {
    const client = new Stripe(stripe.secretKey, double.clientOptions())
    const foreign = await client.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'Other' } } },
      ],
      success_url: 'https://other.example/done',
    })
    double.pay(foreign.id)
    const event = double
      .events({ account: stripe.id, type: 'checkout.session.completed' })
      .find((e) => (e.data.object as { id: string }).id === foreign.id)
    const body = JSON.stringify(event)
    const parsed = await provider.parseEvent(account, Buffer.from(body), {
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: stripe.webhookSecret,
      }),
    })
    expect(parsed.updates).toEqual([])
  })
})
