import { type Static, Type } from 'typebox'
import { IsoDateTime, ObjectId, PagedQuery, PageOf, PaylinkId } from '../../lib/http.js'
import type { DisputeRow, OrderItemRow, OrderRow, PaymentRow, RefundRow } from '../../lib/schema.js'
import {
  DisputeView,
  disputeView,
  PaymentView,
  paymentView,
  RefundView,
  refundView,
} from '../payments/schemas.js'

export const ORDER_ID_PATTERN = '^ord_[0-9a-f]{24}$'
export const OrderId = Type.String({
  pattern: ORDER_ID_PATTERN,
  'x-error': 'must be an order id (ord_ and 24 hex)',
})
export const ORDER_STATUSES = [
  'created',
  'paid',
  'partially_refunded',
  'refunded',
  'disputed',
  'expired',
] as const
export const OrderStatus = Type.Enum([...ORDER_STATUSES], {
  description:
    'created: waiting for its payment; paid; partially_refunded / refunded: money came back; disputed: ' +
    'a dispute is open or was lost; expired: not paid in time',
})

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const Order = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('order'),
    merchant_id: ObjectId(),
    project_id: ObjectId(),
    paylink_id: Type.Union([PaylinkId, Type.Null()]),
    portal_id: Type.Union([Type.String(), Type.Null()]),
    back_url: Type.Union([Type.String(), Type.Null()], {
      description: 'Portal orders: where the buyer returns after paying',
    }),
    status: OrderStatus,
    currency: Type.String(),
    total_amount: Type.Integer({ description: 'In minor units of currency' }),
    items: Type.Array(
      Type.Object({
        product_id: ObjectId(),
        name: Type.String(),
        quantity: Type.Integer(),
        unit_amount: Type.Integer(),
        amount: Type.Integer(),
      }),
    ),
    utm: Type.Object({
      source: Nullable(Type.String()),
      medium: Nullable(Type.String()),
      campaign: Nullable(Type.String()),
    }),
    referrer_host: Nullable(Type.String()),
    country: Nullable(Type.String()),
    buyer_email: Nullable(Type.String()),
    payment_url: Type.String({ description: 'The hosted payment page of the order' }),
    amount_refunded: Type.Integer({
      description: 'In minor units: refunds of the payment that paid the order',
    }),
    livemode: Type.Boolean({
      description:
        'False when the order is (or was) paid in test mode: its project’s provider account, or its payment’s',
    }),
    payments: Type.Array(PaymentView, { description: 'Payments, failed ones included, oldest first' }),
    refunds: Type.Array(RefundView, { description: 'Refunds, oldest first' }),
    disputes: Type.Array(DisputeView, { description: 'Disputes, oldest first' }),
    created_at: IsoDateTime,
    updated_at: IsoDateTime,
    expires_at: IsoDateTime,
    paid_at: Type.Union([IsoDateTime, Type.Null()]),
  },
  { $id: 'Order' },
)
export type Order = Static<typeof Order>

export const ListOrdersQuery = PagedQuery({
  project_id: Type.Optional(ObjectId()),
  paylink_id: Type.Optional(PaylinkId),
  portal_id: Type.Optional(Type.String({ maxLength: 64 })),
  status: Type.Optional(OrderStatus),
})
export type ListOrdersQuery = Static<typeof ListOrdersQuery>

export const OrderList = PageOf('orders', Type.Ref('Order'))

export interface OrderDetail extends OrderRow {
  items: OrderItemRow[]
  payments: PaymentRow[]
  refunds: RefundRow[]
  disputes: DisputeRow[]
}

export function orderView(order: OrderDetail, publicUrl: string): Order {
  return {
    id: order.id,
    object: 'order',
    merchant_id: order.merchant_id,
    project_id: order.project_id,
    paylink_id: order.paylink_id,
    portal_id: order.portal_id,
    back_url: order.back_url,
    status: order.status,
    currency: order.currency,
    total_amount: order.total_amount,
    items: order.items.map((i) => ({
      product_id: i.product_id,
      name: i.name,
      quantity: i.quantity,
      unit_amount: i.unit_amount,
      amount: i.unit_amount * i.quantity,
    })),
    utm: { source: order.utm_source, medium: order.utm_medium, campaign: order.utm_campaign },
    referrer_host: order.referrer_host,
    country: order.country,
    buyer_email: order.buyer_email,
    payment_url: `${publicUrl}/pay/${order.id}`,
    amount_refunded: order.amount_refunded,
    livemode: order.livemode,
    payments: order.payments.map(paymentView),
    refunds: order.refunds.map(refundView),
    disputes: order.disputes.map(disputeView),
    created_at: order.created_at.toISOString(),
    updated_at: order.updated_at.toISOString(),
    expires_at: order.expires_at.toISOString(),
    paid_at: order.paid_at?.toISOString() ?? null,
  }
}
