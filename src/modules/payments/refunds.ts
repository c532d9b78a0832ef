// Refunds: asked by the merchant (the admin API, the dashboard), made automatically for a payment that an
// order could not take, or reported by the provider. A refund is written first, then sent to the
// provider outside the transaction with its id as the idempotency key; the provider's answer, and later
// its events, settle it. A refund the provider did not answer is sent again until it does.
import { AppError, invalid } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import { toDecimalString } from '../../lib/money.js'
import type { RefundOrigin, RefundRow } from '../../lib/schema.js'
import type { PaymentDeps } from './context.js'
import { ProviderError, type RefundSnapshot } from './provider.js'
import * as repo from './repo.js'
import type { CreateRefundBody } from './schemas.js'
import { handleOf } from './start-payment.js'

/** Refunds a paid order, in full by default or in part, up to what is left; answers the refund as sent. */
export async function createRefund(
  deps: PaymentDeps,
  merchantId: string,
  orderId: string,
  input: CreateRefundBody,
  origin: Extract<RefundOrigin, 'api' | 'dashboard'>,
): Promise<RefundRow> {
  const now = deps.clock.now()
  const refund = await deps.db.transaction().execute(async (tx) => {
    const order = await deps.orders.lock(tx, orderId)
    if (!order || order.merchant_id !== merchantId) throw new AppError('order_not_found')
    if (!order.payment_id)
      throw new AppError(
        'order_not_paid',
        `order ${order.id} is ${order.status}: it has no payment to refund`,
      )
    const payment = await repo.lockPayment(tx, order.payment_id)
    if (!payment) throw new AppError('order_not_paid')
    const left = payment.amount - (await repo.committedRefunds(tx, payment.id))
    if (left <= 0) throw invalid('amount', 'maximum', 'nothing is left to refund on this order')
    const amount = input.amount ?? left
    if (amount > left) {
      throw invalid(
        'amount',
        'maximum',
        `must be at most ${left} (${toDecimalString(left, payment.currency)} ${payment.currency}, the amount left to refund)`,
      )
    }
    return tx
      .insertInto('refunds')
      .values({
        id: newPrefixedId('re'),
        merchant_id: merchantId,
        order_id: order.id,
        payment_id: payment.id,
        amount,
        currency: payment.currency,
        reason: input.reason ?? null,
        origin,
        status: 'pending',
        provider_ref: null,
        failure_reason: null,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  })
  return sendRefund(deps, refund)
}

/** Applies what the provider says of a refund (its answer, or a lookup), in a transaction of its own. */
function applyRefundSnapshot(
  deps: PaymentDeps,
  accountId: string,
  refund: RefundRow,
  snapshot: RefundSnapshot,
): Promise<unknown> {
  return deps.db.transaction().execute((tx) =>
    deps.settlement.applyRefund(
      tx,
      accountId,
      {
        kind: 'refund',
        reference: refund.id,
        payment: { reference: refund.payment_id, providerPaymentId: null },
        snapshot,
        currency: refund.currency,
        reason: refund.reason,
      },
      deps.clock.now(),
    ),
  )
}

/** Sends a refund to its payment's provider and applies the answer; an unreachable provider leaves it unknown. */
export async function sendRefund(deps: PaymentDeps, refund: RefundRow): Promise<RefundRow> {
  const payment = await deps.db
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', refund.payment_id)
    .executeTakeFirstOrThrow()
  const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
  if (!bound) return refund
  try {
    const snapshot = await bound.provider.refund(bound.account, {
      reference: refund.id,
      payment: handleOf(payment),
      amount: refund.amount,
      currency: refund.currency,
      reason: refund.reason,
    })
    await applyRefundSnapshot(deps, bound.account.id, refund, snapshot)
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error
    const now = deps.clock.now()
    if (error.kind === 'unavailable') {
      deps.logger.warn({ err: error, refund: refund.id }, 'refund sent but not answered; it is unknown')
      await deps.db
        .updateTable('refunds')
        .set({ status: 'unknown', updated_at: now })
        .where('id', '=', refund.id)
        .where('status', 'in', ['pending', 'unknown'])
        .execute()
    } else {
      await deps.db
        .updateTable('refunds')
        .set({
          status: 'failed',
          failure_reason: error.message.slice(0, 500),
          settled_at: now,
          updated_at: now,
        })
        .where('id', '=', refund.id)
        .where('status', 'in', ['pending', 'unknown'])
        .execute()
    }
  }
  return deps.db.selectFrom('refunds').selectAll().where('id', '=', refund.id).executeTakeFirstOrThrow()
}

/** How long a refund waits for its first send (the request that made it) before the sweep sends it. */
const SEND_AFTER_MS = 10_000

/** Sends refunds that have not reached the provider, or whose send was not answered. */
export async function sendUnsentRefunds(deps: PaymentDeps, limit = 20): Promise<number> {
  const now = deps.clock.now()
  const claimed = await deps.db
    .updateTable('refunds')
    .set({ updated_at: now })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('refunds')
        .select('id')
        .where((w) =>
          w.or([
            w.and([w('status', '=', 'pending'), w('provider_ref', 'is', null)]),
            w('status', '=', 'unknown'),
          ]),
        )
        .where('updated_at', '<', new Date(now.getTime() - SEND_AFTER_MS))
        .orderBy('updated_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute()
  for (const refund of claimed) await sendRefund(deps, refund)
  return claimed.length
}

/** How long a refund sent may wait for its provider's event before it is looked up, and then again. */
const LOOKUP_AFTER_MS = 10 * 60_000

/**
 * Looks up refunds the provider accepted but has not settled by event (an event late or lost), and
 * applies what it says; each is looked at again no sooner than LOOKUP_AFTER_MS later.
 */
export async function lookUpPendingRefunds(deps: PaymentDeps, limit = 20): Promise<number> {
  const now = deps.clock.now()
  const claimed = await deps.db
    .updateTable('refunds')
    .set({ updated_at: now })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('refunds')
        .select('id')
        .where('status', '=', 'pending')
        .where('provider_ref', 'is not', null)
        .where('updated_at', '<', new Date(now.getTime() - LOOKUP_AFTER_MS))
        .orderBy('updated_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute()
  for (const refund of claimed) {
    const payment = await deps.db
      .selectFrom('payments')
      .selectAll()
      .where('id', '=', refund.payment_id)
      .executeTakeFirstOrThrow()
    const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
    if (!bound) continue
    try {
      const snapshot = await bound.provider.retrieveRefund(bound.account, {
        reference: refund.id,
        providerRef: refund.provider_ref as string,
      })
      await applyRefundSnapshot(deps, bound.account.id, refund, snapshot)
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      deps.logger.warn({ err: error, refund: refund.id }, 'refund lookup failed; trying again later')
    }
  }
  return claimed.length
}

export async function listRefunds(
  deps: PaymentDeps,
  merchantId: string,
  orderId: string,
): Promise<RefundRow[]> {
  const order = await deps.db
    .selectFrom('orders')
    .select('id')
    .where('id', '=', orderId)
    .where('merchant_id', '=', merchantId)
    .executeTakeFirst()
  if (!order) throw new AppError('order_not_found')
  return deps.db
    .selectFrom('refunds')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
}
