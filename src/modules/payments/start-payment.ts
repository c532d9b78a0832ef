// The buyer's side of a payment: start one (or resume the open one) and send the buyer to the provider's
// page; on their return, look the payment up before saying anything; cancel when they give up. The
// provider is called outside any transaction; what it answers is applied in one.
import { newPrefixedId } from '../../lib/ids.js'
import { isUniqueViolation } from '../../lib/pg-errors.js'
import type { OrderRow, OrderStatus, PaymentRow } from '../../lib/schema.js'
import type { OrderDetail } from '../orders/schemas.js'
import type { BoundProvider } from './accounts.js'
import type { PaymentDeps } from './context.js'
import { type PaymentHandle, ProviderError, type StartPaymentInput } from './provider.js'
import * as repo from './repo.js'
import { nextCheckAt } from './settle.js'

export type StartResult =
  | { kind: 'redirect'; url: string; payment: PaymentRow }
  /** A payment is with the provider and no page of it can be shown: its outcome decides. */
  | { kind: 'in_progress'; payment: PaymentRow }
  /** The order is past taking payments: paid, refunded, expired… */
  | { kind: 'closed'; status: OrderStatus }
  | { kind: 'not_found' }
  /** The provider refuses this payment (its amount rules, or the call): nothing was charged. */
  | { kind: 'refused'; message: string }
  /** The provider could not be reached: the payment is `unknown` and is looked up until it is final. */
  | { kind: 'unavailable'; payment: PaymentRow }

/** A payment's handle at its provider. */
export function handleOf(payment: PaymentRow): PaymentHandle {
  return {
    reference: payment.id,
    providerRef: payment.provider_ref,
    providerPaymentId: payment.provider_payment_id,
  }
}

/** What the provider is asked to take: rebuilt from the order and the payment, so a replay asks the same. */
export function paymentInput(deps: PaymentDeps, order: OrderDetail, payment: PaymentRow): StartPaymentInput {
  const paymentId = payment.id
  const base = `${deps.publicUrl}/pay/${order.id}`
  return {
    reference: paymentId,
    orderId: order.id,
    amount: order.total_amount,
    currency: order.currency,
    lineItems: order.items.map((i) => ({ name: i.name, quantity: i.quantity, unitAmount: i.unit_amount })),
    email: order.buyer_email,
    description: `Order ${order.id}`,
    returnUrl: `${base}/return?payment=${paymentId}`,
    cancelUrl: `${base}/cancel?payment=${paymentId}`,
    expiresAt: order.expires_at,
    startedAt: payment.created_at,
  }
}

/**
 * Starts a payment of an open order, or resumes its open one: one open payment per order, enforced by the
 * database, so concurrent submits reach the provider with one payment (and one idempotency key).
 */
export async function startPayment(deps: PaymentDeps, orderId: string, email: string): Promise<StartResult> {
  const now = deps.clock.now()
  type Claim =
    | { kind: 'claimed' | 'resume'; payment: PaymentRow }
    | { kind: 'closed'; status: OrderStatus }
    | { kind: 'not_found' }
    | { kind: 'refused'; message: string }
  // The provider account is found (and, on a merchant's first payment, made) before the transaction:
  // inside it, a second connection of the pool would be needed while the transaction holds one.
  const project = await deps.db
    .selectFrom('orders')
    .select('project_id')
    .where('id', '=', orderId)
    .executeTakeFirst()
  if (!project) return { kind: 'not_found' }
  const bound = await deps.accounts.forProject(deps.db, project.project_id)
  let claim: Claim
  try {
    claim = await deps.db.transaction().execute(async (tx): Promise<Claim> => {
      const order = await deps.orders.lock(tx, orderId)
      if (!order) return { kind: 'not_found' }
      if (order.status !== 'created') return { kind: 'closed', status: order.status }
      const open = await repo.openPaymentOf(tx, orderId)
      if (open) return { kind: 'resume', payment: open }
      if (order.expires_at.getTime() <= now.getTime()) {
        await deps.orders.expireOrder(tx, orderId, now)
        return { kind: 'closed', status: 'expired' }
      }
      const problem = bound.provider.amountProblem(order.total_amount, order.currency)
      if (problem) return { kind: 'refused', message: problem }
      await tx
        .updateTable('orders')
        // The order is the money of the account its payment goes to (its project may have switched since).
        .set({ buyer_email: email, livemode: bound.account.livemode, updated_at: now })
        .where('id', '=', orderId)
        .execute()
      const payment = await tx
        .insertInto('payments')
        .values(newPaymentRow(order, bound, now))
        .returningAll()
        .executeTakeFirstOrThrow()
      return { kind: 'claimed', payment }
    })
  } catch (error) {
    // Another submit claimed the order between our check and our insert: resume its payment.
    if (!isUniqueViolation(error, 'payments_one_open_per_order')) throw error
    const open = await repo.openPaymentOf(deps.db, orderId)
    if (!open) throw error
    claim = { kind: 'resume', payment: open }
  }
  switch (claim.kind) {
    case 'not_found':
    case 'closed':
    case 'refused':
      return claim
    case 'resume':
      return resume(deps, claim.payment)
    case 'claimed':
      return callProvider(deps, claim.payment)
  }
}

function newPaymentRow(order: OrderRow, bound: BoundProvider, now: Date) {
  return {
    id: newPrefixedId('pay'),
    order_id: order.id,
    status: 'pending' as const,
    provider: bound.account.provider,
    provider_account_id: bound.account.id,
    provider_ref: null,
    livemode: bound.account.livemode,
    amount: order.total_amount,
    currency: order.currency,
    card_brand: null,
    card_last4: null,
    card_exp_month: null,
    card_exp_year: null,
    failure_code: null,
    failure_message: null,
    created_at: now,
    updated_at: now,
    // Should this process die before the provider answers, the reconciler replays the call soon.
    next_check_at: new Date(now.getTime() + 5_000),
  }
}

async function resume(deps: PaymentDeps, payment: PaymentRow): Promise<StartResult> {
  if ((payment.status === 'pending' || payment.status === 'requires_action') && payment.redirect_url)
    return { kind: 'redirect', url: payment.redirect_url, payment }
  // The provider never answered the start: ask again with the same reference, which it treats as the
  // same request (its idempotency key), so a session made meanwhile is the one the buyer gets.
  if (!payment.provider_ref && (payment.status === 'pending' || payment.status === 'unknown'))
    return callProvider(deps, payment)
  return { kind: 'in_progress', payment }
}

async function callProvider(deps: PaymentDeps, payment: PaymentRow): Promise<StartResult> {
  const order = (await deps.orders.detail(deps.db, payment.order_id)) as OrderDetail
  const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
  if (!bound) throw new Error(`payment ${payment.id} names an unknown provider account`)
  try {
    const started = await bound.provider.startPayment(bound.account, paymentInput(deps, order, payment))
    const now = deps.clock.now()
    const updated = await deps.db.transaction().execute(async (tx) => {
      await deps.orders.lock(tx, order.id)
      await tx
        .updateTable('payments')
        .set({ provider_ref: started.providerRef, redirect_url: started.redirectUrl, updated_at: now })
        .where('id', '=', payment.id)
        .execute()
      return deps.settlement.applyPayment(tx, payment.id, started.snapshot, now)
    })
    if (repo.isOpen(updated.status) && updated.status !== 'processing')
      return { kind: 'redirect', url: started.redirectUrl, payment: updated }
    return { kind: 'in_progress', payment: updated }
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error
    const now = deps.clock.now()
    if (error.kind === 'unavailable') {
      deps.logger.warn(
        { err: error, payment: payment.id },
        'payment provider unreachable; the payment is unknown',
      )
      const unknown = await deps.db
        .updateTable('payments')
        .set({ status: 'unknown', next_check_at: nextCheckAt('unknown', 0, now), updated_at: now })
        .where('id', '=', payment.id)
        .where('status', 'in', ['pending', 'unknown'])
        .returningAll()
        .executeTakeFirst()
      return { kind: 'unavailable', payment: unknown ?? payment }
    }
    // A definite refusal: nothing was made at the provider, so the order may try again.
    deps.logger.warn({ err: error, payment: payment.id }, 'payment provider refused the payment')
    await deps.db.transaction().execute(async (tx) => {
      await deps.orders.lock(tx, order.id)
      await deps.settlement.applyPayment(
        tx,
        payment.id,
        { status: 'failed', failure: { code: error.code ?? 'provider_refused', message: error.message } },
        now,
      )
    })
    return { kind: 'refused', message: error.message }
  }
}

/**
 * The truth of a payment on the buyer's return: looked up at the provider and applied before anything is
 * shown. When the provider cannot be reached the payment is `unknown` (the page says it is being
 * processed) and the reconciler looks it up until it is final.
 */
export async function refreshPayment(
  deps: PaymentDeps,
  orderId: string,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  const payment = await repo.paymentOfOrder(deps.db, orderId, paymentId)
  if (!payment || !repo.isOpen(payment.status) || !payment.provider_ref) return payment
  const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
  if (!bound) return payment
  try {
    const snapshot = await bound.provider.retrievePayment(bound.account, handleOf(payment))
    return await deps.db
      .transaction()
      .execute((tx) => deps.settlement.applyPayment(tx, payment.id, snapshot, deps.clock.now()))
  } catch (error) {
    if (!(error instanceof ProviderError) || error.kind !== 'unavailable') throw error
    // The buyer is back from the provider and the provider cannot say how it went: unknown, not failed.
    deps.logger.warn(
      { err: error, payment: payment.id },
      'payment lookup failed; unknown until the reconciler knows',
    )
    const now = deps.clock.now()
    const unknown = await deps.db
      .updateTable('payments')
      .set({ status: 'unknown', checks: 0, next_check_at: nextCheckAt('unknown', 0, now), updated_at: now })
      .where('id', '=', payment.id)
      .where('status', 'in', ['pending', 'requires_action', 'unknown'])
      .returningAll()
      .executeTakeFirst()
    return unknown ?? payment
  }
}

/**
 * The buyer gave up at the provider: close the session there, and apply what became of it (a session
 * completed meanwhile stays succeeded and pays the order). Failing to reach the provider leaves it open.
 */
export async function cancelPayment(
  deps: PaymentDeps,
  orderId: string,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  const payment = await repo.paymentOfOrder(deps.db, orderId, paymentId)
  if (!payment || !repo.isOpen(payment.status) || !payment.provider_ref) return payment
  return cancelAtProvider(deps, payment)
}

export async function cancelAtProvider(deps: PaymentDeps, payment: PaymentRow): Promise<PaymentRow> {
  const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
  if (!bound) return payment
  try {
    const snapshot = await bound.provider.cancelPayment(bound.account, handleOf(payment))
    return await deps.db
      .transaction()
      .execute((tx) => deps.settlement.applyPayment(tx, payment.id, snapshot, deps.clock.now()))
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error
    deps.logger.warn({ err: error, payment: payment.id }, 'could not cancel the payment at the provider')
    return payment
  }
}
