// Events from the double to a local receiver: Stripe's event objects, signed so that the stripe package's
// own constructEvent accepts them, retried on failure, filtered by enabled events, and the controls that
// make them late, out of order and twice.
import type Stripe from 'stripe'
import { describe, expect } from 'vitest'
import { STRIPE_API_VERSION } from '../../src/lib/stripe-version.js'
import { freePort } from '../helpers/process.js'
import { waitFor } from '../helpers/wait.js'
import { clientFor, paymentSession, test } from './fixtures.js'

describe('event delivery', () => {
  test('posts Stripe events signed with the account’s secret, which constructEvent verifies', async ({
    double,
    account,
    receiver,
    stripe,
  }) => {
    const session = await paymentSession(stripe)
    double.pay(session.id)
    await double.eventsSettled()
    expect(receiver.received).toHaveLength(4)
    const events = receiver.received.map((r) =>
      stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, account.webhookSecret),
    )
    expect(events.map((e) => e.type)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ])
    const completed = events[3] as Stripe.CheckoutSessionCompletedEvent
    expect(completed).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      object: 'event',
      api_version: STRIPE_API_VERSION,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'checkout.session.completed',
      data: {
        object: { id: session.id, object: 'checkout.session', status: 'complete', payment_status: 'paid' },
      },
    })
    expect(completed.created).toBeGreaterThanOrEqual(session.created)
    expect(typeof completed.data.object.payment_intent).toBe('string')
    expect(receiver.received[0]?.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    })
    expect(() =>
      stripe.webhooks.constructEvent(
        receiver.received[0]?.body ?? '',
        receiver.received[0]?.headers['stripe-signature'] as string,
        'whsec_other',
      ),
    ).toThrow(/No signatures found matching the expected signature/)
    expect(double.deliveries().map((d) => [d.type, d.attempt, d.status])).toEqual(
      events.map((e) => [e.type, 1, 200]),
    )
  })

  test('retries an event the endpoint refuses, and records every answer', async ({
    double,
    receiver,
    stripe,
  }) => {
    receiver.script({ status: 500, body: 'down' }, { status: 503, body: 'still down' })
    const session = await paymentSession(stripe)
    await stripe.checkout.sessions.expire(session.id)
    await double.eventsSettled()
    const [event] = double.events()
    expect(double.deliveries()).toMatchObject([
      { eventId: event?.id, attempt: 1, status: 500, body: 'down' },
      { eventId: event?.id, attempt: 2, status: 503, body: 'still down' },
      { eventId: event?.id, attempt: 3, status: 200, body: 'ok' },
    ])
    expect(new Set(receiver.received.map((r) => JSON.parse(r.body).id))).toEqual(new Set([event?.id]))
  })

  test('gives up after the last attempt, and records an unreachable endpoint', async ({
    double,
    account,
    stripe,
  }) => {
    double.setWebhook(account.id, `http://127.0.0.1:${await freePort()}/hooks`)
    const session = await paymentSession(stripe)
    await stripe.checkout.sessions.expire(session.id)
    await double.eventsSettled()
    const deliveries = double.deliveries()
    expect(deliveries.map((d) => d.attempt)).toEqual([1, 2, 3, 4])
    expect(deliveries.every((d) => d.status === null && d.error)).toBe(true)
  })

  test('sends only the enabled event types, and nothing without an endpoint', async ({
    double,
    receiver,
  }) => {
    const picky = double.createAccount({
      webhookUrl: receiver.url,
      enabledEvents: ['checkout.session.completed'],
    })
    const stripe = clientFor(double, picky.secretKey)
    const session = await paymentSession(stripe)
    double.pay(session.id)
    await double.eventsSettled()
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual(['checkout.session.completed'])
    expect(double.events({ account: picky.id })).toHaveLength(4)
    expect(double.events({ account: picky.id, type: 'charge.succeeded' })[0]?.pending_webhooks).toBe(0)
    const silent = double.createAccount()
    const other = await paymentSession(clientFor(double, silent.secretKey))
    double.pay(other.id)
    await double.eventsSettled()
    expect(receiver.received).toHaveLength(1)
  })

  test('marks events of live-mode objects livemode', async ({ double, account, receiver }) => {
    const session = await paymentSession(clientFor(double, account.liveSecretKey))
    double.pay(session.id)
    await double.eventsSettled()
    expect(receiver.received.map((r) => JSON.parse(r.body).livemode)).toEqual([true, true, true, true])
  })
})

describe('event controls', () => {
  test('holds events and releases them late, in order', async ({ double, receiver, stripe }) => {
    double.holdEvents()
    const session = await paymentSession(stripe)
    double.pay(session.id)
    await double.eventsSettled()
    expect(receiver.received).toEqual([])
    expect(double.heldEvents().map((e) => e.type)).toHaveLength(4)
    expect(double.releaseEvents()).toBe(4)
    await double.eventsSettled()
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ])
  })

  test('releases held events in reverse order, for one account', async ({
    double,
    account,
    receiver,
    stripe,
  }) => {
    double.holdEvents(account.id)
    const session = await paymentSession(stripe)
    double.pay(session.id)
    await stripe.refunds.create({
      payment_intent: (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string,
    })
    double.releaseEvents({ account: account.id, order: 'reverse' })
    await double.eventsSettled()
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual([
      'charge.refunded',
      'refund.created',
      'checkout.session.completed',
      'payment_intent.succeeded',
      'charge.succeeded',
      'payment_intent.created',
    ])
    double.expireSession((await paymentSession(stripe)).id)
    await waitFor(() => receiver.received.length === 7, 'the event after the release')
  })

  test('sends an event twice: the same id and body, a fresh signature', async ({
    double,
    account,
    receiver,
    stripe,
  }) => {
    const session = await paymentSession(stripe)
    double.expireSession(session.id)
    await double.eventsSettled()
    const [event] = double.events()
    double.resendEvent(event?.id as string)
    await double.eventsSettled()
    expect(receiver.received).toHaveLength(2)
    const [first, second] = receiver.received
    expect(second?.body).toBe(first?.body)
    const verified = receiver.received.map(
      (r) =>
        stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, account.webhookSecret)
          .id,
    )
    expect(verified).toEqual([event?.id, event?.id])
    expect(() => double.resendEvent('evt_nope')).toThrow('no event evt_nope')
  })
})
