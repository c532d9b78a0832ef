// Orders: what a buyer is asked to pay, with its items priced when the order was made.
import type { Config } from '../../lib/config.js'
import type { Db, Executor, Tx } from '../../lib/db.js'
import { AppError } from '../../lib/errors.js'
import type { Page } from '../../lib/http.js'
import { newPrefixedId } from '../../lib/ids.js'
import { sumAmounts } from '../../lib/money.js'
import type { OrderItemRow, OrderRow, OrderStatus } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { recordPayment, recordRefund, type StatNames } from '../analytics/rollup.js'
import { emitEvent, type NewEvent } from '../webhooks/events.js'
import * as repo from './repo.js'
import { type ListOrdersQuery, type OrderDetail, orderView } from './schemas.js'

export type OrderEventType = 'order.created' | 'order.paid' | 'order.expired'

export interface NewOrder {
  merchantId: string
  projectId: string
  currency: string
  lines: { productId: string; name: string; quantity: number; unitAmount: number }[]
  /** Whether the project's provider account takes real money (a live key). */
  livemode: boolean
  /** Where the order comes from: a public paylink (with the visit's facts) or a portal (with its back URL). */
  source:
    | {
        paylinkId: string
        utm_source: string | null
        utm_medium: string | null
        utm_campaign: string | null
        referrer_host: string | null
        country: string | null
      }
    | { portalId: string; backUrl: string; successUrl: string | null }
}

export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'orderTtlMinutes' | 'publicUrl'>,
    private readonly statNames: StatNames,
  ) {}

  /** When an order made now expires. */
  expiryFrom(now: Date): Date {
    return new Date(now.getTime() + this.config.orderTtlMinutes * 60_000)
  }

  /** The rows of a new order priced now; the caller inserts them in its transaction. */
  build(input: NewOrder, now: Date): { order: OrderRow; items: OrderItemRow[] } {
    const id = newPrefixedId('ord')
    const items = input.lines.map((line, position) => ({
      order_id: id,
      position,
      product_id: line.productId,
      name: line.name,
      quantity: line.quantity,
      unit_amount: line.unitAmount,
    }))
    const { source } = input
    const fromPaylink = 'paylinkId' in source
    const order: OrderRow = {
      id,
      merchant_id: input.merchantId,
      project_id: input.projectId,
      paylink_id: fromPaylink ? source.paylinkId : null,
      portal_id: fromPaylink ? null : source.portalId,
      back_url: fromPaylink ? null : source.backUrl,
      success_url: fromPaylink ? null : source.successUrl,
      status: 'created',
      currency: input.currency,
      total_amount: sumAmounts(items.map((i) => i.unit_amount * i.quantity)),
      utm_source: fromPaylink ? source.utm_source : null,
      utm_medium: fromPaylink ? source.utm_medium : null,
      utm_campaign: fromPaylink ? source.utm_campaign : null,
      referrer_host: fromPaylink ? source.referrer_host : null,
      country: fromPaylink ? source.country : null,
      buyer_email: null,
      created_at: now,
      updated_at: now,
      expires_at: this.expiryFrom(now),
      paid_at: null,
      payment_id: null,
      amount_refunded: 0,
      livemode: input.livemode,
    }
    return { order, items }
  }

  /** An order with its items and money, whoever it belongs to (the buyer's pages, the payments module). */
  detail(db: Executor, id: string): Promise<OrderDetail | undefined> {
    return repo.findOrder(db, id)
  }

  async get(merchantId: string, id: string): Promise<OrderDetail> {
    const order = await repo.findOrder(this.db, id, merchantId)
    if (!order) throw new AppError('order_not_found')
    return order
  }

  list(merchantId: string, query: ListOrdersQuery & Page) {
    return repo.listOrders(this.db, merchantId, query)
  }

  /** The order.created event of a new order, built from its rows without reading them back. */
  createdEvent(order: OrderRow, items: OrderItemRow[]): NewEvent {
    const data = orderView(
      { ...order, items, payments: [], refunds: [], disputes: [] },
      this.config.publicUrl,
    )
    return { merchantId: order.merchant_id, type: 'order.created', data, at: order.created_at }
  }

  /** Announces an order event with the order as the API shows it, inside the caller's transaction. */
  async emit(tx: Executor, type: OrderEventType, orderId: string): Promise<void> {
    const detail = await repo.findOrder(tx, orderId)
    if (!detail) return
    const data = orderView(detail, this.config.publicUrl)
    await emitEvent(tx, { merchantId: detail.merchant_id, type, data, at: this.clock.now() })
  }

  /** Locks an order row for the caller's transaction: every writer of an order's money locks it first. */
  lock(tx: Executor, orderId: string): Promise<OrderRow | undefined> {
    return repo.lockOrder(tx, orderId)
  }

  /** Marks an open order paid by a payment, counts it and announces it; false if it was not open. */
  async markPaid(tx: Tx, orderId: string, paymentId: string, at: Date): Promise<boolean> {
    const paid = await tx
      .updateTable('orders')
      .set({ status: 'paid', paid_at: at, payment_id: paymentId, updated_at: at })
      .where('id', '=', orderId)
      .where('status', '=', 'created')
      .returningAll()
      .executeTakeFirst()
    if (!paid) return false
    await recordPayment(tx, this.statNames, paid)
    await this.emit(tx, 'order.paid', orderId)
    return true
  }

  /**
   * Sets a paid order's state from what came back of its payment: disputed while a dispute is open or
   * was lost, else refunded, partially refunded or paid by the amount refunded. Counts the change in
   * refunds in the statistics. Undefined when the order was never paid by this payment.
   */
  async settleMoney(
    tx: Tx,
    orderId: string,
    money: { paymentId: string; refunded: number; disputed: boolean },
    at: Date,
  ): Promise<{ before: OrderRow; after: OrderRow } | undefined> {
    const before = await repo.lockOrder(tx, orderId)
    if (!before || before.payment_id !== money.paymentId) return undefined
    const status: OrderStatus = money.disputed
      ? 'disputed'
      : money.refunded >= before.total_amount
        ? 'refunded'
        : money.refunded > 0
          ? 'partially_refunded'
          : 'paid'
    if (status === before.status && money.refunded === before.amount_refunded)
      return { before, after: before }
    const after = await tx
      .updateTable('orders')
      .set({ status, amount_refunded: money.refunded, updated_at: at })
      .where('id', '=', orderId)
      .returningAll()
      .executeTakeFirstOrThrow()
    const delta = after.amount_refunded - before.amount_refunded
    if (delta !== 0) await recordRefund(tx, this.statNames, after, delta)
    return { before, after }
  }

  /**
   * Expires one open, due order and announces it, inside the caller's transaction; false if it was not
   * open, not due, or has an open payment: that payment decides the order, not the clock.
   */
  async expireOrder(tx: Executor, orderId: string, now: Date): Promise<boolean> {
    const expired = await tx
      .updateTable('orders')
      .set({ status: 'expired', updated_at: now })
      .where('id', '=', orderId)
      .where('status', '=', 'created')
      .where('expires_at', '<=', now)
      .where(({ not, exists, selectFrom }) => not(exists(repo.openPayment(selectFrom, 'orders.id'))))
      .returning('id')
      .executeTakeFirst()
    if (expired) await this.emit(tx, 'order.expired', orderId)
    return expired !== undefined
  }

  /** Expires a batch of due orders and announces each, in one transaction. */
  async expireDue(batch = 500): Promise<string[]> {
    return this.db.transaction().execute(async (tx) => {
      const ids = await repo.expireDueOrders(tx, this.clock.now(), batch)
      for (const id of ids) await this.emit(tx, 'order.expired', id)
      return ids
    })
  }
}
