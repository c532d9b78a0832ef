// Stripe's objects as the provider port reads them: a Checkout Session (with its PaymentIntent and latest
// charge expanded, when they were) as a payment snapshot or a setup snapshot, a Refund as a refund
// snapshot, a Dispute's status. Fields are read defensively: events of another API version may lack some.
import type Stripe from 'stripe'
import type {
  CardSummary,
  PaymentSnapshot,
  ProviderRefundStatus,
  RefundSnapshot,
  SetupSnapshot,
} from '../payments/provider.js'
import { fromStripeAmount } from './amounts.js'

/** What a lookup of a session expands, so that one request answers the whole snapshot. */
export const PAYMENT_EXPAND = ['payment_intent.latest_charge']
export const SETUP_EXPAND = ['setup_intent.payment_method']

/** The id of an expandable field, whether it came as an id or as the object. */
export function idOf(field: string | { id: string } | null | undefined): string | null {
  if (!field) return null
  return typeof field === 'string' ? field : field.id
}

function expanded<T extends object>(field: string | T | null | undefined): T | null {
  return field && typeof field === 'object' ? field : null
}

function cardOf(
  card: Stripe.Charge.PaymentMethodDetails.Card | Stripe.PaymentMethod.Card | null | undefined,
) {
  if (!card?.last4) return null
  return {
    brand: card.brand ?? 'card',
    last4: card.last4,
    expMonth: card.exp_month,
    expYear: card.exp_year,
  } satisfies CardSummary
}

function failureOf(error: { code?: string | undefined; message?: string | undefined } | null | undefined) {
  if (!error) return null
  return { code: error.code ?? 'payment_failed', message: error.message ?? 'The payment failed.' }
}

/**
 * A `payment` session as a payment snapshot. Complete and paid is succeeded; complete and unpaid is a
 * payment method that settles later (a bank debit): processing until its PaymentIntent says more, failed
 * when it asks for another method. An open session is pending (a declined card stays there: the buyer may
 * try another), or requires_action during 3-D Secure; expired is canceled.
 */
export function paymentSnapshot(session: Stripe.Checkout.Session): PaymentSnapshot {
  const intent = expanded<Stripe.PaymentIntent>(session.payment_intent)
  const charge = expanded<Stripe.Charge>(intent?.latest_charge)
  const providerPaymentId = idOf(session.payment_intent)
  const card = charge?.status === 'failed' ? null : cardOf(charge?.payment_method_details?.card)
  const base = { providerPaymentId, card }
  switch (session.status) {
    case 'expired':
      return {
        ...base,
        status: 'canceled',
        failure: {
          code: 'session_expired',
          message: 'The payment session at Stripe closed before it was paid.',
        },
      }
    case 'complete':
      if (session.payment_status === 'paid' || session.payment_status === 'no_payment_required')
        return { ...base, status: 'succeeded' }
      if (intent?.status === 'succeeded') return { ...base, status: 'succeeded' }
      if (intent?.status === 'requires_payment_method' || intent?.status === 'canceled') {
        return {
          ...base,
          status: 'failed',
          failure: failureOf(intent.last_payment_error) ?? {
            code: 'payment_failed',
            message: 'The payment did not go through at the bank.',
          },
        }
      }
      return { ...base, status: 'processing' }
    default:
      if (intent?.status === 'requires_action') return { ...base, status: 'requires_action' }
      if (intent?.status === 'processing') return { ...base, status: 'processing' }
      return { ...base, status: 'pending' }
  }
}

/** A `setup` session as a setup snapshot: the saved card is read from its SetupIntent's payment method. */
export function setupSnapshot(session: Stripe.Checkout.Session): SetupSnapshot {
  const intent = expanded<Stripe.SetupIntent>(session.setup_intent)
  const method = expanded<Stripe.PaymentMethod>(intent?.payment_method)
  const status =
    session.status === 'complete' ? 'succeeded' : session.status === 'expired' ? 'canceled' : 'pending'
  return {
    status,
    method: methodOf(method),
    failure: failureOf(intent?.last_setup_error),
  }
}

export function methodOf(method: Stripe.PaymentMethod | null | undefined): SetupSnapshot['method'] {
  const card = cardOf(method?.card)
  return method && card ? { providerRef: method.id, card } : null
}

const REFUND_STATUS: Record<string, ProviderRefundStatus> = {
  pending: 'pending',
  requires_action: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
}

export function refundSnapshot(refund: Stripe.Refund): RefundSnapshot {
  return {
    providerRef: refund.id,
    status: REFUND_STATUS[refund.status ?? 'pending'] ?? 'pending',
    amount: fromStripeAmount(refund.amount, refund.currency),
    failureReason:
      refund.status === 'failed' ? (refund.failure_reason ?? 'the refund failed at Stripe') : null,
  }
}

/**
 * A dispute's outcome: an inquiry closed without a chargeback, or one prevented, leaves the money with the
 * merchant (won); lost is lost; anything else is still open.
 */
export function disputeStatus(status: string): 'open' | 'won' | 'lost' {
  if (status === 'won' || status === 'warning_closed' || status === 'prevented') return 'won'
  if (status === 'lost') return 'lost'
  return 'open'
}
