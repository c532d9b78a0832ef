// Installation-wide secrets (cookie signing, the visitor-hash key), created once in the database so that
// every instance uses the same ones and they survive restarts.
import { randomBytes } from 'node:crypto'
import type { Db } from './db.js'

export async function installationSecret(db: Db, name: string): Promise<string> {
  const key = `secret:${name}`
  await db
    .insertInto('settings')
    .values({ key, value: JSON.stringify(randomBytes(32).toString('hex')) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute()
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow()
  return row.value as string
}
