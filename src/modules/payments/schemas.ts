// How payments, refunds and disputes appear in the admin API and in webhooks.
import { type Static, Type } from 'typebox'
import { IsoDateTime } from '../../lib/http.js'
import type { DisputeRow, PaymentRow, RefundRow } from '../../lib/schema.js'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
const at = (date: Date | null) => date?.toISOString() ?? null

export const PaymentView = Type.Object({
  id: Type.String(),
  object: Type.Literal('payment'),
  status: Type.Enum(
    ['pending', 'requires_action', 'processing', 'unknown', 'succeeded', 'failed', 'canceled'],
    {
      description:
        'pending: the buyer is at the provider; requires_action: authentication is asked; processing: the ' +
        'provider has not decided; unknown: the provider could not be reached, paylinks looks it up until it ' +
        'is final; succeeded, failed, canceled: final',
    },
  ),
  provider: Type.String(),
  livemode: Type.Boolean(),
  amount: Type.Integer(),
  currency: Type.String(),
  amount_refunded: Type.Integer(),
  card_brand: Nullable(Type.String()),
  card_last4: Nullable(Type.String()),
  failure_code: Nullable(Type.String()),
  failure_message: Nullable(Type.String()),
  created_at: IsoDateTime,
  settled_at: Type.Union([IsoDateTime, Type.Null()]),
})

export function paymentView(p: PaymentRow): Static<typeof PaymentView> {
  return {
    id: p.id,
    object: 'payment',
    status: p.status,
    provider: p.provider,
    livemode: p.livemode,
    amount: p.amount,
    currency: p.currency,
    amount_refunded: p.amount_refunded,
    card_brand: p.card_brand,
    card_last4: p.card_last4,
    failure_code: p.failure_code,
    failure_message: p.failure_message,
    created_at: p.created_at.toISOString(),
    settled_at: at(p.settled_at),
  }
}

export const RefundView = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('refund'),
    order_id: Type.String(),
    payment_id: Type.String(),
    amount: Type.Integer({ description: 'In minor units of currency' }),
    currency: Type.String(),
    reason: Nullable(Type.String()),
    origin: Type.Enum(['api', 'dashboard', 'provider', 'automatic'], {
      description:
        'api or dashboard: asked by the merchant; provider: made in the provider’s own dashboard; automatic: ' +
        'a payment that succeeded for an order already paid or expired',
    }),
    status: Type.Enum(['pending', 'unknown', 'succeeded', 'failed', 'canceled']),
    failure_reason: Nullable(Type.String()),
    created_at: IsoDateTime,
    settled_at: Type.Union([IsoDateTime, Type.Null()]),
  },
  { $id: 'Refund' },
)

export function refundView(r: RefundRow): Static<typeof RefundView> {
  return {
    id: r.id,
    object: 'refund',
    order_id: r.order_id,
    payment_id: r.payment_id,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    origin: r.origin,
    status: r.status,
    failure_reason: r.failure_reason,
    created_at: r.created_at.toISOString(),
    settled_at: at(r.settled_at),
  }
}

export const DisputeView = Type.Object({
  id: Type.String(),
  object: Type.Literal('dispute'),
  order_id: Type.String(),
  payment_id: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  reason: Nullable(Type.String()),
  status: Type.Enum(['open', 'won', 'lost']),
  opened_at: IsoDateTime,
  closed_at: Type.Union([IsoDateTime, Type.Null()]),
})

export function disputeView(d: DisputeRow): Static<typeof DisputeView> {
  return {
    id: d.id,
    object: 'dispute',
    order_id: d.order_id,
    payment_id: d.payment_id,
    amount: d.amount,
    currency: d.currency,
    reason: d.reason,
    status: d.status,
    opened_at: d.opened_at.toISOString(),
    closed_at: at(d.closed_at),
  }
}

export const REFUND_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent', 'other'] as const

export const CreateRefundBody = Type.Object(
  {
    amount: Type.Optional(
      Type.Integer({ minimum: 1, description: 'In minor units; default: everything not yet refunded' }),
    ),
    reason: Type.Optional(Type.Enum([...REFUND_REASONS])),
  },
  { additionalProperties: false },
)
export type CreateRefundBody = Static<typeof CreateRefundBody>
