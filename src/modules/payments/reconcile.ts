// The reconciler, run by the sweep in every server process: looks up payments left open (pending,
// requires_action, processing, unknown) with backoff until they are final; closes the sessions of orders
// whose time is up before expiring them; sends refunds that have not reached the provider. Work is
// claimed with SKIP LOCKED and a lease, so instances share it and each payment is asked about once.
import type { Executor } from '../../lib/db.js'
import type { PaymentRow } from '../../lib/schema.js'
import type { OrderDetail } from '../orders/schemas.js'
import type { PaymentDeps } from './context.js'
import { type PaymentSnapshot, ProviderError } from './provider.js'
import { OPEN_PAYMENT_STATUSES } from './repo.js'
import { nextCheckAt } from './settle.js'
import { cancelAtProvider, handleOf, paymentInput } from './start-payment.js'

/** How long a claimed payment is left to the process that claimed it. */
const LEASE_MS = 60_000

async function claimDue(deps: PaymentDeps, limit: number): Promise<PaymentRow[]> {
  const now = deps.clock.now()
  return deps.db
    .updateTable('payments')
    .set({ next_check_at: new Date(now.getTime() + LEASE_MS) })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('payments')
        .select('id')
        .where('status', 'in', OPEN_PAYMENT_STATUSES)
        .where('next_check_at', '<=', now)
        .orderBy('next_check_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute()
}

/** Looks each due open payment up once; answers how many it looked up. */
export async function reconcileDue(deps: PaymentDeps, limit = 50): Promise<number> {
  const due = await claimDue(deps, limit)
  for (const payment of due) await reconcileOne(deps, payment)
  return due.length
}

async function reconcileOne(deps: PaymentDeps, payment: PaymentRow): Promise<void> {
  const bound = await deps.accounts.byId(deps.db, payment.provider_account_id as string)
  if (!bound) return
  try {
    let snapshot: PaymentSnapshot
    let started: { providerRef: string; redirectUrl: string } | undefined
    if (!payment.provider_ref) {
      // The start never got an answer: the same request again, which the provider answers idempotently.
      const order = (await deps.orders.detail(deps.db, payment.order_id)) as OrderDetail
      const result = await bound.provider.startPayment(bound.account, paymentInput(deps, order, payment))
      started = result
      snapshot = result.snapshot
    } else {
      snapshot = await bound.provider.retrievePayment(bound.account, handleOf(payment))
    }
    const now = deps.clock.now()
    await deps.db.transaction().execute(async (tx) => {
      await deps.orders.lock(tx, payment.order_id)
      if (started) {
        await tx
          .updateTable('payments')
          .set({ provider_ref: started.providerRef, redirect_url: started.redirectUrl })
          .where('id', '=', payment.id)
          .execute()
      }
      // An unknown payment the provider knows as open is open again, and looked up on that schedule.
      const after = await deps.settlement.applyPayment(tx, payment.id, snapshot, now)
      if (after.status === payment.status) await backOff(tx, payment, now)
    })
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error
    deps.logger.warn({ err: error, payment: payment.id }, 'payment lookup failed; trying again later')
    await backOff(deps.db, payment, deps.clock.now())
  }
}

async function backOff(db: Executor, payment: PaymentRow, now: Date): Promise<void> {
  await db
    .updateTable('payments')
    .set({ checks: payment.checks + 1, next_check_at: nextCheckAt(payment.status, payment.checks + 1, now) })
    .where('id', '=', payment.id)
    .where('status', '=', payment.status)
    .execute()
}

/**
 * Orders whose time is up while their buyer's session is still open at the provider: the session is
 * closed there first, and what became of it decides — canceled, the order expires with it; completed
 * meanwhile, the success wins and pays the order. Answers how many it closed and the orders now expired.
 */
export async function closeDueSessions(
  deps: PaymentDeps,
  limit = 50,
): Promise<{ closed: number; expired: string[] }> {
  const now = deps.clock.now()
  const due = await deps.db
    .updateTable('payments')
    .set({ next_check_at: new Date(now.getTime() + LEASE_MS) })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('payments as p')
        .innerJoin('orders as o', 'o.id', 'p.order_id')
        .select('p.id')
        .where('o.status', '=', 'created')
        .where('o.expires_at', '<=', now)
        .where('p.status', 'in', ['pending', 'requires_action'])
        .where('p.provider_ref', 'is not', null)
        .limit(limit)
        .forUpdate('p')
        .skipLocked(),
    )
    .returningAll()
    .execute()
  const expired: string[] = []
  for (const payment of due) {
    await cancelAtProvider(deps, payment)
    // The cancel expires the order with it, or the provider's event of the closed session did first.
    const order = await deps.db
      .selectFrom('orders')
      .select('status')
      .where('id', '=', payment.order_id)
      .executeTakeFirstOrThrow()
    if (order.status === 'expired') expired.push(payment.order_id)
  }
  return { closed: due.length, expired }
}
