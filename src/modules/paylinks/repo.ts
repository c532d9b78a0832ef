import { type Executor, pageWithTotal } from '../../lib/db.js'
import type { PaylinkRow } from '../../lib/schema.js'
import type { PaylinkWithProducts } from './schemas.js'

/** A paylink row with its project's default currency, the currency its object reports revenue in. */
export type PaylinkWithCurrency = PaylinkWithProducts & { default_currency: string }

async function withProducts<R extends PaylinkRow>(
  db: Executor,
  rows: R[],
): Promise<(R & { product_ids: string[] })[]> {
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
): Promise<PaylinkWithCurrency | undefined> {
  let query = db
    .selectFrom('paylinks')
    .innerJoin('projects', 'projects.id', 'paylinks.project_id')
    .selectAll('paylinks')
    .select('projects.default_currency')
    .where('paylinks.id', '=', id)
    .where('paylinks.merchant_id', '=', merchantId)
    .where('paylinks.deleted_at', 'is', null)
  if (options.forUpdate) query = query.forUpdate('paylinks')
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

/** A page of the merchant's live links, newest first: of one project, or of all when none is given. */
export async function listPaylinks(
  db: Executor,
  merchantId: string,
  projectId: string | undefined,
  offset: number,
  limit: number,
) {
  let base = db
    .selectFrom('paylinks')
    .innerJoin('projects', 'projects.id', 'paylinks.project_id')
    .where('paylinks.merchant_id', '=', merchantId)
    .where('paylinks.deleted_at', 'is', null)
  if (projectId !== undefined) base = base.where('paylinks.project_id', '=', projectId)
  const { rows, total } = await pageWithTotal(base, (q) =>
    q
      .selectAll('paylinks')
      .select('projects.default_currency')
      .orderBy('paylinks.created_at', 'desc')
      .orderBy('paylinks.id', 'desc')
      .offset(offset)
      .limit(limit)
      .execute(),
  )
  return { rows: await withProducts(db, rows), total }
}
