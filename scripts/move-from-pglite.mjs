// Carries the data of a PGlite data folder (paylinks before the embedded PostgreSQL server) into the
// embedded PostgreSQL of PAYLINKS_DATA_DIR: PGlite's own pg_dump writes the rows, the new schema is
// brought to the old one's migration first, the rows go in, then the newer migrations run.
// Needs, for this once: npm install --no-save @electric-sql/pglite@0.4.6 @electric-sql/pglite-tools@0.3.6
// Usage: node scripts/move-from-pglite.mjs OLD_FOLDER
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { loadConfig } from '../dist/lib/config.js'
import { openDatabase } from '../dist/lib/db.js'
import { MIGRATIONS_DIR, migrateToLatest } from '../dist/lib/migrate.js'

const from = process.argv[2]
if (!from) {
  console.error('usage: node scripts/move-from-pglite.mjs OLD_FOLDER (a PGlite data folder, moved aside)')
  process.exit(1)
}
let PGlite
let pgDump
try {
  ;({ PGlite } = await import('@electric-sql/pglite'))
  ;({ pgDump } = await import('@electric-sql/pglite-tools/pg_dump'))
} catch {
  console.error(
    'first: npm install --no-save @electric-sql/pglite@0.4.6 @electric-sql/pglite-tools@0.3.6 (PGlite for this move only)',
  )
  process.exit(1)
}

const old = await PGlite.create(path.resolve(from))
const applied = (await old.query('select name from kysely_migration order by name')).rows.map((r) => r.name)
const dump = await pgDump({
  pg: old,
  // Rows only, as INSERT statements, which node-postgres can send in one go; the schema comes from the
  // migrations, and their bookkeeping is written by them.
  args: [
    '--data-only',
    '--inserts',
    '--exclude-table=kysely_migration',
    '--exclude-table=kysely_migration_lock',
  ],
})
const rows = await dump.text()
await old.close()

const config = loadConfig(process.env)
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
try {
  const { rows: existing } = await sql`select to_regclass('merchants') as t`.execute(database.db)
  if (existing[0]?.t) {
    const { rows: merchants } = await sql`select count(*)::int as n from merchants`.execute(database.db)
    if (merchants[0].n > 0) throw new Error(`${config.dataDir} already holds data: move it aside first`)
  }
  // The schema exactly as the old data knew it.
  const upTo = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-migrations-'))
  for (const name of applied)
    await fs.copyFile(path.join(MIGRATIONS_DIR, `${name}.sql`), path.join(upTo, `${name}.sql`))
  await migrateToLatest(database, upTo)
  await fs.rm(upTo, { recursive: true, force: true })
  await database.db.transaction().execute(async (tx) => {
    // Rows arrive table by table, not in the order their foreign keys need: skip those checks meanwhile.
    await sql`set local session_replication_role = replica`.execute(tx)
    await database.execScript(tx, rows)
    // The dump empties search_path for the session; the pooled connection goes on with the default.
    await sql`reset search_path`.execute(tx)
  })
  const { applied: newer } = await migrateToLatest(database)
  const { rows: counts } = await sql`select (select count(*)::int from merchants) as merchants,
    (select count(*)::int from orders) as orders, (select count(*)::int from visits) as visits`.execute(
    database.db,
  )
  console.log(
    `moved ${counts[0].merchants} merchants, ${counts[0].orders} orders and ${counts[0].visits} visits ` +
      `into ${config.dataDir}${newer.length ? `; then applied ${newer.join(', ')}` : ''}`,
  )
} finally {
  await database.close()
}
