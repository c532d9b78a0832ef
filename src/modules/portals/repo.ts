import { type Executor, pageWithTotal } from '../../lib/db.js'
import type { PaymentMethodRow, PortalKeyRow, PortalRow } from '../../lib/schema.js'

export function insertPortal(db: Executor, portal: Omit<PortalRow, 'deleted_at'>) {
  return db.insertInto('portals').values(portal).returningAll().executeTakeFirstOrThrow()
}

/** A live portal of the merchant; another merchant's or a deleted one is indistinguishable from none. */
export function findPortal(db: Executor, merchantId: string, id: string) {
  return db
    .selectFrom('portals')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
}

export async function listPortals(
  db: Executor,
  merchantId: string,
  projectId: string | undefined,
  offset: number,
  limit: number,
) {
  let base = db.selectFrom('portals').where('merchant_id', '=', merchantId).where('deleted_at', 'is', null)
  if (projectId) base = base.where('project_id', '=', projectId)
  return pageWithTotal(base, (q) =>
    q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
  )
}

export function insertPortalKey(db: Executor, key: Omit<PortalKeyRow, 'last_used_at' | 'revoked_at'>) {
  return db.insertInto('portal_keys').values(key).returningAll().executeTakeFirstOrThrow()
}

export function listPortalKeys(db: Executor, portalId: string) {
  return db
    .selectFrom('portal_keys')
    .selectAll()
    .where('portal_id', '=', portalId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
}

export async function revokePortalKey(db: Executor, portalId: string, keyId: string, now: Date) {
  await db
    .updateTable('portal_keys')
    .set({ revoked_at: now })
    .where('id', '=', keyId)
    .where('portal_id', '=', portalId)
    .where('revoked_at', 'is', null)
    .execute()
  return db
    .selectFrom('portal_keys')
    .selectAll()
    .where('id', '=', keyId)
    .where('portal_id', '=', portalId)
    .executeTakeFirst()
}

/** The live portal (and its project) a portal key hash belongs to. */
export function findPortalByKeyHash(db: Executor, keyHash: string) {
  return db
    .selectFrom('portal_keys')
    .innerJoin('portals', 'portals.id', 'portal_keys.portal_id')
    .innerJoin('projects', 'projects.id', 'portals.project_id')
    .select([
      'portal_keys.id as key_id',
      'portal_keys.key_hash',
      'portal_keys.revoked_at',
      'portal_keys.last_used_at',
      'portals.id as portal_id',
      'portals.merchant_id',
      'portals.project_id',
      'portals.name as portal_name',
      'projects.default_currency',
      'projects.sales_email',
      'projects.name as project_name',
    ])
    .where('portal_keys.key_hash', '=', keyHash)
    .where('portals.deleted_at', 'is', null)
    .where('projects.deleted_at', 'is', null)
    .executeTakeFirst()
}

export function currentPaymentMethod(db: Executor, portalId: string) {
  return db
    .selectFrom('payment_methods')
    .selectAll()
    .where('portal_id', '=', portalId)
    .where('detached_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst()
}

export async function savePaymentMethod(
  db: Executor,
  method: Omit<PaymentMethodRow, 'detached_at'>,
): Promise<void> {
  await db
    .updateTable('payment_methods')
    .set({ detached_at: method.created_at })
    .where('portal_id', '=', method.portal_id)
    .where('detached_at', 'is', null)
    .execute()
  await db.insertInto('payment_methods').values(method).execute()
}
