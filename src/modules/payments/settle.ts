// The payment state machine: applies what a provider says of a payment, a refund or a dispute, inside
// the caller's transaction, whether it comes from an event or a lookup. Every rule is order-independent:
// a duplicate changes nothing, a stale report never moves an object backwards, a refund or a dispute
// recorded before its payment's success counts once that success arrives, and a success is never lost.
import type { Tx } from '../../lib/db.js'
import { newPrefixedId } from '../../lib/ids.js'
import type {
  DisputeStatus,
  OrderRow,
  PaymentRow,
  PaymentStatus,
  RefundRow,
  RefundStatus,
} from '../../lib/schema.js'
import type { OrderService } from '../orders/service.js'
import type {
  PaymentSnapshot,
  ProviderPaymentStatus,
  ProviderRefundStatus,
  ProviderUpdate,
} from './provider.js'
import * as repo from './repo.js'

/** How far along a payment is: reports of an earlier stage than the current one are stale. */
const STAGE: Record<PaymentStatus, number> = {
  unknown: -1,
  pending: 0,
  requires_action: 1,
  processing: 1,
  succeeded: 2,
  failed: 2,
  canceled: 2,
}

/**
 * The status a payment moves to when its provider reports `reported`; undefined when it stays. A final
 * payment stays final, except that a failed or canceled one that the provider says succeeded did take
 * the money: that success is recorded (and refunded if the order cannot take it).
 */
export function nextPaymentStatus(
  current: PaymentStatus,
  reported: ProviderPaymentStatus,
): PaymentStatus | undefined {
  if (current === reported) return undefined
  if (current === 'succeeded') return undefined
  if (current === 'failed' || current === 'canceled')
    return reported === 'succeeded' ? 'succeeded' : undefined
  return STAGE[reported] >= STAGE[current] ? reported : undefined
}

/**
 * The status a refund moves to. A succeeded refund can still fail later (the provider could not return
 * the money after all); a failed or canceled one stays so.
 */
export function nextRefundStatus(
  current: RefundStatus,
  reported: ProviderRefundStatus,
): RefundStatus | undefined {
  if (current === reported) return undefined
  if (current === 'pending' || current === 'unknown') return reported
  if (current === 'succeeded' && reported === 'failed') return 'failed'
  return undefined
}

export function nextDisputeStatus(
  current: DisputeStatus,
  reported: DisputeStatus,
): DisputeStatus | undefined {
  return current === 'open' && reported !== 'open' ? reported : undefined
}

/** When a payment still open is looked up again: soon while the buyer is at it, then less and less often. */
const CHECK_DELAYS_MS = [5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]
const PENDING_FIRST_CHECK_MS = 5 * 60_000
const MAX_CHECK_DELAY_MS = 6 * 3_600_000

export function nextCheckAt(status: PaymentStatus, checks: number, now: Date): Date | null {
  if (!repo.isOpen(status)) return null
  const delay =
    status === 'pending' && checks === 0
      ? PENDING_FIRST_CHECK_MS
      : (CHECK_DELAYS_MS[checks] ?? MAX_CHECK_DELAY_MS)
  return new Date(now.getTime() + delay)
}

export type Applied = 'applied' | 'ignored' | 'deferred'

export class Settlement {
  constructor(
    private readonly orders: OrderService,
    /** Announces a money event of an order; refund and dispute events name their refund or dispute. */
    private readonly emitPaymentEvent: (
      tx: Tx,
      type: MoneyEventType,
      orderId: string,
      now: Date,
      subject?: { refundId?: string; disputeId?: string },
    ) => Promise<void>,
  ) {}

  /**
   * Applies a payment snapshot to a payment (its order is locked first, then the payment, the order in
   * which every writer locks them). Answers the payment as it is afterwards.
   */
  async applyPayment(tx: Tx, paymentId: string, snapshot: PaymentSnapshot, now: Date): Promise<PaymentRow> {
    const current = await tx
      .selectFrom('payments')
      .select('order_id')
      .where('id', '=', paymentId)
      .executeTakeFirstOrThrow()
    const order = (await this.orders.lock(tx, current.order_id)) as OrderRow
    const payment = (await repo.lockPayment(tx, paymentId)) as PaymentRow
    const next = nextPaymentStatus(payment.status, snapshot.status)
    const status = next ?? payment.status
    const card = snapshot.card
    const updated = await tx
      .updateTable('payments')
      .set({
        status,
        provider_payment_id: snapshot.providerPaymentId ?? payment.provider_payment_id,
        card_brand: card?.brand ?? payment.card_brand,
        card_last4: card?.last4 ?? payment.card_last4,
        card_exp_month: card?.expMonth ?? payment.card_exp_month,
        card_exp_year: card?.expYear ?? payment.card_exp_year,
        ...(next === 'failed' || next === 'canceled'
          ? {
              failure_code: snapshot.failure?.code ?? (next === 'canceled' ? 'canceled' : 'payment_failed'),
              failure_message:
                snapshot.failure?.message ??
                (next === 'canceled' ? 'The payment was canceled.' : 'The payment failed.'),
            }
          : {}),
        ...(next === 'succeeded' ? { failure_code: null, failure_message: null } : {}),
        settled_at: next && !repo.isOpen(next) ? now : payment.settled_at,
        next_check_at: next ? nextCheckAt(status, 0, now) : payment.next_check_at,
        checks: next ? 0 : payment.checks,
        updated_at: now,
      })
      .where('id', '=', paymentId)
      .returningAll()
      .executeTakeFirstOrThrow()
    if (next === 'succeeded') await this.onSucceeded(tx, order, updated, now)
    if (next === 'failed') await this.emitPaymentEvent(tx, 'order.payment_failed', order.id, now)
    // An open payment held its order past its time; closing it lets the order expire now, in the same
    // transaction, not at a later sweep that a concurrent lock on the order could make skip it.
    if ((next === 'failed' || next === 'canceled') && order.status === 'created' && order.expires_at <= now)
      await this.orders.expireOrder(tx, order.id, now)
    return updated
  }

  private async onSucceeded(tx: Tx, order: OrderRow, payment: PaymentRow, now: Date): Promise<void> {
    if (order.status === 'created') {
      await this.orders.markPaid(tx, order.id, payment.id, now)
      // Refunds or disputes the provider reported before this success count from now on, and a refund
      // counted now is announced as it would have been had the events come in order.
      const settled = await this.settleOrder(tx, order.id, payment.id, now)
      if (settled && settled.after.amount_refunded > settled.before.amount_refunded)
        await this.emitPaymentEvent(tx, 'order.refunded', order.id, now)
      return
    }
    // The order was paid by another payment, or had expired: the money goes back, and the merchant hears.
    await tx
      .insertInto('refunds')
      .values({
        id: newPrefixedId('re'),
        merchant_id: order.merchant_id,
        order_id: order.id,
        payment_id: payment.id,
        amount: payment.amount,
        currency: payment.currency,
        reason: order.payment_id ? 'duplicate' : 'order_expired',
        origin: 'automatic',
        status: 'pending',
        provider_ref: null,
        failure_reason: null,
        created_at: now,
        updated_at: now,
      })
      .execute()
    await this.emitPaymentEvent(tx, 'order.late_payment', order.id, now)
  }

  /** Brings a paid order's state and counters in line with its payment's refunds and disputes. */
  private async settleOrder(tx: Tx, orderId: string, paymentId: string, now: Date) {
    const refunded = await repo.refundedAmount(tx, paymentId)
    await tx.updateTable('payments').set({ amount_refunded: refunded }).where('id', '=', paymentId).execute()
    return this.orders.settleMoney(
      tx,
      orderId,
      { paymentId, refunded, disputed: await repo.hasUnsettledDispute(tx, paymentId) },
      now,
    )
  }

  /** Applies one normalised provider update of an account; `deferred` when it names a payment not known yet. */
  async apply(
    tx: Tx,
    accountId: string,
    update: Exclude<ProviderUpdate, { kind: 'setup' }>,
    now: Date,
  ): Promise<Applied> {
    switch (update.kind) {
      case 'payment': {
        const payment = await repo.findPaymentOfAccount(tx, accountId, update)
        if (!payment) return 'deferred'
        const before = payment.status
        const after = await this.applyPayment(tx, payment.id, update.snapshot, now)
        return after.status !== before || after.provider_payment_id !== payment.provider_payment_id
          ? 'applied'
          : 'ignored'
      }
      case 'refund':
        return this.applyRefund(tx, accountId, update, now)
      case 'dispute':
        return this.applyDispute(tx, accountId, update, now)
    }
  }

  async applyRefund(
    tx: Tx,
    accountId: string,
    update: Extract<ProviderUpdate, { kind: 'refund' }>,
    now: Date,
  ): Promise<Applied> {
    const payment = await repo.findPaymentOfAccount(tx, accountId, update.payment)
    if (!payment) return 'deferred'
    const order = (await this.orders.lock(tx, payment.order_id)) as OrderRow
    await repo.lockPayment(tx, payment.id)
    const { snapshot } = update
    const existing = await repo.findRefund(tx, payment.id, {
      reference: update.reference,
      providerRef: snapshot.providerRef,
    })
    let refund: RefundRow
    let previous: RefundStatus | undefined
    if (!existing) {
      // Made in the provider's own dashboard: it is ours to show all the same.
      refund = await tx
        .insertInto('refunds')
        .values({
          id: newPrefixedId('re'),
          merchant_id: order.merchant_id,
          order_id: order.id,
          payment_id: payment.id,
          amount: snapshot.amount,
          currency: update.currency.toUpperCase(),
          reason: update.reason,
          origin: 'provider',
          status: snapshot.status,
          provider_ref: snapshot.providerRef,
          failure_reason: snapshot.failureReason ?? null,
          created_at: now,
          updated_at: now,
          settled_at: snapshot.status === 'pending' ? null : now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()
    } else {
      previous = existing.status
      const next = nextRefundStatus(existing.status, snapshot.status)
      if (!next && existing.provider_ref) return 'ignored'
      refund = await tx
        .updateTable('refunds')
        .set({
          status: next ?? existing.status,
          provider_ref: existing.provider_ref ?? snapshot.providerRef,
          failure_reason:
            next === 'failed'
              ? (snapshot.failureReason ?? 'the provider could not refund')
              : existing.failure_reason,
          settled_at: next && next !== 'pending' ? now : existing.settled_at,
          updated_at: now,
        })
        .where('id', '=', existing.id)
        .returningAll()
        .executeTakeFirstOrThrow()
      if (!next) return 'applied'
    }
    const wasSucceeded = previous === 'succeeded'
    const isSucceeded = refund.status === 'succeeded'
    if (wasSucceeded !== isSucceeded) {
      const settled =
        order.payment_id === payment.id ? await this.settleOrder(tx, order.id, payment.id, now) : undefined
      if (!settled) {
        // A refund of a payment that did not pay the order (a late one) changes only the payment.
        const refunded = await repo.refundedAmount(tx, payment.id)
        await tx
          .updateTable('payments')
          .set({ amount_refunded: refunded })
          .where('id', '=', payment.id)
          .execute()
      }
      if (settled && settled.after.amount_refunded > settled.before.amount_refunded)
        await this.emitPaymentEvent(tx, 'order.refunded', order.id, now)
    }
    const subject = { refundId: refund.id }
    if (refund.status === 'succeeded' && previous !== 'succeeded')
      await this.emitPaymentEvent(tx, 'refund.succeeded', order.id, now, subject)
    if (refund.status === 'failed' && previous !== 'failed')
      await this.emitPaymentEvent(tx, 'refund.failed', order.id, now, subject)
    return 'applied'
  }

  async applyDispute(
    tx: Tx,
    accountId: string,
    update: Extract<ProviderUpdate, { kind: 'dispute' }>,
    now: Date,
  ): Promise<Applied> {
    const payment = await repo.findPaymentOfAccount(tx, accountId, update.payment)
    if (!payment) return 'deferred'
    const order = (await this.orders.lock(tx, payment.order_id)) as OrderRow
    await repo.lockPayment(tx, payment.id)
    const existing = await repo.findDispute(tx, payment.id, update.providerRef)
    let opened = false
    let closed = false
    const disputeId = existing?.id ?? newPrefixedId('dsp')
    if (!existing) {
      await tx
        .insertInto('disputes')
        .values({
          id: disputeId,
          merchant_id: order.merchant_id,
          order_id: order.id,
          payment_id: payment.id,
          provider_ref: update.providerRef,
          amount: update.amount,
          currency: update.currency.toUpperCase(),
          reason: update.reason,
          status: update.status,
          opened_at: now,
          closed_at: update.status === 'open' ? null : now,
          updated_at: now,
        })
        .execute()
      opened = true
      closed = update.status !== 'open'
    } else {
      const next = nextDisputeStatus(existing.status, update.status)
      if (!next) return 'ignored'
      await tx
        .updateTable('disputes')
        .set({ status: next, closed_at: now, updated_at: now })
        .where('id', '=', existing.id)
        .execute()
      closed = true
    }
    if (order.payment_id === payment.id) await this.settleOrder(tx, order.id, payment.id, now)
    if (opened) await this.emitPaymentEvent(tx, 'dispute.opened', order.id, now, { disputeId })
    if (closed) await this.emitPaymentEvent(tx, 'dispute.closed', order.id, now, { disputeId })
    return 'applied'
  }
}

/** Webhook events of the money of an order; each carries the order as the API shows it. */
export type MoneyEventType =
  | 'order.payment_failed'
  | 'order.late_payment'
  | 'order.refunded'
  | 'refund.succeeded'
  | 'refund.failed'
  | 'dispute.opened'
  | 'dispute.closed'
