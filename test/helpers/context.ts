// A fresh application per test file, on its own schema of the suite's PostgreSQL (see global-setup.ts).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { inject } from 'vitest'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/lib/config.js'
import { type Database, openDatabase } from '../../src/lib/db.js'
import { migrateToLatest } from '../../src/lib/migrate.js'
import { type Clock, ManualClock } from '../../src/lib/time.js'
import { createServices, type Services } from '../../src/services.js'

export const PUBLIC_URL = 'https://pay.example.test'

export interface TestContext {
  app: FastifyInstance
  services: Services
  database: Database
  clock: ManualClock
  config: Config
  close(): Promise<void>
}

export async function openTestDatabase(): Promise<{ database: Database; drop(): Promise<void> }> {
  const databaseUrl = inject('suiteDatabase').url
  const schema = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const database = await openDatabase({ databaseUrl, schema, poolSize: 5 })
  return {
    database,
    drop: async () => {
      // A test may have closed the database on purpose already.
      await database.close().catch(() => {})
      const cleanup = new pg.Client({ connectionString: databaseUrl })
      await cleanup.connect()
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`)
      await cleanup.end()
    },
  }
}

export async function createTestContext(
  options: { env?: Record<string, string>; clock?: Clock; start?: Date } = {},
): Promise<TestContext> {
  const { database, drop } = await openTestDatabase()
  await migrateToLatest(database)
  const config = loadConfig({ PUBLIC_URL, DATABASE_URL: inject('suiteDatabase').url, ...options.env })
  const clock = new ManualClock(options.start ?? new Date('2026-03-01T12:00:00.000Z'))
  const services = createServices(config, database, options.clock ?? clock)
  const app = await buildApp(services)
  await app.ready()
  return {
    app,
    services,
    database,
    clock,
    config,
    close: async () => {
      await app.close()
      await drop()
    },
  }
}
