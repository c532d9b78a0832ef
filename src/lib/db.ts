// Opens the one PostgreSQL schema on either driver: embedded PGlite in a data directory (locked while a
// process holds it) or a PostgreSQL server through node-postgres. Both give the same Kysely<DB>.
import fs from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, type SelectQueryBuilder, sql, type Transaction } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import pg from 'pg'
import lockfile from 'proper-lockfile'
import type { DB } from './schema.js'

export type Db = Kysely<DB>
export type Tx = Transaction<DB>
/** Repositories take either the database or an open transaction: services own the transaction. */
export type Executor = Db | Tx

export interface Database {
  db: Db
  kind: 'pglite' | 'postgres'
  /** Runs a multi-statement SQL script (a migration) inside the given transaction. */
  execScript(tx: Tx, script: string): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined
  /** A directory for embedded PGlite, or `memory://` for a throw-away in-memory database. */
  dataDir?: string
  /** PostgreSQL only: put every table in this schema (tests use one schema per run). */
  schema?: string
  /** PostgreSQL only: connections in the pool. */
  poolSize?: number
}

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `the embedded database in ${dataDir} is in use by another paylinks process; ` +
        'stop that process first, or set DATABASE_URL to share a PostgreSQL server between processes',
    )
    this.name = 'DataDirLockedError'
  }
}

// int8 (COUNT(*), SUM of amounts) arrives as text; amounts are bounded far below 2^53, so a number is exact.
function parseInt8(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`)
  return n
}
const INT8_OID = 20
const NUMERIC_OID = 1700

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options)
  return openPglite(options.dataDir ?? './data')
}

async function openPostgres(databaseUrl: string, options: DatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    // JIT compilation pays off for long analytical scans, which paylinks never runs: the dashboards'
    // rollup reads are small but estimated large, and compiling them cost more than running them.
    options: ['-c jit=off', ...(options.schema ? [`-c search_path=${options.schema}`] : [])].join(' '),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? parseInt8
          : oid === NUMERIC_OID
            ? (value: string) => value
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  })
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  return {
    db,
    kind: 'postgres',
    // node-postgres sends a query without parameters through the simple protocol, which allows many statements.
    execScript: async (tx, script) => {
      await sql.raw(script).execute(tx)
    },
    close: () => db.destroy(),
  }
}

async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://')
  let release: (() => Promise<void>) | undefined
  if (!inMemory) {
    await fs.mkdir(dataDir, { recursive: true })
    try {
      release = await lockfile.lock(dataDir, {
        lockfilePath: path.join(dataDir, 'paylinks.lock'),
        stale: 15_000,
        update: 5_000,
        onCompromised: (error) => {
          // Another process took the directory while we held it: stop before two writers corrupt it.
          console.error(`fatal: lost the lock on ${dataDir}: ${error.message}`)
          process.exit(1)
        },
      })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(dataDir)
      throw error
    }
  }
  let pglite: PGlite
  try {
    pglite = await PGlite.create(inMemory ? undefined : dataDir, {
      parsers: { [INT8_OID]: parseInt8, [NUMERIC_OID]: (value: string) => value },
    })
  } catch (error) {
    await release?.()
    throw error
  }
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) })
  return {
    db,
    kind: 'pglite',
    // PGlite has one session; the dialect has begun the transaction on it, so exec() runs inside it.
    execScript: async (_tx, script) => {
      await pglite.exec(script)
    },
    close: async () => {
      await db.destroy()
      await release?.()
    },
  }
}

/** True when the database answers a trivial query. */
export async function isReachable(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db)
    return true
  } catch {
    return false
  }
}

/** Tables of merchant-owned objects that are deleted by marking them, so their history stays. */
export type SoftDeletable = 'projects' | 'paylinks' | 'portals'

/** Marks a live object of the merchant deleted; false when there is none (or it is another merchant's). */
export async function softDelete(
  db: Executor,
  table: SoftDeletable,
  merchantId: string,
  id: string,
  now: Date,
): Promise<boolean> {
  // The three tables share these columns; Kysely checks a union of tables column by column.
  const row = await db
    .updateTable(table)
    .set({ deleted_at: now, updated_at: now })
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst()
  return row !== undefined
}

/** Records that a key was used, at most once a minute, so authentication is not a write per request. */
export async function touchLastUsed(db: Executor, table: 'api_keys' | 'portal_keys', id: string, now: Date) {
  await db
    .updateTable(table)
    .set({ last_used_at: now })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(now.getTime() - 60_000))]),
    )
    .execute()
}

/**
 * One page of a filtered list and the total it is a page of, both read from the same filters: `page`
 * adds the selection, order, offset and limit; the count uses the filters alone.
 */
export async function pageWithTotal<D, TB extends keyof D, O, Row>(
  filtered: SelectQueryBuilder<D, TB, O>,
  page: (query: SelectQueryBuilder<D, TB, O>) => Promise<Row[]>,
): Promise<{ rows: Row[]; total: number }> {
  const [rows, count] = await Promise.all([
    page(filtered),
    // TypeScript cannot resolve the selection's shape over a generic table set; it is this one column.
    filtered.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow() as unknown as Promise<{
      total: string | number | bigint
    }>,
  ])
  return { rows, total: Number(count.total) }
}
