import { type Static, Type } from 'typebox'
import { IsoDateTime, Money, ObjectId, PagedQuery, PageOf, Text } from '../../lib/http.js'
import type { ProductRow } from '../../lib/schema.js'

export const SKU_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$'
const Sku = Type.String({
  pattern: SKU_PATTERN,
  'x-error': 'must be 1 to 64 letters, digits or . _ : / - and start with a letter or digit',
  examples: ['1001'],
})
const Name = Text(200)
const Description = Text(2000)
const Prices = Type.Array(Money, {
  minItems: 1,
  maxItems: 50,
  description: 'One price per currency, in minor units',
})

export const Product = Type.Object(
  {
    id: ObjectId(),
    object: Type.Literal('product'),
    merchant_id: ObjectId(),
    project_id: ObjectId(),
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    sku: Type.Union([Type.String(), Type.Null()], {
      description: 'Unique among the live products of the project',
    }),
    prices: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() })),
    archived: Type.Boolean({ description: 'Archived products cannot be added to paylinks' }),
    archived_at: Type.Union([IsoDateTime, Type.Null()]),
    created_at: IsoDateTime,
    updated_at: IsoDateTime,
  },
  { $id: 'Product' },
)
export type Product = Static<typeof Product>

export const CreateProductBody = Type.Object(
  {
    project_id: ObjectId(),
    name: Name,
    description: Type.Optional(Description),
    sku: Type.Optional(Sku),
    prices: Prices,
  },
  { additionalProperties: false },
)
export type CreateProductBody = Static<typeof CreateProductBody>

export const UpdateProductBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    sku: Type.Optional(Type.Union([Sku, Type.Null()])),
    prices: Type.Optional(Prices),
    archived: Type.Optional(Type.Boolean({ description: 'Archive or restore the product' })),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type UpdateProductBody = Static<typeof UpdateProductBody>

export const ProductParams = Type.Object({ product_id: ObjectId() })

export const ListProductsQuery = PagedQuery({
  project_id: Type.Optional(ObjectId('Only the products of this project')),
  include_archived: Type.Optional(Type.Boolean({ default: false })),
})
export type ListProductsQuery = Static<typeof ListProductsQuery>

export const ProductList = PageOf('products', Type.Ref('Product'), {
  project_id: Type.Union([ObjectId(), Type.Null()]),
})

export interface Price {
  currency: string
  amount: number
}

export interface ProductWithPrices extends ProductRow {
  prices: Price[]
}

export function productView(row: ProductWithPrices): Product {
  return {
    id: row.id,
    object: 'product',
    merchant_id: row.merchant_id,
    project_id: row.project_id,
    name: row.name,
    description: row.description,
    sku: row.sku,
    prices: row.prices.map((p) => ({ currency: p.currency, amount: p.amount })),
    archived: row.archived_at !== null,
    archived_at: row.archived_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}
