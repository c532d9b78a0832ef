import type { Executor } from '../../lib/db.js'

export function insertMerchant(
  db: Executor,
  merchant: { id: string; name: string; email: string | null; created_at: Date },
) {
  return db.insertInto('merchants').values(merchant).returningAll().executeTakeFirstOrThrow()
}

export function findMerchant(db: Executor, id: string) {
  return db.selectFrom('merchants').selectAll().where('id', '=', id).executeTakeFirst()
}

export function listMerchants(db: Executor) {
  return db.selectFrom('merchants').selectAll().orderBy('created_at').orderBy('id').execute()
}

export function countMerchants(db: Executor) {
  return db
    .selectFrom('merchants')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.count))
}

export function insertApiKey(
  db: Executor,
  key: { id: string; merchant_id: string; key_hash: string; prefix: string; created_at: Date },
) {
  return db.insertInto('api_keys').values(key).returningAll().executeTakeFirstOrThrow()
}

export function findApiKeyByHash(db: Executor, keyHash: string) {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst()
}

export function listApiKeys(db: Executor, merchantId: string) {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
}

/** Revokes a live key; `merchantId` scopes the change, undefined means any merchant (the CLI). */
export function revokeApiKey(db: Executor, id: string, merchantId: string | undefined, now: Date) {
  let query = db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
  if (merchantId) query = query.where('merchant_id', '=', merchantId)
  return query.returningAll().executeTakeFirst()
}

export function findApiKey(db: Executor, id: string, merchantId?: string) {
  let query = db.selectFrom('api_keys').selectAll().where('id', '=', id)
  if (merchantId) query = query.where('merchant_id', '=', merchantId)
  return query.executeTakeFirst()
}
