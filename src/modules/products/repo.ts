import { type Executor, pageWithTotal } from '../../lib/db.js'
import type { ProductRow } from '../../lib/schema.js'
import type { Price, ProductWithPrices } from './schemas.js'

async function withPrices(db: Executor, rows: ProductRow[]): Promise<ProductWithPrices[]> {
  if (rows.length === 0) return []
  const prices = await db
    .selectFrom('product_prices')
    .select(['product_id', 'currency', 'amount'])
    .where(
      'product_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('product_id')
    .orderBy('currency')
    .execute()
  const byProduct = new Map<string, Price[]>()
  for (const price of prices) {
    const list = byProduct.get(price.product_id) ?? []
    list.push({ currency: price.currency, amount: Number(price.amount) })
    byProduct.set(price.product_id, list)
  }
  return rows.map((row) => ({ ...row, prices: byProduct.get(row.id) ?? [] }))
}

/** Products of the merchant whose project is live; ids of other merchants are simply absent. */
function liveProducts(db: Executor, merchantId: string) {
  return db
    .selectFrom('products')
    .where('products.merchant_id', '=', merchantId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('projects')
          .select('projects.id')
          .whereRef('projects.id', '=', 'products.project_id')
          .where('projects.deleted_at', 'is', null),
      ),
    )
}

export async function findProduct(
  db: Executor,
  merchantId: string,
  id: string,
): Promise<ProductWithPrices | undefined> {
  const row = await liveProducts(db, merchantId)
    .selectAll('products')
    .where('products.id', '=', id)
    .executeTakeFirst()
  if (!row) return undefined
  return (await withPrices(db, [row]))[0]
}

export async function findProducts(
  db: Executor,
  merchantId: string,
  ids: string[],
  options: { lock?: 'share' } = {},
): Promise<ProductWithPrices[]> {
  if (ids.length === 0) return []
  let query = liveProducts(db, merchantId).selectAll('products').where('products.id', 'in', ids)
  if (options.lock === 'share') query = query.forShare()
  return withPrices(db, await query.execute())
}

export async function listProducts(
  db: Executor,
  merchantId: string,
  filter: { projectId?: string | undefined; includeArchived: boolean; offset: number; limit: number },
) {
  let base = liveProducts(db, merchantId)
  if (filter.projectId) base = base.where('products.project_id', '=', filter.projectId)
  if (!filter.includeArchived) base = base.where('products.archived_at', 'is', null)
  const { rows, total } = await pageWithTotal(base, (q) =>
    q
      .selectAll('products')
      .orderBy('products.created_at', 'desc')
      .orderBy('products.id', 'desc')
      .offset(filter.offset)
      .limit(filter.limit)
      .execute(),
  )
  return { rows: await withPrices(db, rows), total }
}

export async function insertProduct(
  db: Executor,
  product: Omit<ProductRow, 'archived_at'>,
  prices: Price[],
): Promise<ProductWithPrices> {
  const row = await db.insertInto('products').values(product).returningAll().executeTakeFirstOrThrow()
  await replacePrices(db, row.id, prices)
  return { ...row, prices: [...prices].sort((a, b) => a.currency.localeCompare(b.currency)) }
}

export async function replacePrices(db: Executor, productId: string, prices: Price[]): Promise<void> {
  await db.deleteFrom('product_prices').where('product_id', '=', productId).execute()
  await db
    .insertInto('product_prices')
    .values(prices.map((p) => ({ product_id: productId, currency: p.currency, amount: p.amount })))
    .execute()
}

export function updateProductRow(
  db: Executor,
  id: string,
  changes: Partial<Pick<ProductRow, 'name' | 'description' | 'sku' | 'archived_at' | 'updated_at'>>,
) {
  return db.updateTable('products').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
}

/** Locks the product row so concurrent changes to it (and its prices) are serialised. */
export function lockProduct(db: Executor, merchantId: string, id: string) {
  return liveProducts(db, merchantId)
    .selectAll('products')
    .where('products.id', '=', id)
    .forUpdate()
    .executeTakeFirst()
}

/** Whether a paylink (deleted ones included: their history stays) or an order refers to the product. */
export async function isReferenced(db: Executor, productId: string): Promise<boolean> {
  const row = await db
    .selectFrom('paylink_products')
    .select('product_id')
    .where('product_id', '=', productId)
    .unionAll(db.selectFrom('order_items').select('product_id').where('product_id', '=', productId))
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

export async function deleteProduct(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('products').where('id', '=', id).execute()
}

export async function skuTaken(
  db: Executor,
  projectId: string,
  sku: string,
  exceptId?: string,
): Promise<boolean> {
  let query = db
    .selectFrom('products')
    .select('id')
    .where('project_id', '=', projectId)
    .where('sku', '=', sku)
    .where('archived_at', 'is', null)
  if (exceptId) query = query.where('id', '!=', exceptId)
  return (await query.executeTakeFirst()) !== undefined
}
