// A fresh application per test file, on its own database of the suite's PostgreSQL (see global-setup.ts).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { inject } from 'vitest'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/lib/config.js'
import { type Database, openDatabase } from '../../src/lib/db.js'
import { migrateToLatest } from '../../src/lib/migrate.js'
import { type Clock, ManualClock } from '../../src/lib/time.js'
import { createServices, type ServiceOptions, type Services } from '../../src/services.js'
import { createTestDatabase } from './database.js'

export const PUBLIC_URL = 'https://pay.example.test'

export interface TestContext {
  app: FastifyInstance
  services: Services
  database: Database
  /** The URL of this file's own database, for a second instance or process on it. */
  databaseUrl: string
  clock: ManualClock
  config: Config
  close(): Promise<void>
}

export interface TestDatabaseOptions {
  /** Connections of the pool (5): one shows a use of a second connection inside a transaction. */
  poolSize?: number
  /** How long a query waits for a connection of the pool (10 s). */
  connectionTimeoutMs?: number
  /** The URL the pool connects to, given its database's own (a proxy's, say). */
  connect?: (url: string) => Promise<string>
}

export async function openTestDatabase(
  options: TestDatabaseOptions = {},
): Promise<{ database: Database; url: string; drop(): Promise<void> }> {
  const { url, drop } = await createTestDatabase()
  const database = await openDatabase({
    databaseUrl: options.connect ? await options.connect(url) : url,
    poolSize: options.poolSize ?? 5,
    ...(options.connectionTimeoutMs ? { connectionTimeoutMs: options.connectionTimeoutMs } : {}),
  })
  return {
    database,
    url,
    drop: async () => {
      // A test may have closed the database on purpose already.
      await database.close().catch(() => {})
      await drop()
    },
  }
}

export async function createTestContext(
  options: {
    env?: Record<string, string>
    clock?: Clock
    start?: Date
    providers?: ServiceOptions['providers']
  } & TestDatabaseOptions = {},
): Promise<TestContext> {
  const { database, url: databaseUrl, drop } = await openTestDatabase(options)
  await migrateToLatest(database)
  const config = loadConfig({
    PUBLIC_URL,
    DATABASE_URL: inject('suiteDatabase').url,
    PAYLINKS_MASTER_KEY: randomBytes(32).toString('hex'),
    ...options.env,
  })
  const clock = new ManualClock(options.start ?? new Date('2026-03-01T12:00:00.000Z'))
  const services = createServices(
    config,
    database,
    options.clock ?? clock,
    options.providers ? { providers: options.providers } : {},
  )
  const app = await buildApp(services)
  await app.ready()
  return {
    app,
    services,
    database,
    databaseUrl,
    clock,
    config,
    close: async () => {
      await app.close()
      await drop()
    },
  }
}
