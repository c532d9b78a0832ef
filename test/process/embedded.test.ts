// The embedded default: paylinks starts its own PostgreSQL in the data directory, reachable only through a
// Unix socket there, stops it with itself, recovers from kill -9, refuses a second process, backs it up.
// Each test has its own data directory and so its own embedded server.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/lib/db.js'
import { BROWSER_UA } from '../helpers/buyer.js'
import {
  fetchJson,
  freshDatabaseEnv,
  PROCESS_TIMEOUT,
  runCli,
  runCliProcess,
  runToExit,
  type ServerProcess,
  startServer,
} from '../helpers/process.js'

let env: Record<string, string>
let dataDir: string
let cleanup: () => Promise<void>
const servers: ServerProcess[] = []

beforeEach(async () => {
  const fresh = await freshDatabaseEnv({ embedded: true })
  env = fresh.env
  dataDir = env.PAYLINKS_DATA_DIR as string
  cleanup = fresh.cleanup
})
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop('SIGKILL')
  // Whatever a test left running on its cluster goes too (a killed server's PostgreSQL, say).
  const pid = await postmasterPid(dataDir)
  if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL')
  await cleanup()
})

async function serve(extra: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer({ ...env, ...extra })
  servers.push(server)
  return server
}

function keyOf(server: ServerProcess): string {
  return /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(server.output())?.[1] as string
}

async function postmasterPid(dir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').catch(() => undefined)
  return text ? Number(text.split('\n')[0]) : undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    // A process that has exited but is not reaped yet is not running.
    return !/^State:\s+Z/m.test(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout)
  } catch {
    return false
  }
}

async function until<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms (last: ${String(value)})`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('the embedded PostgreSQL', { timeout: PROCESS_TIMEOUT }, () => {
  it('is created on the first start, listens only on its socket, refuses a second process, backs up, and stops with the server', async () => {
    const server = await serve({ LOG_LEVEL: 'info' })
    expect(server.output()).toContain(`(embedded PostgreSQL in ${dataDir})`)
    const key = keyOf(server)
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
    expect((await fetchJson(`${server.baseUrl}/readyz`)).body).toEqual({ status: 'ok', database: 'embedded' })

    const pid = (await postmasterPid(dataDir)) as number
    expect(isAlive(pid)).toBe(true)
    const socketDir = path.join(dataDir, 'run')
    expect(await fs.readdir(socketDir)).toContain('.s.PGSQL.5432')
    const url = await runCli(['db', 'url'], env)
    expect(url).toEqual({ code: 0, stdout: `${urlOf(dataDir)}\n`, stderr: '' })
    const database = await openDatabase({ databaseUrl: urlOf(dataDir) })
    try {
      const { rows } = await sql<{ listen: string; sockets: string; version: string; merchants: number }>`
        select current_setting('listen_addresses') as listen,
               current_setting('unix_socket_directories') as sockets,
               current_setting('server_version_num') as version,
               (select count(*) from merchants) as merchants`.execute(database.db)
      expect(rows[0]).toEqual({
        listen: '',
        sockets: socketDir,
        version: expect.stringMatching(/^18/),
        merchants: 1,
      })
    } finally {
      await database.close()
    }
    if (spawnSync('psql', ['--version']).status === 0) {
      const names = execFileSync('psql', [urlOf(dataDir), '-Atc', 'select name from merchants'], {
        encoding: 'utf8',
      })
      expect(names).toBe('Demo Merchant\n')
    }
    // The cluster and its socket belong to the account PostgreSQL runs as, and to it alone.
    const owner =
      process.getuid?.() === 0
        ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
        : process.getuid?.()
    for (const dir of ['pg', 'run']) {
      const stat = await fs.stat(path.join(dataDir, dir))
      expect({ dir, uid: stat.uid, mode: stat.mode & 0o777 }).toEqual({ dir, uid: owner, mode: 0o700 })
    }

    // A second server and the CLI, as processes of their own, are refused in one line.
    const secondServer = await runToExit(['src/server.ts'], { ...env, PORT: String(server.port + 1) })
    const cli = await runCliProcess(['merchant', 'create', '--name', 'Late'], env)
    for (const refused of [secondServer, cli]) {
      expect(refused.stderr).toBe(
        `paylinks: the embedded database in ${dataDir} is in use by another paylinks process ` +
          `(pid ${server.child.pid}); stop the server first, or set DATABASE_URL to share a PostgreSQL server between processes\n`,
      )
      expect(refused.code).toBe(1)
    }
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200)

    // A backup while it serves.
    const project = await fetch(`${server.baseUrl}/admin/api/v1/projects`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'Backed up', default_currency: 'EUR' }),
    })
    expect(project.status).toBe(201)
    const backupDir = path.join(dataDir, 'backup')
    const backup = await runCli(['db', 'backup', backupDir], env)
    expect(backup.stderr).toBe('')
    expect(backup.stdout).toMatch(
      /^backed up \d+ files \([\d.]+ MB\) from the running server into .* in \d+ ms\n$/,
    )
    expect(backup.code).toBe(0)
    const again = await runCli(['db', 'backup', backupDir], env)
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `paylinks: ${backupDir} already exists: name a new folder\n`,
    })

    expect(await server.stop('SIGTERM')).toBe(0)
    servers.splice(0)
    expect(isAlive(pid)).toBe(false)
    expect(await postmasterPid(dataDir)).toBeUndefined()
    expect(await fs.readFile(path.join(dataDir, 'postgres.log'), 'utf8')).toContain(
      'database system is shut down',
    )

    // Without the server, the CLI starts the embedded PostgreSQL itself and stops it when done.
    const created = await runCli(['merchant', 'create', '--name', 'After', '--json'], env)
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout).merchant.name).toBe('After')
    expect(await postmasterPid(dataDir)).toBeUndefined()

    // The backup, put back as the cluster of a data dir, serves what there was when it was taken.
    const restored = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-restored-'))
    try {
      await fs.cp(backupDir, path.join(restored, 'pg'), { recursive: true })
      const fromBackup = await startServer({ ...env, PAYLINKS_DATA_DIR: restored })
      servers.push(fromBackup)
      expect(fromBackup.output()).not.toContain('API key')
      const { body } = await fetchJson(`${fromBackup.baseUrl}/admin/api/v1/projects`, auth)
      expect(body.projects.map((p: { name: string }) => p.name).sort()).toEqual(['Backed up', 'Demo Store'])
      expect(await fromBackup.stop('SIGINT')).toBe(0)
      servers.splice(0)
    } finally {
      await fs.rm(restored, { recursive: true, force: true })
    }
  })

  it('keeps every acknowledged visit when paylinks is killed under load, and recovers from an orphaned and a dead PostgreSQL', async () => {
    const server = await serve({ PUBLIC_RATE_LIMIT: '0' })
    const key = keyOf(server)
    const demo = /Demo paylink.*\n\s+(\S+)/.exec(server.output())?.[1] as string
    const target = demo.replace(/^http:\/\/localhost:/, 'http://127.0.0.1:')
    const postgres = (await postmasterPid(dataDir)) as number
    const acknowledged: string[] = []
    let stop = false
    const worker = async () => {
      while (!stop) {
        try {
          const res = await fetch(target, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } })
          const order = /\/pay\/(ord_[0-9a-f]{24})/.exec(res.headers.get('location') ?? '')?.[1]
          if (res.status === 302 && order) acknowledged.push(order)
        } catch {
          return
        }
      }
    }
    const workers = Array.from({ length: 16 }, worker)
    await until(
      () => acknowledged.length,
      (n) => n >= 100,
    )
    server.child.kill('SIGKILL')
    await server.exited
    servers.splice(0)
    stop = true
    await Promise.all(workers)
    // PostgreSQL runs in its own session: it outlives the paylinks that was killed.
    expect(isAlive(postgres)).toBe(true)

    const database = await openDatabase({ dataDir })
    try {
      // The orphan was stopped and a new server started in its place.
      expect(isAlive(postgres)).toBe(false)
      expect(await postmasterPid(dataDir)).not.toBe(postgres)
      const orders = await database.db
        .selectFrom('orders')
        .select('id')
        .where('id', 'in', acknowledged)
        .execute()
      const visits = await database.db
        .selectFrom('visits')
        .select('order_id')
        .where('order_id', 'in', acknowledged)
        .execute()
      const stored = new Set(orders.map((r) => r.id))
      const visited = new Set(visits.map((r) => r.order_id))
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
      expect(acknowledged.filter((id) => !visited.has(id))).toEqual([])
    } finally {
      await database.close()
    }

    // Both paylinks and its PostgreSQL killed: a postmaster.pid naming a dead process is left behind.
    const second = await serve()
    const secondPostgres = (await postmasterPid(dataDir)) as number
    second.child.kill('SIGKILL')
    process.kill(secondPostgres, 'SIGKILL')
    await second.exited
    servers.splice(0)
    await until(
      () => isAlive(secondPostgres),
      (alive) => !alive,
    )
    expect(await postmasterPid(dataDir)).toBe(secondPostgres)
    const third = await serve()
    expect(third.output()).not.toContain('API key')
    const me = await fetchJson(`${third.baseUrl}/admin/api/v1/merchant`, { authorization: `Bearer ${key}` })
    expect(me.status).toBe(200)
  })

  it.each([
    [
      'a PGlite data directory of an earlier paylinks',
      async () => {
        await fs.writeFile(path.join(dataDir, 'PG_VERSION'), '17\n')
        return dataDir
      },
      (dir: string) =>
        `paylinks: ${dir} holds the database of an earlier paylinks (PGlite, PostgreSQL 17), which this version ` +
        `does not open: move it aside (mv ${dir} ${dir}.pglite) and start again, and see "Moving from PGlite" ` +
        'in the README to carry its data over\n',
    ],
    [
      'a data directory too deep for a Unix socket path',
      async () => path.join(dataDir, 'x'.repeat(100)),
      (dir: string) => {
        const socket = `${dir}/run/.s.PGSQL.5432`
        return (
          `paylinks: PAYLINKS_DATA_DIR ${dir} is too long for the embedded database's Unix socket ` +
          `(${socket} is ${Buffer.byteLength(socket)} bytes, at most 107): choose a shorter path\n`
        )
      },
    ],
  ])('refuses %s in one line', async (_name, prepare, message) => {
    const dir = await prepare()
    for (const command of [['serve'], ['migrate']]) {
      const res = await runCli(command, { ...env, PAYLINKS_DATA_DIR: dir })
      expect(res).toEqual({ code: 1, stdout: '', stderr: message(dir) })
    }
  })
})

function urlOf(dir: string): string {
  return `postgresql://paylinks@localhost/paylinks?host=${encodeURIComponent(path.join(dir, 'run'))}`
}
