// What the sandbox's API and events say of its objects: its own shapes, as any provider has its own.
import type { SandboxSessionRow } from '../../lib/schema.js'

export const unix = (date: Date) => Math.floor(date.getTime() / 1000)

export interface SessionView {
  id: string
  object: 'sandbox.session'
  mode: 'payment' | 'setup'
  reference: string
  status: SandboxSessionRow['status']
  url: string
  amount: number | null
  currency: string | null
  amount_refunded: number
  card: { brand: string; last4: string; exp_month: number; exp_year: number } | null
  /** The charge (payment mode) once complete. */
  payment: string | null
  /** The saved payment method (setup mode) once complete. */
  payment_method: string | null
  failure: { code: string; message: string } | null
  expires_at: number
}

export interface RefundView {
  id: string
  object: 'sandbox.refund'
  session: string
  payment: string | null
  /** The merchant's reference (paylinks' payment) of the session, and the refund's own. */
  session_reference: string
  reference: string | null
  amount: number
  currency: string | null
  status: 'pending' | 'succeeded' | 'failed'
  failure_reason: string | null
}

export interface DisputeView {
  id: string
  object: 'sandbox.dispute'
  session: string
  payment: string | null
  session_reference: string
  amount: number
  currency: string | null
  reason: string
  status: 'open' | 'won' | 'lost'
}

export interface SandboxEvent {
  id: string
  object: 'event'
  type: string
  account: string
  created: number
  data: { object: SessionView | RefundView | DisputeView }
}

export function sessionView(s: SandboxSessionRow, publicUrl: string): SessionView {
  return {
    id: s.id,
    object: 'sandbox.session',
    mode: s.mode,
    reference: s.reference,
    status: s.status,
    url: `${publicUrl}/sandbox/checkout/${s.id}`,
    amount: s.amount === null ? null : Number(s.amount),
    currency: s.currency,
    amount_refunded: Number(s.amount_refunded),
    card:
      s.card_brand && s.card_last4 && s.card_exp_month && s.card_exp_year
        ? {
            brand: s.card_brand,
            last4: s.card_last4,
            exp_month: s.card_exp_month,
            exp_year: s.card_exp_year,
          }
        : null,
    payment: s.mode === 'payment' ? s.object_ref : null,
    payment_method: s.mode === 'setup' ? s.object_ref : null,
    failure: s.failure_code ? { code: s.failure_code, message: s.failure_message ?? s.failure_code } : null,
    expires_at: unix(s.expires_at),
  }
}

export function refundView(
  r: { id: string; reference: string | null; amount: number; status: RefundView['status'] },
  s: SandboxSessionRow,
): RefundView {
  return {
    id: r.id,
    object: 'sandbox.refund',
    session: s.id,
    payment: s.object_ref,
    session_reference: s.reference,
    reference: r.reference,
    amount: Number(r.amount),
    currency: s.currency,
    status: r.status,
    failure_reason: r.status === 'failed' ? 'The bank could not return the money to this card.' : null,
  }
}

export function disputeView(
  d: { id: string; amount: number; reason: string; status: string },
  s: SandboxSessionRow,
): DisputeView {
  return {
    id: d.id,
    object: 'sandbox.dispute',
    session: s.id,
    payment: s.object_ref,
    session_reference: s.reference,
    amount: Number(d.amount),
    currency: s.currency,
    reason: d.reason,
    status: d.status === 'scheduled' ? 'open' : (d.status as DisputeView['status']),
  }
}
