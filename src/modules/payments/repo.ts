// The payments module's tables: payments, refunds, disputes and the provider events inbox.
import { sql } from 'kysely'
import type { Executor } from '../../lib/db.js'
import type { DisputeRow, PaymentRow, PaymentStatus, RefundRow } from '../../lib/schema.js'

export const OPEN_PAYMENT_STATUSES = ['pending', 'requires_action', 'processing', 'unknown'] as const
export type OpenPaymentStatus = (typeof OPEN_PAYMENT_STATUSES)[number]

export function isOpen(status: PaymentStatus): status is OpenPaymentStatus {
  return (OPEN_PAYMENT_STATUSES as readonly string[]).includes(status)
}

/** The payments, refunds and disputes of orders, oldest first, for the orders' views. */
export async function moneyOf(db: Executor, orderIds: string[]) {
  if (orderIds.length === 0) return { payments: [], refunds: [], disputes: [] }
  const [payments, refunds, disputes] = await Promise.all([
    db
      .selectFrom('payments')
      .selectAll()
      .where('order_id', 'in', orderIds)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('refunds')
      .selectAll()
      .where('order_id', 'in', orderIds)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('disputes')
      .selectAll()
      .where('order_id', 'in', orderIds)
      .orderBy('opened_at')
      .orderBy('id')
      .execute(),
  ])
  return { payments, refunds, disputes }
}

export function lockPayment(db: Executor, id: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
}

/** A payment of an order, as the buyer's return names them (a payment of another order is none). */
export function paymentOfOrder(
  db: Executor,
  orderId: string,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  return db
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', paymentId)
    .where('order_id', '=', orderId)
    .executeTakeFirst()
}

export function openPaymentOf(db: Executor, orderId: string): Promise<PaymentRow | undefined> {
  return db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .where('status', 'in', OPEN_PAYMENT_STATUSES)
    .executeTakeFirst()
}

/**
 * The payment of an account an event or a lookup names: by our reference first, else by the provider's
 * session or money-movement id. Never another account's payment, whatever the event says.
 */
export async function findPaymentOfAccount(
  db: Executor,
  accountId: string,
  by: { reference: string | null; providerRef?: string | null; providerPaymentId?: string | null },
): Promise<PaymentRow | undefined> {
  const base = db.selectFrom('payments').selectAll().where('provider_account_id', '=', accountId)
  if (by.reference) {
    const found = await base.where('id', '=', by.reference).executeTakeFirst()
    if (found) return found
  }
  if (by.providerRef) {
    const found = await base.where('provider_ref', '=', by.providerRef).executeTakeFirst()
    if (found) return found
  }
  if (by.providerPaymentId) {
    return base.where('provider_payment_id', '=', by.providerPaymentId).executeTakeFirst()
  }
  return undefined
}

export function findRefund(
  db: Executor,
  paymentId: string,
  by: { reference: string | null; providerRef: string },
): Promise<RefundRow | undefined> {
  return db
    .selectFrom('refunds')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .where((eb) =>
      by.reference
        ? eb.or([eb('id', '=', by.reference), eb('provider_ref', '=', by.providerRef)])
        : eb('provider_ref', '=', by.providerRef),
    )
    .forUpdate()
    .executeTakeFirst()
}

/** What of a payment has come back by succeeded refunds. */
export async function refundedAmount(db: Executor, paymentId: string): Promise<number> {
  const row = await db
    .selectFrom('refunds')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), sql<number>`0`).as('total'))
    .where('payment_id', '=', paymentId)
    .where('status', '=', 'succeeded')
    .executeTakeFirstOrThrow()
  return Number(row.total)
}

/** What of a payment is promised back already: refunds succeeded and refunds still on their way. */
export async function committedRefunds(db: Executor, paymentId: string): Promise<number> {
  const row = await db
    .selectFrom('refunds')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), sql<number>`0`).as('total'))
    .where('payment_id', '=', paymentId)
    .where('status', 'in', ['pending', 'unknown', 'succeeded'])
    .executeTakeFirstOrThrow()
  return Number(row.total)
}

export async function hasUnsettledDispute(db: Executor, paymentId: string): Promise<boolean> {
  const row = await db
    .selectFrom('disputes')
    .select('id')
    .where('payment_id', '=', paymentId)
    .where('status', 'in', ['open', 'lost'])
    .executeTakeFirst()
  return row !== undefined
}

export function findDispute(
  db: Executor,
  paymentId: string,
  providerRef: string,
): Promise<DisputeRow | undefined> {
  return db
    .selectFrom('disputes')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .where('provider_ref', '=', providerRef)
    .forUpdate()
    .executeTakeFirst()
}
