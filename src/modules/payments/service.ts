// The payments module's face to the rest of paylinks: buyer-side payments, the events inbox, refunds,
// and the sweep that reconciles what the provider has not told us yet. Each use case lives in its own
// file; this class only holds what they share.
import type { Db } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { Clock } from '../../lib/time.js'
import type { OrderService } from '../orders/service.js'
import type { ProviderAccounts } from './accounts.js'
import type { PaymentDeps, SetupUpdates } from './context.js'
import { moneyEventEmitter } from './events.js'
import { idempotent, type StoredAnswer } from './idempotency.js'
import { receiveEvent, retryDeferred } from './inbox.js'
import { closeDueSessions, reconcileDue } from './reconcile.js'
import { createRefund, listRefunds, lookUpPendingRefunds, sendUnsentRefunds } from './refunds.js'
import type { CreateRefundBody } from './schemas.js'
import { Settlement } from './settle.js'
import { cancelPayment, refreshPayment, startPayment } from './start-payment.js'

export interface SweepResult {
  reconciled: number
  closedSessions: number
  expired: string[]
  deferredApplied: number
  refundsSent: number
  refundsLookedUp: number
}

export class PaymentService {
  readonly deps: PaymentDeps

  constructor(
    db: Db,
    clock: Clock,
    logger: Logger,
    readonly accounts: ProviderAccounts,
    private readonly orders: OrderService,
    setups: SetupUpdates,
    publicUrl: string,
  ) {
    const settlement = new Settlement(orders, moneyEventEmitter(orders, publicUrl))
    this.deps = { db, clock, logger, accounts, orders, settlement, setups, publicUrl }
  }

  start(orderId: string, email: string) {
    return startPayment(this.deps, orderId, email)
  }

  refresh(orderId: string, paymentId: string) {
    return refreshPayment(this.deps, orderId, paymentId)
  }

  cancel(orderId: string, paymentId: string) {
    return cancelPayment(this.deps, orderId, paymentId)
  }

  receiveEvent(accountId: string, rawBody: Buffer, headers: Record<string, string | string[] | undefined>) {
    return receiveEvent(this.deps, accountId, rawBody, headers)
  }

  refund(merchantId: string, orderId: string, input: CreateRefundBody, origin: 'api' | 'dashboard') {
    return createRefund(this.deps, merchantId, orderId, input, origin)
  }

  listRefunds(merchantId: string, orderId: string) {
    return listRefunds(this.deps, merchantId, orderId)
  }

  idempotent(
    merchantId: string,
    key: string,
    operation: string,
    request: unknown,
    work: () => Promise<StoredAnswer>,
  ) {
    return idempotent(this.deps, merchantId, key, operation, request, work)
  }

  /**
   * One pass of the background work: look up open payments that are due, close the sessions of orders
   * whose time is up, expire the orders left without an open payment, apply deferred events again, send
   * refunds that have not reached their provider and look up those it has not settled by event.
   */
  async sweep(): Promise<SweepResult> {
    const reconciled = await reconcileDue(this.deps)
    const closed = await closeDueSessions(this.deps)
    const expired = [...closed.expired]
    for (;;) {
      const batch = await this.orders.expireDue()
      expired.push(...batch)
      if (batch.length < 500) break
    }
    const deferredApplied = await retryDeferred(this.deps)
    const refundsSent = await sendUnsentRefunds(this.deps)
    const refundsLookedUp = await lookUpPendingRefunds(this.deps)
    return {
      reconciled,
      closedSessions: closed.closed,
      expired,
      deferredApplied,
      refundsSent,
      refundsLookedUp,
    }
  }
}
