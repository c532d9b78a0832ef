import { type Static, Type } from 'typebox'
import type { ErrorCode, ValidationCodeRule } from '../../lib/errors.js'
import { ObjectId, PageOf, PaginationQuery, PaylinkId, Text } from '../../lib/http.js'
import type { PaylinkRow } from '../../lib/schema.js'
import { type ProtoTimestamp, toProtoTimestamp } from '../../lib/time.js'
import { type Figures, grossTotalIn } from '../analytics/service.js'

export const MAX_PRODUCTS = 6

const Timestamp = Type.Object(
  { seconds: Type.Integer(), nanos: Type.Integer({ minimum: 0, maximum: 999_999_999 }) },
  { $id: 'Timestamp', description: 'Seconds since the Unix epoch and the nanoseconds within that second' },
)

export { Timestamp }

export const Paylink = Type.Object(
  {
    id: PaylinkId,
    object: Type.Literal('paylink'),
    products: Type.Array(ObjectId(), { description: 'Product ids, in the order given' }),
    expires_at: Type.Ref('Timestamp'),
    created_at: Type.Ref('Timestamp'),
    updated_at: Type.Ref('Timestamp'),
    merchant_id: ObjectId(),
    project_id: ObjectId(),
    name: Type.Union([Type.String(), Type.Null()]),
    life_days: Type.Integer(),
    is_expired: Type.Boolean(),
    url: Type.String({ description: 'The public URL buyers open, without UTM tags' }),
    // The figures PaySuper's later paylinks API puts on the object, under its names.
    visits: Type.Integer({ description: 'Visits of the public URL, ever' }),
    sales_count: Type.Integer({ description: 'Paid orders made from those visits' }),
    conversion: Type.Number({ description: 'sales_count / visits, from 0 to 1; 0 without visits' }),
    revenue: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), {
      description: 'Paid amounts in minor units, per currency',
    }),
    transactions_currency: Type.String({
      description: 'The currency of gross_total_amount: the project’s default currency',
    }),
    gross_total_amount: Type.Number({
      description:
        'Paid revenue in transactions_currency, in its major units (19.99 for 1999 USD cents); revenue in other currencies is only in `revenue`',
    }),
  },
  { $id: 'Paylink' },
)
export type Paylink = Static<typeof Paylink>

export const PaylinkBody = Type.Object(
  {
    products: Type.Array(ObjectId(), {
      minItems: 1,
      maxItems: MAX_PRODUCTS,
      uniqueItems: true,
      description: '1 to 6 distinct products of the project',
    }),
    project_id: ObjectId(),
    life_days: Type.Integer({
      description: 'Days until the link expires; one of the allowed values (default 1, 7, 30)',
    }),
    name: Type.Optional(Text(200, { description: 'A label for the merchant' })),
  },
  { additionalProperties: false },
)
export type PaylinkBody = Static<typeof PaylinkBody>

/** An update may also carry the link's own id, as PaySuper's dashboard sends it; any other id is a 400. */
export const PaylinkUpdateBody = Type.Object(
  {
    ...PaylinkBody.properties,
    id: Type.Optional(Type.String({ maxLength: 64, description: 'The id of the paylink in the path' })),
  },
  { additionalProperties: false },
)
export type PaylinkUpdateBody = Static<typeof PaylinkUpdateBody>

export const PaylinkParams = Type.Object({ paylink_id: PaylinkId })

/** A malformed paylink id cannot name a paylink: it answers like any unknown one. */
const paylinkIdNotFound: ValidationCodeRule = { field: 'paylink_id', rules: ['pattern'], code: 'pl000002' }
const productCount: ValidationCodeRule = {
  field: 'products',
  rules: ['minItems', 'maxItems'],
  code: 'pl000005',
}
export const paylinkValidationCodes = (...extra: ValidationCodeRule[]) => [paylinkIdNotFound, ...extra]
export const bodyValidationCodes = [productCount]

export const UrlQuery = Type.Object({
  utm_source: Type.Optional(Type.String({ maxLength: 200 })),
  utm_medium: Type.Optional(Type.String({ maxLength: 200 })),
  utm_campaign: Type.Optional(Type.String({ maxLength: 200 })),
  utm_campagin: Type.Optional(
    Type.String({
      maxLength: 200,
      description: 'Accepted as an alias of utm_campaign (the spelling of the original API)',
    }),
  ),
  utm_term: Type.Optional(Type.String({ maxLength: 200 })),
  utm_content: Type.Optional(Type.String({ maxLength: 200 })),
})
export type UrlQuery = Static<typeof UrlQuery>

export const PaylinkUrl = Type.Object({ url: Type.String() })

export const PaylinkStat = Type.Object({
  visits: Type.Integer(),
  unique_visitors: Type.Integer(),
  orders: Type.Integer(),
  paid_orders: Type.Integer(),
  conversion: Type.Number({ description: 'paid_orders / visits, from 0 to 1; 0 without visits' }),
  revenue: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), {
    description: 'Paid amounts in minor units, per currency',
  }),
  refunded: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), {
    description: 'Refunded amounts in minor units, per currency',
  }),
  net_revenue: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), {
    description: 'Revenue less refunds, in minor units per currency',
  }),
})
export type PaylinkStat = Static<typeof PaylinkStat>

export const ListQuery = PaginationQuery

export const PaylinkList = PageOf('paylinks', Type.Ref('Paylink'), { project_id: ObjectId() })

/** Every link of the merchant, as PaySuper's later API lists them: `{count, items}`, with our paging. */
export const MerchantPaylinkList = PageOf('items', Type.Ref('Paylink'), {
  count: Type.Integer({ description: 'The number of links found, as total' }),
})

export interface PaylinkWithProducts extends PaylinkRow {
  product_ids: string[]
}

/** A paylink with what its object shows besides its own row: its project's currency and its figures. */
export interface PaylinkDetail extends PaylinkWithProducts {
  default_currency: string
  figures: Figures
}

export function paylinkView(row: PaylinkDetail, now: Date, publicUrl: string): Paylink {
  const ts = (d: Date): ProtoTimestamp => toProtoTimestamp(d)
  return {
    id: row.id,
    object: 'paylink',
    products: row.product_ids,
    expires_at: ts(row.expires_at),
    created_at: ts(row.created_at),
    updated_at: ts(row.updated_at),
    merchant_id: row.merchant_id,
    project_id: row.project_id,
    name: row.name,
    life_days: row.life_days,
    is_expired: isExpired(row, now),
    url: `${publicUrl}/paylink/${row.id}`,
    visits: row.figures.visits,
    sales_count: row.figures.paid_orders,
    conversion: row.figures.conversion,
    revenue: row.figures.revenue,
    transactions_currency: row.default_currency,
    gross_total_amount: grossTotalIn(row.figures.revenue, row.default_currency),
  }
}

/** A link is usable up to, and not at, its expiry instant. */
export function isExpired(row: Pick<PaylinkRow, 'expires_at'>, now: Date): boolean {
  return now.getTime() >= row.expires_at.getTime()
}

export type { ErrorCode }
