// The webhook events of an order's money. Each carries the order as the API shows it; refund and dispute
// events carry their refund or dispute, with the order beside it.
import type { Executor } from '../../lib/db.js'
import { orderView } from '../orders/schemas.js'
import type { OrderService } from '../orders/service.js'
import { emitEvent } from '../webhooks/events.js'
import { disputeView, refundView } from './schemas.js'
import type { MoneyEventType } from './settle.js'

export function moneyEventEmitter(orders: OrderService, publicUrl: string) {
  return async (
    tx: Executor,
    type: MoneyEventType,
    orderId: string,
    at: Date,
    subject: { refundId?: string; disputeId?: string } = {},
  ): Promise<void> => {
    const detail = await orders.detail(tx, orderId)
    if (!detail) return
    const order = orderView(detail, publicUrl)
    const refund = subject.refundId ? detail.refunds.find((r) => r.id === subject.refundId) : undefined
    const dispute = subject.disputeId ? detail.disputes.find((d) => d.id === subject.disputeId) : undefined
    const data = refund
      ? { ...refundView(refund), order }
      : dispute
        ? { ...disputeView(dispute), order }
        : order
    await emitEvent(tx, { merchantId: detail.merchant_id, type, data, at })
  }
}
