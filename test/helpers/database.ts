// A database of its own for each test file (or process test) on the suite's PostgreSQL (global-setup.ts).
// Databases rather than schemas: Kysely's migrator lists the tables of every schema in its database, and
// would trip over another file's schema being dropped meanwhile.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'

async function onServer(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('suiteDatabase').url })
  await client.connect()
  try {
    await client.query(query)
  } finally {
    await client.end()
  }
}

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `test_${randomBytes(6).toString('hex')}`
  await onServer(`CREATE DATABASE ${name}`)
  const url = new URL(inject('suiteDatabase').url)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}
