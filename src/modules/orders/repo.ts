import { type ExpressionBuilder, sql } from 'kysely'
import { type Executor, inSnapshot, pageWithTotal } from '../../lib/db.js'
import type { Page } from '../../lib/http.js'
import type { DB, OrderItemRow, OrderRow } from '../../lib/schema.js'
import { moneyOf, OPEN_PAYMENT_STATUSES } from '../payments/repo.js'
import type { ListOrdersQuery, OrderDetail } from './schemas.js'

export async function insertOrder(db: Executor, order: OrderRow, items: OrderItemRow[]): Promise<void> {
  await db.insertInto('orders').values(order).execute()
  await db.insertInto('order_items').values(items).execute()
}

async function withDetails(db: Executor, orders: OrderRow[]): Promise<OrderDetail[]> {
  if (orders.length === 0) return []
  const ids = orders.map((o) => o.id)
  const [items, money] = await Promise.all([
    db
      .selectFrom('order_items')
      .selectAll()
      .where('order_id', 'in', ids)
      .orderBy('order_id')
      .orderBy('position')
      .execute(),
    moneyOf(db, ids),
  ])
  return orders.map((o) => ({
    ...o,
    items: items.filter((i) => i.order_id === o.id),
    payments: money.payments.filter((p) => p.order_id === o.id),
    refunds: money.refunds.filter((r) => r.order_id === o.id),
    disputes: money.disputes.filter((d) => d.order_id === o.id),
  }))
}

/** An order by id; scoped to a merchant when one is given (the admin API), unscoped for public pages. */
export async function findOrder(
  db: Executor,
  id: string,
  merchantId?: string,
): Promise<OrderDetail | undefined> {
  return inSnapshot(db, async (db) => {
    let query = db.selectFrom('orders').selectAll().where('id', '=', id)
    if (merchantId) query = query.where('merchant_id', '=', merchantId)
    const row = await query.executeTakeFirst()
    return row ? (await withDetails(db, [row]))[0] : undefined
  })
}

export function lockOrder(db: Executor, id: string) {
  return db.selectFrom('orders').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
}

export function listOrders(db: Executor, merchantId: string, q: ListOrdersQuery & Page) {
  return inSnapshot(db, (db) => listOrdersIn(db, merchantId, q))
}

async function listOrdersIn(db: Executor, merchantId: string, q: ListOrdersQuery & Page) {
  let base = db.selectFrom('orders').where('merchant_id', '=', merchantId)
  if (q.project_id) base = base.where('project_id', '=', q.project_id)
  if (q.paylink_id) base = base.where('paylink_id', '=', q.paylink_id)
  if (q.portal_id) base = base.where('portal_id', '=', q.portal_id)
  if (q.status) base = base.where('status', '=', q.status)
  const { rows, total } = await pageWithTotal(base, (page) =>
    page
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(q.offset)
      .limit(q.limit)
      .execute(),
  )
  return { rows: await withDetails(db, rows), total }
}

/** The order's open payment, if any: an order with one is never expired by the clock. */
export function openPayment(
  selectFrom: ExpressionBuilder<DB, 'orders'>['selectFrom'],
  orderId: 'orders.id' | 'o.id',
) {
  return selectFrom('payments as p')
    .select('p.id')
    .whereRef('p.order_id', '=', sql.ref(orderId))
    .where('p.status', 'in', OPEN_PAYMENT_STATUSES)
}

/**
 * Expires open orders whose time is up, a batch at a time; SKIP LOCKED lets every instance run this at
 * once without waiting on each other, and an order with an open payment is left to that payment.
 */
export async function expireDueOrders(db: Executor, now: Date, batch = 500): Promise<string[]> {
  const rows = await db
    .updateTable('orders')
    .set({ status: 'expired', updated_at: now })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('orders as o')
        .select('o.id')
        .where('o.status', '=', 'created')
        .where('o.expires_at', '<=', now)
        .where(({ not, exists, selectFrom }) => not(exists(openPayment(selectFrom, 'o.id'))))
        .orderBy('o.expires_at')
        .limit(batch)
        .forUpdate()
        .skipLocked(),
    )
    .where('status', '=', 'created')
    .returning('id')
    .execute()
  return rows.map((r) => r.id)
}
