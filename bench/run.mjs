// npm run bench: the public paylink path of paylinks against a bare Node.js http server that answers a fixed
// 302 and against the durable limit (bench/durable-limit.mjs: the least a server must do to store a visit and
// an order before its 302), each on the machine's PostgreSQL and on the embedded PostgreSQL that paylinks runs
// by default; then the signed-in dashboard pages, and the statistics queries over 2 million visits. One run,
// one load generator, the same concurrency. Prints and writes bench/RESULTS.md, with the issue's targets.
//
// Environment, all optional:
//   BENCH_CONNECTIONS         connections of the load on the public path (50)
//   BENCH_DURATION            seconds of load per server on the public path (8)
//   BENCH_WARMUP              seconds of the same load before, not timed (2): compiling and connecting
//   BENCH_PG_URL              an administrator's URL of the external PostgreSQL, where the bench creates and
//                             drops its own databases (postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_DASHBOARD_DURATION  seconds of load per dashboard page (10)
//   BENCH_STATS=0             leaves out the statistics part (about 90 s of the run on 2 fast cores)
//   BENCH_STATS_VISITS        visits on the one link, and again over the 1,000 links (1000000), for a quick run
//   BENCH_STATS_REPEAT        timed calls per statistics query (200: a p99 of 40 calls would be their maximum)
//
// Everything started is stopped on the way out, also on an error or Ctrl-C: servers, embedded clusters,
// temporary data directories and the bench databases.
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { openDatabase } from '../dist/lib/db.js'
import { embeddedConnection, embeddedUrl } from '../dist/lib/embedded-postgres.js'
import { benchDashboard, dashboardReport } from './dashboard.mjs'
import { alive, postmasterPid, restingMemory, sampleMemory } from './memory.mjs'
import { benchStats, statsReport } from './stats.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
if (!(WARMUP >= 0))
  throw new Error(`BENCH_WARMUP must be a number of seconds, not ${process.env.BENCH_WARMUP}`)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BENCH_DB = 'paylinks_bench'
const DURABLE_DB = 'paylinks_bench_durable'
/** After the load, long enough for node-postgres to close the pool's idle connections (10 s by default). */
const SETTLE_MS = 12_000
const STOP_TIMEOUT_MS = 30_000

// paylinks is started as `npm start` starts it, with the same Node.js flags.
const SERVER_ARGS = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'))
  .scripts.start.split(/\s+/)
  .slice(1)

const TARGETS = {
  ratioToLimit: 0.8,
  p99Ms: 15,
  embeddedLoadMb: 300,
  embeddedIdleMb: 150,
  queryP99Ms: 20,
  bytesPerVisit: 300,
  rebuildS: 60,
}

// Undone last first, once each, on every way out.
const cleanups = []
function onCleanup(fn) {
  let done
  const once = () => {
    done ??= fn()
    return done
  }
  cleanups.push(once)
  return once
}
let cleaning
function cleanUp() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()()
      } catch (error) {
        console.error(`cleaning up: ${error.message}`)
      }
    }
  })()
  return cleaning
}
let interrupted = false
/** Nothing new starts once the run is interrupted: the clean-up may already be under way. */
function goOn() {
  if (interrupted) throw new Error('interrupted')
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    interrupted = true
    console.error(`\n${signal}: stopping what the bench started`)
    await cleanUp()
    process.exit(130)
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/** Starts a node process, resolved once its output matches `ready`; it is stopped on the way out. */
function start(args, env, ready) {
  goOn()
  const childEnv = { ...process.env, ...env }
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name]
  const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  const stopChild = onCleanup(() => stop(child))
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    out += d
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${out}`)), 60_000)
    const poll = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(poll)
        clearTimeout(timer)
        resolve({ child, output: () => out, stop: stopChild })
      }
    }, 50)
    child.on('exit', (code) => {
      clearInterval(poll)
      clearTimeout(timer)
      reject(new Error(`${args[0]} exited with ${code}:\n${out}`))
    })
  })
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** Stops the postmaster of a data directory if one is still running (a server killed before stopping it). */
async function stopPostmaster(dataDir) {
  const pid = await postmasterPid(dataDir)
  if (!pid) return
  process.kill(pid, 'SIGINT')
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (alive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL')
    await sleep(100)
  }
}

function load(url, duration = DURATION) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, followRedirect: false }, (err, result) =>
      err ? reject(err) : resolve(result),
    )
  })
}

/**
 * Runs the load while sampling the memory of the server and of its PostgreSQL, after a warm-up of the
 * same load that is not timed: its 302s are counted with the others, so that none of them can be lost.
 */
async function measure(url, pids) {
  const warm =
    WARMUP > 0
      ? await load(url, WARMUP)
      : { '3xx': 0, errors: 0, timeouts: 0, non2xx: 0, requests: undefined }
  const sampler = sampleMemory(pids)
  const result = await load(url).catch(async (error) => {
    await sampler.stop()
    throw error
  })
  const rss = await sampler.stop()
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    redirects: result['3xx'] + warm['3xx'],
    // Sent but not answered when each load stopped: the server may well have stored them.
    unanswered: [result, warm].reduce(
      (sum, r) => sum + (r.requests ? r.requests.sent - r.requests.total : 0),
      0,
    ),
    errors: [result, warm].reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx - r['3xx'], 0),
    rss,
  }
}

async function query(connection, text, params) {
  const client = new pg.Client(connection)
  await client.connect()
  try {
    return (await client.query(text, params)).rows
  } finally {
    await client.end()
  }
}

/**
 * Visits and orders stored, once requests still in flight when the load stopped have been written: those
 * are stored but not counted as 302s, so only a shortfall is a loss.
 */
async function settledCounts(connection, countSql, params = []) {
  const read = async () => {
    const [row] = await query(connection, countSql, params)
    return { visits: Number(row.visits), orders: Number(row.orders) }
  }
  const deadline = Date.now() + 30_000
  let last = await read()
  for (;;) {
    await sleep(500)
    const now = await read()
    if ((now.visits === last.visits && now.orders === last.orders) || Date.now() > deadline) return now
    last = now
  }
}

function withCounts(row, counts) {
  row.visits = counts.visits
  row.orders = counts.orders
  // At most this many 302s have no stored visit and order: a request still unanswered when the load
  // stopped may have been stored too, and must not make up for an acknowledged one that was not.
  row.lost = Math.max(0, row.redirects + row.unanswered - Math.min(counts.visits, counts.orders))
  return row
}

async function runBaseline() {
  const server = await start(['bench/baseline.mjs', '0'], {}, /listening \d+/)
  try {
    const port = /listening (\d+)/.exec(server.output())[1]
    return {
      server: 'bare node:http 302',
      database: '—',
      ...(await measure(`http://127.0.0.1:${port}/paylink/x`, { server: server.child.pid })),
    }
  } finally {
    await server.stop()
  }
}

/** The durable limit on a database; `postmaster` when the bench itself runs that PostgreSQL. */
async function runDurable(database, databaseUrl, postmaster) {
  const port = await freePort()
  const server = await start(['bench/durable-limit.mjs', String(port), databaseUrl], {}, /listening \d+/)
  try {
    const row = {
      server: 'durable limit',
      database,
      ...(await measure(`http://127.0.0.1:${port}/paylink/${'0'.repeat(32)}?utm_source=bench`, {
        server: server.child.pid,
        postmaster,
      })),
    }
    const counts = await settledCounts(
      { connectionString: databaseUrl },
      `select (select count(*) from durable_limit.visits) as visits,
              (select count(*) from durable_limit.orders) as orders`,
    )
    return withCounts(row, counts)
  } finally {
    await server.stop()
  }
}

/**
 * paylinks on a database: its first start creates the demo paylink and API key and prints them once. After
 * the load, its statistics must agree with the raw rows, and the dashboard pages are loaded in turn.
 */
async function runPaylinks(database, env, { countsConnection, dataDir }) {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const server = await start(
    SERVER_ARGS,
    { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', PUBLIC_RATE_LIMIT: '0', ...env },
    /paylinks is listening/,
  )
  try {
    const out = server.output()
    const key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(out)?.[1]
    const paylinkId = /\/paylink\/([0-9a-f]{32})/.exec(out)?.[1]
    if (!key || !paylinkId) throw new Error(`no demo API key or paylink in the first start's output:\n${out}`)
    const pids = async () => ({
      server: server.child.pid,
      postmaster: dataDir ? await postmasterPid(dataDir) : undefined,
    })
    const row = { server: 'paylinks', database }
    if (dataDir) {
      await sleep(3000)
      row.idleStart = await restingMemory(await pids())
    }
    Object.assign(row, await measure(`${baseUrl}/paylink/${paylinkId}?utm_source=bench`, await pids()))
    const counts = await settledCounts(
      countsConnection,
      `select (select count(*) from visits where paylink_id = $1) as visits,
              (select count(*) from orders where paylink_id = $1) as orders`,
      [paylinkId],
    )
    withCounts(row, counts)
    row.rollupsAgree = await rollupsAgree(baseUrl, key, paylinkId, counts)
    if (dataDir) {
      await sleep(SETTLE_MS)
      row.idleAfter = await restingMemory(await pids())
    }
    const t = performance.now()
    row.dashboard = await benchDashboard(baseUrl, out, paylinkId)
    row.dashboardMs = performance.now() - t
    return row
  } finally {
    await server.stop()
    if (dataDir) await stopPostmaster(dataDir)
  }
}

/** Whether the link's statistics come to the raw counts (waiting a while, should they be kept up later). */
async function rollupsAgree(baseUrl, key, paylinkId, counts) {
  const deadline = Date.now() + 30_000
  for (;;) {
    const res = await fetch(`${baseUrl}/admin/api/v1/paylinks/${paylinkId}/stat`, {
      headers: { authorization: `Bearer ${key}` },
    })
    const stat = await res.json()
    if (stat.visits === counts.visits && stat.orders === counts.orders) return true
    if (Date.now() > deadline) {
      console.error(
        `the link's statistics say ${JSON.stringify(stat)}, the raw rows ${JSON.stringify(counts)}`,
      )
      return false
    }
    await sleep(500)
  }
}

function databaseUrl(name) {
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** A new, empty database on the external server, dropped on the way out. */
async function freshDatabase(name) {
  goOn()
  await query({ connectionString: PG_ADMIN_URL }, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await query({ connectionString: PG_ADMIN_URL }, `CREATE DATABASE ${name}`)
  onCleanup(() => query({ connectionString: PG_ADMIN_URL }, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  return databaseUrl(name)
}

async function externalVersion() {
  try {
    const [row] = await query({ connectionString: PG_ADMIN_URL }, 'show server_version')
    return row.server_version.split(' ')[0]
  } catch (error) {
    console.error(`PostgreSQL at ${PG_ADMIN_URL} is not reachable (${error.message}); leaving it out`)
    return undefined
  }
}

async function main() {
  const began = performance.now()
  const rows = []
  const timings = {}
  let t = performance.now()
  rows.push(await runBaseline())

  const pgVersion = await externalVersion()
  const external = `external PostgreSQL ${pgVersion}`
  if (pgVersion) {
    rows.push(await runDurable(external, await freshDatabase(DURABLE_DB)))
    const url = await freshDatabase(BENCH_DB)
    rows.push(
      await runPaylinks(external, { DATABASE_URL: url }, { countsConnection: { connectionString: url } }),
    )
  }

  // One data directory for both: the durable limit on a cluster started the way paylinks starts it, then
  // paylinks itself on that cluster (its own database in it is still empty, so this is a first start).
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'plbench-'))
  onCleanup(() => fs.rm(dataDir, { recursive: true, force: true }))
  onCleanup(() => stopPostmaster(dataDir))
  goOn()
  const cluster = await openDatabase({ dataDir })
  const closeCluster = onCleanup(() => cluster.close())
  const [{ server_version: embeddedVersion }] = await query(
    embeddedConnection(dataDir, 'postgres'),
    'show server_version',
  )
  const embedded = `embedded PostgreSQL ${embeddedVersion.split(' ')[0]}`
  await query(embeddedConnection(dataDir, 'postgres'), 'CREATE DATABASE durable_limit')
  rows.push(await runDurable(embedded, embeddedUrl(dataDir, 'durable_limit'), await postmasterPid(dataDir)))
  await closeCluster()
  rows.push(
    await runPaylinks(
      embedded,
      { PAYLINKS_DATA_DIR: dataDir, DATABASE_URL: undefined },
      { countsConnection: embeddedConnection(dataDir), dataDir },
    ),
  )
  const dashboardMs = rows.reduce((sum, r) => sum + (r.dashboardMs ?? 0), 0)
  timings.publicPath = performance.now() - t - dashboardMs
  timings.dashboard = dashboardMs

  let stats
  if (pgVersion && process.env.BENCH_STATS !== '0') {
    t = performance.now()
    const url = await freshDatabase(BENCH_DB)
    stats = await benchStats(url, async () => {
      const port = await freePort()
      const server = await start(
        SERVER_ARGS,
        { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: url },
        /paylinks is listening/,
      )
      return { baseUrl: `http://127.0.0.1:${port}`, stop: server.stop }
    })
    timings.stats = performance.now() - t
    timings.statsParts = `generating ${seconds(stats.generatedMs)}, rebuild ${seconds(stats.rebuildMs)}, queries ${seconds(stats.queriesMs)}`
  }
  timings.total = performance.now() - began

  compareToLimit(rows)
  const report = [
    ...header(timings, pgVersion ? external : 'no external PostgreSQL', embedded),
    ...targetsReport(rows, stats),
    ...publicReport(rows),
    ...dashboardReport(
      rows.filter((r) => r.dashboard).map((r) => ({ name: r.database, pages: r.dashboard })),
    ),
    ...(stats
      ? statsReport(stats)
      : ['Statistics queries: not measured (no PostgreSQL, or BENCH_STATS=0).', '']),
  ].join('\n')
  process.stdout.write(`${report}\n`)
  await fs.writeFile(path.join(ROOT, 'bench/RESULTS.md'), report)

  let failed = false
  const fail = (message) => {
    console.error(`FAIL: ${message}`)
    failed = true
  }
  if (rows.some((r) => r.rollupsAgree === false))
    fail('the statistics disagree with the raw visits and orders')
  if (rows.some((r) => r.dashboard?.some((p) => p.failed > 0))) fail('a dashboard page failed under load')
  if (rows.some((r) => (r.lost ?? 0) !== 0)) fail('some acknowledged visits or orders were not stored')
  if (rows.some((r) => r.errors !== 0)) fail('some requests of the public path were not answered with a 302')
  return failed ? 1 : 0
}

function header(timings, external, embedded) {
  const cpus = os.cpus()
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}`
  const part = (name, ms, detail) =>
    ms === undefined ? [] : [`${name} ${seconds(ms)}${detail ? ` (${detail})` : ''}`]
  return [
    '# Benchmark: the public paylink path, the dashboard, the statistics',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${machine}`,
    `- Databases: ${external}; ${embedded} (paylinks' default, on a Unix socket in its data directory)`,
    `- Load: autocannon in the bench process, ${CONNECTIONS} connections, ${DURATION} s per server after ${WARMUP} s of warm-up, redirects not followed`,
    `- Run: ${[
      ...part('public path', timings.publicPath),
      ...part('dashboard pages', timings.dashboard),
      ...part('statistics', timings.stats, timings.statsParts),
    ].join(', ')}; ${seconds(timings.total)} in all`,
    '',
  ]
}

function mark(ok) {
  return ok === undefined ? '—' : ok ? '✓' : '✗'
}

function targetsReport(rows, stats) {
  const lines = ['## Targets', '', '| target | measured | |', '|---|---|---|']
  const add = (target, measured, ok) => lines.push(`| ${target} | ${measured} | ${mark(ok)} |`)
  for (const r of rows.filter((x) => x.server === 'paylinks')) {
    const ratio = r.limitRatio
    add(
      `public path ≥ ${TARGETS.ratioToLimit} × the durable limit, ${r.database}`,
      ratio === undefined ? 'no limit measured' : `${ratio.toFixed(2)} × (${r.rps} / ${r.limit} req/s)`,
      ratio === undefined ? undefined : ratio >= TARGETS.ratioToLimit,
    )
  }
  for (const r of rows.filter((x) => x.server === 'paylinks')) {
    add(`public path p99 ≤ ${TARGETS.p99Ms} ms, ${r.database}`, `${r.p99} ms`, r.p99 <= TARGETS.p99Ms)
  }
  const lost = rows.filter((r) => r.lost !== undefined)
  add(
    '0 lost (acknowledged, not stored), every server that stores',
    lost.map((r) => `${r.lost}`).join(', '),
    lost.every((r) => r.lost === 0),
  )
  const embedded = rows.find((r) => r.server === 'paylinks' && r.idleStart)
  if (embedded) {
    add(
      `embedded total RSS ≤ ${TARGETS.embeddedLoadMb} MB under load (paylinks + PostgreSQL)`,
      `${embedded.rss.total} MB`,
      embedded.rss.total <= TARGETS.embeddedLoadMb,
    )
    const idle = Math.max(embedded.idleStart.total, embedded.idleAfter.total)
    add(
      `embedded total RSS ≤ ${TARGETS.embeddedIdleMb} MB idle`,
      `${embedded.idleStart.total} MB after start, ${embedded.idleAfter.total} MB after the load`,
      idle <= TARGETS.embeddedIdleMb,
    )
  }
  if (stats) {
    const worst = stats.results.reduce((a, b) => (b.p99 > a.p99 ? b : a))
    add(
      `dashboard query p99 ≤ ${TARGETS.queryP99Ms} ms at 1M visits`,
      `worst ${worst.p99.toFixed(1)} ms (${worst.target}, ${worst.dim}, ${worst.period})`,
      worst.p99 <= TARGETS.queryP99Ms,
    )
    add(
      `≤ ${TARGETS.bytesPerVisit} bytes of statistics storage per visit`,
      `${stats.storage.bytesPerVisit.toFixed(0)} bytes`,
      stats.storage.bytesPerVisit <= TARGETS.bytesPerVisit,
    )
    add(
      `stats rebuild ≤ ${TARGETS.rebuildS} s for 2M visits`,
      `${(stats.rebuildMs / 1000).toFixed(1)} s for ${stats.storage.visits.toLocaleString('en-US')} visits`,
      stats.rebuildMs / 1000 <= TARGETS.rebuildS,
    )
  }
  return [...lines, '']
}

/** Each server's throughput over that of the durable limit on the same database. */
function compareToLimit(rows) {
  for (const r of rows) {
    const limit = rows.find((x) => x.server === 'durable limit' && x.database === r.database)
    if (limit) {
      r.limit = limit.rps
      r.limitRatio = r.rps / limit.rps
    }
  }
}

function publicReport(rows) {
  const base = rows[0].rps
  const rss = (m) =>
    m.processes > 1
      ? `${m.total} (${m.node} node + ${m.postgres} in ${m.processes - 1} PostgreSQL)`
      : `${m.total}`
  const lines = [
    '## The public path: GET /paylink/:id',
    '',
    'The durable limit (bench/durable-limit.mjs) is Fastify and node-postgres storing one visit and one order per',
    'request in two small tables, group-committed, with the 302 sent after COMMIT. paylinks also commits its visit',
    'and order (and their statistics) before the 302. Each server gets the same load for the warm-up first, not timed.',
    '"302s" counts those of the warm-up too. "lost" is at most how many 302s have no stored visit and order: the 302s and the',
    'requests still unanswered when a load stopped, less the visits and orders stored; it must be 0. Peak RSS is the',
    'highest sum, sampled every 200 ms under load, of the server process and, on the embedded',
    'database, every PostgreSQL process (the external server is shared and not counted); PSS divides shared memory',
    'among the processes that share it, so it does not count the shared buffers once per backend as RSS does.',
    '',
    '| server | database | req/s | × bare | × durable limit | p50 ms | p99 ms | peak RSS MB | peak PSS MB | 302s | visits stored | orders stored | lost |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.server} | ${r.database} | ${r.rps} | ${(r.rps / base).toFixed(3)} | ${r.limitRatio?.toFixed(2) ?? '—'} | ${r.p50} | ${r.p99} | ${rss(r.rss)} | ${r.rss.pss} | ${r.redirects} | ${r.visits ?? '—'} | ${r.orders ?? '—'} | ${r.lost ?? '—'} |`,
    )
  }
  const embedded = rows.find((r) => r.idleStart)
  if (embedded) {
    lines.push(
      '',
      `Idle, paylinks on the ${embedded.database}: ${rss(embedded.idleStart)} MB RSS (${embedded.idleStart.pss} MB PSS) 3 s after start, ` +
        `before any load; ${rss(embedded.idleAfter)} MB RSS (${embedded.idleAfter.pss} MB PSS) ${SETTLE_MS / 1000} s after the load.`,
    )
  }
  return [...lines, '']
}

let code = 1
try {
  code = await main()
} catch (error) {
  // Once interrupted, what fails is only what the clean-up stopped under the run.
  if (!interrupted) console.error(error)
} finally {
  await cleanUp()
}
process.exit(interrupted ? 130 : code)
