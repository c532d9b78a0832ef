// The double's hosted checkout page over real HTTP, as a browser without JavaScript uses it: Stripe's test
// cards, 3-D Secure, bank debits that settle later, the cancel link, setup mode, and closed sessions.
import type Stripe from 'stripe'
import { describe, expect } from 'vitest'
import { CANCEL_URL, paymentSession, test } from './fixtures.js'
import type { StripeDouble } from './index.js'

async function page(url: string, form?: Record<string, string>) {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    ...(form
      ? {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form).toString(),
        }
      : {}),
  })
  return { status: response.status, location: response.headers.get('location'), html: await response.text() }
}

function payWith(session: Stripe.Checkout.Session, card: string, more: Record<string, string> = {}) {
  return page(session.url as string, { method: 'card', card_number: card, card_expiry: '04 / 31', ...more })
}

function successUrl(session: Stripe.Checkout.Session) {
  return `https://shop.example.com/pay/ord_1/return?session=${session.id}`
}

async function intentOf(stripe: Stripe, session: Stripe.Checkout.Session) {
  const retrieved = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ['payment_intent.latest_charge'],
  })
  return { session: retrieved, intent: retrieved.payment_intent as Stripe.PaymentIntent }
}

function types(double: StripeDouble) {
  return double.events().map((e) => e.type)
}

describe('the checkout page', () => {
  test('shows the items, the total, the email, the card fields and the cancel link', async ({ stripe }) => {
    const session = await paymentSession(stripe)
    const shown = await page(session.url as string)
    expect(shown.status).toBe(200)
    expect(shown.html).toContain('Pay $35.00')
    expect(shown.html).toContain('Sword × 2')
    expect(shown.html).toContain('Shield &#38; helmet × 1')
    expect(shown.html).toContain('value="buyer@example.com" readonly')
    expect(shown.html).toContain('autocomplete="cc-number"')
    expect(shown.html).toContain(`<a href="${CANCEL_URL}">Cancel and go back</a>`)
    expect(shown.html).toContain('Pay by bank debit')
  })

  test('changes nothing at Stripe when the buyer cancels, and offers no bank debit to a card-only session', async ({
    double,
    stripe,
  }) => {
    const session = await paymentSession(stripe, { allowed_payment_method_types: ['card'] })
    expect(double.cancel(session.id)).toBe(CANCEL_URL)
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open')
    expect((await page(session.url as string)).html).not.toContain('bank debit')
    expect(() => double.payAsync(session.id)).toThrow('does not take sepa_debit')
    expect(double.events()).toEqual([])
  })

  test('pays with 4242 4242 4242 4242 and redirects to success_url with the session id', async ({
    double,
    stripe,
  }) => {
    const session = await paymentSession(stripe)
    const paid = await payWith(session, '4242 4242 4242 4242', { name: 'Ada Lovelace' })
    expect(paid).toMatchObject({ status: 303, location: successUrl(session) })
    const { session: after, intent } = await intentOf(stripe, session)
    expect(after).toMatchObject({
      status: 'complete',
      payment_status: 'paid',
      customer_details: { email: 'buyer@example.com', name: 'Ada Lovelace' },
    })
    expect(intent).toMatchObject({
      id: expect.stringMatching(/^pi_/),
      status: 'succeeded',
      amount_received: 3500,
    })
    const charge = intent.latest_charge as Stripe.Charge
    expect(charge).toMatchObject({
      id: expect.stringMatching(/^ch_/),
      status: 'succeeded',
      paid: true,
      captured: true,
      amount: 3500,
      amount_captured: 3500,
      amount_refunded: 0,
      refunded: false,
      currency: 'usd',
      payment_intent: intent.id,
      billing_details: { email: 'buyer@example.com', name: 'Ada Lovelace' },
      outcome: { network_status: 'approved_by_network', type: 'authorized' },
      payment_method_details: {
        type: 'card',
        card: { brand: 'visa', last4: '4242', exp_month: 4, exp_year: 2031, three_d_secure: null },
      },
    })
    const method = await stripe.paymentMethods.retrieve(intent.payment_method as string)
    expect(method).toMatchObject({
      object: 'payment_method',
      type: 'card',
      card: { brand: 'visa', last4: '4242' },
    })
    expect(types(double)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ])
    expect((await page(session.url as string)).status).toBe(409)
  })

  test.for([
    ['4000000000000002', 'generic_decline', 'Your card was declined.'],
    ['4000000000009995', 'insufficient_funds', 'Your card has insufficient funds.'],
  ])(
    'declines %s (%s) and lets the buyer try again',
    async ([card, declineCode, message], { double, stripe }) => {
      const session = await paymentSession(stripe)
      const declined = await payWith(session, card as string)
      expect(declined.status).toBe(402)
      expect(declined.html).toContain(message)
      const { session: after, intent } = await intentOf(stripe, session)
      expect(after).toMatchObject({ status: 'open', payment_status: 'unpaid' })
      expect(intent).toMatchObject({
        status: 'requires_payment_method',
        payment_method: null,
        last_payment_error: {
          type: 'card_error',
          code: 'card_declined',
          decline_code: declineCode,
          message,
          payment_method: { type: 'card', card: { last4: (card as string).slice(-4) } },
        },
      })
      expect(intent.latest_charge).toMatchObject({
        status: 'failed',
        failure_code: 'card_declined',
        paid: false,
      })
      expect(types(double)).toEqual([
        'payment_intent.created',
        'charge.failed',
        'payment_intent.payment_failed',
      ])
      expect((await payWith(session, '4242424242424242')).status).toBe(303)
      const retried = await intentOf(stripe, session)
      expect(retried.intent).toMatchObject({ id: intent.id, status: 'succeeded', last_payment_error: null })
    },
  )

  test('refuses a number that is not a test card without creating anything', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    const wrong = await payWith(session, '4242 4242 4242 4241')
    expect(wrong.status).toBe(400)
    expect(wrong.html).toContain('Your card number is invalid.')
    const live = await payWith(session, '4111 1111 1111 1111')
    expect(live.html).toContain('used a non test card')
    expect(double.events()).toEqual([])
  })

  test('asks for 3-D Secure with 4000 0027 6000 3184, and pays once approved', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    const challenge = await payWith(session, '4000002760003184')
    expect(challenge).toMatchObject({ status: 303, location: `${session.url}/3ds` })
    const pending = await intentOf(stripe, session)
    expect(pending.intent).toMatchObject({
      status: 'requires_action',
      next_action: { type: 'redirect_to_url', redirect_to_url: { url: `${session.url}/3ds` } },
    })
    expect((await page(`${session.url}/3ds`)).html).toContain('Complete authentication')
    const approved = await page(`${session.url}/3ds`, { action: 'approve' })
    expect(approved).toMatchObject({ status: 303, location: successUrl(session) })
    const { intent } = await intentOf(stripe, session)
    expect(intent.status).toBe('succeeded')
    expect(
      (intent.latest_charge as Stripe.Charge).payment_method_details?.card?.three_d_secure,
    ).toMatchObject({
      result: 'authenticated',
    })
    expect(types(double)).toContain('payment_intent.requires_action')
  })

  test('keeps the session open when 3-D Secure fails', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    await payWith(session, '4000002760003184')
    const failed = await page(`${session.url}/3ds`, { action: 'fail' })
    expect(failed.status).toBe(402)
    expect(failed.html).toContain('We are unable to authenticate your payment method.')
    const { session: after, intent } = await intentOf(stripe, session)
    expect(after.status).toBe('open')
    expect(intent).toMatchObject({
      status: 'requires_payment_method',
      latest_charge: null,
      last_payment_error: { code: 'payment_intent_authentication_failure' },
    })
    expect(types(double).at(-1)).toBe('payment_intent.payment_failed')
  })

  test.for(['succeeded', 'failed'] as const)(
    'completes a bank debit unpaid, then it %s later',
    async (outcome, { double, stripe }) => {
      const session = await paymentSession(stripe)
      const sent = await page(session.url as string, { method: 'sepa_debit', eventually: outcome })
      expect(sent).toMatchObject({ status: 303, location: successUrl(session) })
      const processing = await intentOf(stripe, session)
      expect(processing.session).toMatchObject({ status: 'complete', payment_status: 'unpaid' })
      expect(processing.intent).toMatchObject({ status: 'processing' })
      expect(processing.intent.latest_charge).toMatchObject({
        status: 'pending',
        payment_method_details: { type: 'sepa_debit', sepa_debit: { last4: '3000' } },
      })
      expect(double.scheduled()).toEqual([`the bank debit of ${session.id} ${outcome}`])
      expect(double.runScheduled()).toHaveLength(1)
      const settled = await intentOf(stripe, session)
      expect(settled.session).toMatchObject({ payment_status: outcome === 'succeeded' ? 'paid' : 'unpaid' })
      expect(settled.intent.status).toBe(outcome === 'succeeded' ? 'succeeded' : 'requires_payment_method')
      expect(types(double).slice(-1)).toEqual([`checkout.session.async_payment_${outcome}`])
      expect(types(double)).toContain('checkout.session.completed')
    },
  )

  test('saves a card on a setup session: a SetupIntent succeeded with its PaymentMethod', async ({
    double,
    stripe,
  }) => {
    const session = await stripe.checkout.sessions.create({
      mode: 'setup',
      currency: 'usd',
      setup_intent_data: { metadata: { setup_id: 'setup_1' } },
      success_url: 'https://portal.example.com/setup/done?session={CHECKOUT_SESSION_ID}',
    })
    const form = await page(session.url as string)
    expect(form.html).toContain('Save card')
    expect(form.html).not.toContain('bank debit')
    const declined = await page(session.url as string, {
      method: 'card',
      email: 'admin@portal.example.com',
      card_number: '4000000000000002',
    })
    expect(declined.status).toBe(402)
    const saved = await page(session.url as string, {
      method: 'card',
      email: 'admin@portal.example.com',
      card_number: '5555 5555 5555 4444',
      card_expiry: '11/2030',
    })
    expect(saved).toMatchObject({
      status: 303,
      location: `https://portal.example.com/setup/done?session=${session.id}`,
    })
    const after = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['setup_intent.payment_method'],
    })
    expect(after).toMatchObject({
      status: 'complete',
      payment_status: 'no_payment_required',
      payment_intent: null,
    })
    const intent = after.setup_intent as Stripe.SetupIntent
    expect(intent).toMatchObject({
      id: expect.stringMatching(/^seti_/),
      status: 'succeeded',
      usage: 'off_session',
      metadata: { setup_id: 'setup_1' },
      last_setup_error: null,
      payment_method: {
        type: 'card',
        card: { brand: 'mastercard', last4: '4444', exp_month: 11, exp_year: 2030 },
      },
    })
    const direct = await stripe.setupIntents.retrieve(intent.id)
    expect(direct.payment_method).toBe((intent.payment_method as Stripe.PaymentMethod).id)
    expect(types(double)).toEqual([
      'setup_intent.created',
      'setup_intent.setup_failed',
      'setup_intent.succeeded',
      'checkout.session.completed',
    ])
  })

  test('answers 410 for an expired session and takes no payment on it', async ({ double, stripe }) => {
    const session = await paymentSession(stripe)
    double.expireSession(session.id)
    const shown = await page(session.url as string)
    expect(shown.status).toBe(410)
    expect(shown.html).toContain('This checkout session has expired')
    expect((await payWith(session, '4242424242424242')).status).toBe(410)
    expect((await stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBeNull()
  })

  test('answers 404 for an unknown session', async ({ double }) => {
    expect((await page(`${double.url}/c/pay/cs_test_unknown`)).status).toBe(404)
  })
})
