// One PostgreSQL for the whole run: the server DATABASE_URL names, or else one embedded PostgreSQL started
// here through paylinks's own embedded module, in a temporary data directory. Every test file then makes
// its own database on it (test/helpers/database.ts).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { startEmbedded } from '../../src/lib/embedded-postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's PostgreSQL; `external` when it is DATABASE_URL's rather than the embedded one started here. */
    suiteDatabase: { url: string; external: boolean }
  }
}

const ROOT = path.resolve(import.meta.dirname, '../..')

export default async function setup(project: TestProject) {
  // The process tests run dist/: compiled here if the sources changed since it was (a no-op otherwise).
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' })
  const external = process.env.DATABASE_URL
  if (external) {
    project.provide('suiteDatabase', { url: external, external: true })
    return
  }
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-suite-'))
  // Files run side by side, each with a pool, and process tests start servers with pools of their own.
  const server = await startEmbedded({ dataDir, maxConnections: 300, disposable: true })
  project.provide('suiteDatabase', { url: server.url(), external: false })
  return async () => {
    await server.stop()
    await fs.rm(dataDir, { recursive: true, force: true })
  }
}
