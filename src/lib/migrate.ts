// Applies migrations/NNNN_name.sql in order with Kysely's Migrator, which records what ran and takes a
// database lock so that several instances starting at once apply each migration once.
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Migration, type MigrationProvider, Migrator, sql } from 'kysely'
import type { Database, Tx } from './db.js'

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly database: Database,
    private readonly dir: string,
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(this.dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort()
    const migrations: Record<string, Migration> = {}
    for (const file of files) {
      const script = await fs.readFile(path.join(this.dir, file), 'utf8')
      migrations[file.replace(/\.sql$/, '')] = {
        // Kysely runs each migration inside the migrator's transaction on PostgreSQL dialects.
        up: (db) => this.database.execScript(db as Tx, script),
      }
    }
    return migrations
  }
}

export interface MigrationOutcome {
  applied: string[]
}

export async function migrateToLatest(database: Database, dir = MIGRATIONS_DIR): Promise<MigrationOutcome> {
  // Without a schema, Kysely takes a migration table in any schema of the database for ours; name the one
  // the connection's search_path puts first.
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db)
  const migrator = new Migrator({
    db: database.db,
    provider: new SqlFileMigrationProvider(database, dir),
    migrationTableSchema: rows[0]?.schema ?? 'public',
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`, { cause: error })
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) }
}
