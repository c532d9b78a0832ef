// Stripe's events as the provider port's updates. Only the types below are acted on (the README lists them
// to enable on the endpoint); any other is recorded by the inbox and ignored. Where an event lacks what
// an update needs (the card of a payment, the refunds of a charge, our payment behind a dispute), the
// object is looked up at Stripe, before the inbox's transaction; a lookup Stripe cannot answer now fails
// the delivery, and Stripe sends the event again later.
import type Stripe from 'stripe'
import { ProviderError, type ProviderUpdate } from '../payments/provider.js'
import { fromStripeAmount } from './amounts.js'
import { disputeStatus, idOf, methodOf, paymentSnapshot, refundSnapshot, setupSnapshot } from './objects.js'

export const EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
  'refund.updated',
  'charge.dispute.created',
  'charge.dispute.closed',
  'setup_intent.succeeded',
] as const

/** What the mapping may ask Stripe; absent when an event is read again from the inbox. */
export interface Lookups {
  paymentSession(id: string): Promise<Stripe.Checkout.Session>
  setupSession(id: string): Promise<Stripe.Checkout.Session>
  /** With its refunds and its PaymentIntent expanded. */
  charge(id: string): Promise<Stripe.Charge>
  paymentIntent(id: string): Promise<Stripe.PaymentIntent>
  paymentMethod(id: string): Promise<Stripe.PaymentMethod>
}

/** The event's own object when Stripe says the looked-up one does not exist (a definite answer). */
async function lookedUp<T>(lookup: (() => Promise<T>) | undefined, fallback: T): Promise<T> {
  if (!lookup) return fallback
  try {
    return await lookup()
  } catch (error) {
    if (error instanceof ProviderError && error.kind === 'refused') return fallback
    throw error
  }
}

/** Our payment id, which every PaymentIntent paylinks starts carries in its metadata. */
async function paymentReferenceOf(
  lookups: Lookups | undefined,
  intentId: string | null,
): Promise<{ reference: string | null; ours: boolean }> {
  if (!lookups || !intentId) return { reference: null, ours: true }
  const intent = await lookedUp(() => lookups.paymentIntent(intentId), null)
  const reference = intent?.metadata?.payment_id ?? null
  // A PaymentIntent of another integration on the same Stripe account is none of paylinks' business.
  return { reference, ours: intent === null || reference !== null }
}

function refundUpdate(
  refund: Stripe.Refund,
  payment: { reference: string | null; providerPaymentId: string | null },
): ProviderUpdate {
  return {
    kind: 'refund',
    reference: refund.metadata?.refund_id ?? null,
    payment: {
      reference: refund.metadata?.payment_id ?? payment.reference,
      providerPaymentId: payment.providerPaymentId ?? idOf(refund.payment_intent),
    },
    snapshot: refundSnapshot(refund),
    currency: refund.currency.toUpperCase(),
    reason: refund.reason ?? null,
  }
}

async function sessionUpdates(
  event: Stripe.Event,
  session: Stripe.Checkout.Session,
  lookups: Lookups | undefined,
): Promise<ProviderUpdate[]> {
  if (session.mode === 'setup') {
    const reference = session.metadata?.setup_id
    if (!reference) return []
    const full = await lookedUp(lookups && (() => lookups.setupSession(session.id)), session)
    return [{ kind: 'setup', reference, providerRef: session.id, snapshot: setupSnapshot(full) }]
  }
  const reference = session.metadata?.payment_id
  // A session paylinks did not make (the merchant's own Payment Links, say) is not ours to apply.
  if (session.mode !== 'payment' || !reference) return []
  const full = await lookedUp(lookups && (() => lookups.paymentSession(session.id)), session)
  let snapshot = paymentSnapshot(full)
  // Read again without a lookup, the event's type says what its unexpanded session cannot.
  if (
    full === session &&
    event.type === 'checkout.session.async_payment_failed' &&
    snapshot.status !== 'failed'
  )
    snapshot = {
      ...snapshot,
      status: 'failed',
      failure: { code: 'payment_failed', message: 'The payment did not go through at the bank.' },
    }
  return [
    {
      kind: 'payment',
      reference,
      providerRef: session.id,
      providerPaymentId: snapshot.providerPaymentId ?? null,
      snapshot,
    },
  ]
}

export async function updatesOf(
  event: Stripe.Event,
  lookups: Lookups | undefined,
): Promise<ProviderUpdate[]> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
    case 'checkout.session.async_payment_failed':
    case 'checkout.session.expired':
      return sessionUpdates(event, event.data.object, lookups)
    case 'charge.refunded': {
      const charge = event.data.object
      // The event names the charge; its refunds (a dashboard refund among them) are read from it.
      const full = await lookedUp(lookups && (() => lookups.charge(charge.id)), charge)
      const intent = full.payment_intent
      const intentId = idOf(intent)
      const reference = typeof intent === 'object' && intent ? (intent.metadata?.payment_id ?? null) : null
      if (typeof intent === 'object' && intent && !reference) return []
      return (full.refunds?.data ?? []).map((refund) =>
        refundUpdate(refund, { reference, providerPaymentId: intentId }),
      )
    }
    case 'refund.updated': {
      const refund = event.data.object
      const intentId = idOf(refund.payment_intent)
      const payment = refund.metadata?.payment_id
        ? { reference: refund.metadata.payment_id, ours: true }
        : await paymentReferenceOf(lookups, intentId)
      if (!payment.ours) return []
      return [refundUpdate(refund, { reference: payment.reference, providerPaymentId: intentId })]
    }
    case 'charge.dispute.created':
    case 'charge.dispute.closed': {
      const dispute = event.data.object
      const intentId = idOf(dispute.payment_intent)
      const payment = await paymentReferenceOf(lookups, intentId)
      if (!payment.ours) return []
      return [
        {
          kind: 'dispute',
          payment: { reference: payment.reference, providerPaymentId: intentId },
          providerRef: dispute.id,
          status: event.type === 'charge.dispute.created' ? 'open' : disputeStatus(dispute.status),
          amount: fromStripeAmount(dispute.amount, dispute.currency),
          currency: dispute.currency.toUpperCase(),
          reason: dispute.reason ?? null,
        },
      ]
    }
    case 'setup_intent.succeeded': {
      const intent = event.data.object
      const reference = intent.metadata?.setup_id
      if (!reference) return []
      const methodId = idOf(intent.payment_method)
      const method =
        typeof intent.payment_method === 'object'
          ? intent.payment_method
          : methodId
            ? await lookedUp(lookups && (() => lookups.paymentMethod(methodId)), null)
            : null
      return [
        {
          kind: 'setup',
          reference,
          providerRef: intent.id,
          snapshot: { status: 'succeeded', method: methodOf(method), failure: null },
        },
      ]
    }
    default:
      return []
  }
}
