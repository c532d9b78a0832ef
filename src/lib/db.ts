// Opens the one PostgreSQL schema through node-postgres: on the embedded PostgreSQL server that paylinks runs
// itself in its data directory, or on the server DATABASE_URL names. Both give the same Kysely<DB>.
import { createHash } from 'node:crypto'
import {
  type CompiledQuery,
  Kysely,
  PostgresDialect,
  type SelectQueryBuilder,
  sql,
  type Transaction,
} from 'kysely'
import { LRUCache } from 'lru-cache'
import pg from 'pg'
import { startEmbedded } from './embedded-postgres.js'
import { batchesAtOnce } from './group-commit.js'
import type { DB } from './schema.js'

export { DataDirLockedError, EmbeddedDatabaseError } from './embedded-postgres.js'

export type Db = Kysely<DB>
export type Tx = Transaction<DB>
/** Repositories take either the database or an open transaction: services own the transaction. */
export type Executor = Db | Tx

export interface Database {
  db: Db
  kind: 'embedded' | 'postgres'
  /** Runs a multi-statement SQL script (a migration) inside the given transaction. */
  execScript(tx: Tx, script: string): Promise<void>
  /**
   * Runs a statement outside any transaction as a prepared statement, named after its text: each
   * connection parses and plans it once, and afterwards receives only its parameters. For statements run
   * often whose text does not vary with their input (arrays carry lists), such as the public path's write
   * and the dashboards' reads, whose planning took longer than running them.
   */
  prepared<R>(query: CompiledQuery<R>): Promise<R[]>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined
  /** The data directory of the embedded PostgreSQL, used when there is no databaseUrl. */
  dataDir?: string
  /** Put every table in this schema (tests use one schema per file). */
  schema?: string
  /** Connections in the pool. */
  poolSize?: number
  /** How long a query waits for a connection of the pool before it fails as the database unavailable. */
  connectionTimeoutMs?: number
}

// int8 (COUNT(*), SUM of amounts) arrives as text; amounts are bounded far below 2^53, so a number is exact.
function parseInt8(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`)
  return n
}
const INT8_OID = 20
const NUMERIC_OID = 1700
const DEFAULT_POOL_SIZE = 10
/**
 * A query that has waited this long for a connection (all of them busy, or a server that does not answer
 * the connect) fails rather than waits without end: its request answers 503 with Retry-After.
 */
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000
/**
 * Connections to the embedded server, which shares the machine with paylinks: each one is a process of
 * its own, of about 35 MB resident under load. As many as the batches of visits written at once, and at
 * least two; the statistics counter and the reads wait their turn. On 2 cores, pools of 2, 3, 5
 * and 10 served as many visits a second, and each connection more cost 35 MB under load.
 */
const EMBEDDED_POOL_SIZE = Math.max(2, batchesAtOnce())
/** Connections of the embedded server beyond the pool: the CLI's backup, psql, pg_dump, superusers. */
const EMBEDDED_SPARE_CONNECTIONS = 10

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPool({ connectionString: options.databaseUrl }, 'postgres', options)
  const poolSize = options.poolSize ?? EMBEDDED_POOL_SIZE
  const server = await startEmbedded({
    dataDir: options.dataDir ?? './data',
    maxConnections: poolSize + EMBEDDED_SPARE_CONNECTIONS,
  })
  try {
    const database = await openPool(server.connection(), 'embedded', { ...options, poolSize })
    return {
      ...database,
      close: async () => {
        try {
          await database.close()
        } finally {
          await server.stop()
        }
      },
    }
  } catch (error) {
    await server.stop()
    throw error
  }
}

async function openPool(
  connection: pg.ClientConfig,
  kind: Database['kind'],
  options: DatabaseOptions,
): Promise<Database> {
  const pool = new pg.Pool({
    ...connection,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
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
  // A connection dropped by the server (a restart, pg_terminate_backend) must not crash the process:
  // an idle one is replaced by the pool, and one in use fails its query, which its caller sees. The
  // client's own 'error' event, emitted too when it is checked out, has no one else to listen to it.
  pool.on('error', () => {})
  pool.on('connect', (client) => client.on('error', () => {}))
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  // A prepared statement's name stands for one text on every connection: a digest of the text.
  const statementNames = new LRUCache<string, string>({ max: 1000 })
  return {
    db,
    kind,
    // node-postgres sends a query without parameters through the simple protocol, which allows many statements.
    execScript: async (tx, script) => {
      await sql.raw(script).execute(tx)
    },
    prepared: async <R>(query: CompiledQuery<R>) => {
      let name = statementNames.get(query.sql)
      if (name === undefined) {
        name = `paylinks_${createHash('sha1').update(query.sql).digest('hex').slice(0, 20)}`
        statementNames.set(query.sql, name)
      }
      const result = await pool.query({ name, text: query.sql, values: query.parameters as unknown[] })
      return result.rows as R[]
    },
    close: () => db.destroy(),
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
 * Runs reads that make one answer (an order with its payments and refunds, a page with its total) in one
 * snapshot: a read-only REPEATABLE READ transaction, or the caller's own transaction. Read one by one, a
 * writer committing in between could show a refund succeeded beside an order still paid in full.
 */
export function inSnapshot<T>(db: Executor, read: (db: Executor) => Promise<T>): Promise<T> {
  if (db.isTransaction) return read(db)
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read)
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
