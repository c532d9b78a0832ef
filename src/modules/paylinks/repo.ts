import { type Executor, pageWithTotal } from '../../lib/db.js'
import type { PaylinkRow } from '../../lib/schema.js'
import type { PaylinkWithProducts } from './schemas.js'

async function withProducts(db: Executor, rows: PaylinkRow[]): Promise<PaylinkWithProducts[]> {
  if (rows.length === 0) return []
  const links = await db
    .selectFrom('paylink_products')
    .select(['paylink_id', 'product_id'])
    .where(
      'paylink_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('paylink_id')
    .orderBy('position')
    .execute()
  const byPaylink = new Map<string, string[]>()
  for (const link of links) {
    const ids = byPaylink.get(link.paylink_id) ?? []
    ids.push(link.product_id)
    byPaylink.set(link.paylink_id, ids)
  }
  return rows.map((row) => ({ ...row, product_ids: byPaylink.get(row.id) ?? [] }))
}

/** A live paylink of the merchant; deleted and other merchants' links are indistinguishable from none. */
export async function findPaylink(
  db: Executor,
  merchantId: string,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<PaylinkWithProducts | undefined> {
  let query = db
    .selectFrom('paylinks')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('deleted_at', 'is', null)
  if (options.forUpdate) query = query.forUpdate()
  const row = await query.executeTakeFirst()
  if (!row) return undefined
  return (await withProducts(db, [row]))[0]
}

export async function insertPaylink(db: Executor, row: Omit<PaylinkRow, 'deleted_at'>, productIds: string[]) {
  const inserted = await db.insertInto('paylinks').values(row).returningAll().executeTakeFirstOrThrow()
  await setProducts(db, inserted.id, productIds)
  return { ...inserted, product_ids: productIds }
}

export async function setProducts(db: Executor, paylinkId: string, productIds: string[]): Promise<void> {
  await db.deleteFrom('paylink_products').where('paylink_id', '=', paylinkId).execute()
  await db
    .insertInto('paylink_products')
    .values(
      productIds.map((productId, position) => ({ paylink_id: paylinkId, position, product_id: productId })),
    )
    .execute()
}

export function updatePaylinkRow(
  db: Executor,
  id: string,
  changes: Pick<PaylinkRow, 'life_days' | 'expires_at' | 'updated_at'> & Partial<Pick<PaylinkRow, 'name'>>,
) {
  return db.updateTable('paylinks').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
}

export async function listPaylinks(
  db: Executor,
  merchantId: string,
  projectId: string,
  offset: number,
  limit: number,
) {
  const base = db
    .selectFrom('paylinks')
    .where('merchant_id', '=', merchantId)
    .where('project_id', '=', projectId)
    .where('deleted_at', 'is', null)
  const { rows, total } = await pageWithTotal(base, (q) =>
    q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
  )
  return { rows: await withProducts(db, rows), total }
}
