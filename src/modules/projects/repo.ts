import { type Executor, pageWithTotal, softDelete } from '../../lib/db.js'
import type { NewProject, ProjectUpdate } from '../../lib/schema.js'

/** A live project of the merchant; another merchant's or a deleted one is indistinguishable from none. */
export function findProject(db: Executor, merchantId: string, id: string) {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
}

export function insertProject(db: Executor, project: NewProject) {
  return db.insertInto('projects').values(project).returningAll().executeTakeFirstOrThrow()
}

export function updateProject(db: Executor, merchantId: string, id: string, changes: ProjectUpdate) {
  return db
    .updateTable('projects')
    .set(changes)
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

export async function listProjects(db: Executor, merchantId: string, offset: number, limit: number) {
  const base = db.selectFrom('projects').where('merchant_id', '=', merchantId).where('deleted_at', 'is', null)
  return pageWithTotal(base, (q) =>
    q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
  )
}

/** Marks the project deleted, archives its products and deletes its paylinks, keeping their history. */
export async function softDeleteProject(db: Executor, merchantId: string, id: string, now: Date) {
  const deleted = await softDelete(db, 'projects', merchantId, id, now)
  if (!deleted) return false
  await db
    .updateTable('products')
    .set({ archived_at: now, updated_at: now })
    .where('project_id', '=', id)
    .where('archived_at', 'is', null)
    .execute()
  await db
    .updateTable('paylinks')
    .set({ deleted_at: now, updated_at: now })
    .where('project_id', '=', id)
    .where('deleted_at', 'is', null)
    .execute()
  return true
}
