// npm run bench: the public paylink path of paylinks, on PostgreSQL and on the embedded database,
// against a bare Node.js http server that answers a fixed 302, driven by the same load generator at
// the same concurrency in one run. Prints and writes bench/RESULTS.md: throughput, p50/p99 latency,
// peak RSS, the ratio to the baseline, and whether the visits and orders stored equal the 302s counted.
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { openDatabase } from '../dist/lib/db.js'
import { benchDashboard, dashboardReport } from './dashboard.mjs'
import { benchStats } from './stats.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DURATION = Number(process.env.BENCH_DURATION ?? 15)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BENCH_DB = 'paylinks_bench'

function start(args, env, ready) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    out += d
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 60_000)
    const poll = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(poll)
        clearTimeout(timer)
        resolve({ child, output: () => out })
      }
    }, 50)
    child.on('exit', (code) => {
      clearInterval(poll)
      clearTimeout(timer)
      reject(new Error(`exited with ${code}:\n${out}`))
    })
  })
}

/** Peak resident set size of a process so far (VmHWM), in MB. */
async function peakRssMb(pid) {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

function load(url) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: DURATION, followRedirect: false }, (err, result) =>
      err ? reject(err) : resolve(result),
    )
  })
}

function summary(name, result, rssMb) {
  return {
    name,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    rssMb,
    redirects: result['3xx'],
    errors: result.errors + result.timeouts + result.non2xx - result['3xx'],
  }
}

async function stop(child) {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
}

async function stored(baseUrl, key, paylinkId) {
  const res = await fetch(`${baseUrl}/admin/api/v1/paylinks/${paylinkId}/stat`, {
    headers: { authorization: `Bearer ${key}` },
  })
  return res.json()
}

async function runPaylinks(name, env) {
  const port = 3900 + Math.floor(Math.random() * 90)
  const server = await start(
    ['dist/server.js'],
    { PORT: String(port), LOG_LEVEL: 'warn', PUBLIC_RATE_LIMIT: '0', ...env },
    /paylinks is listening/,
  )
  try {
    const out = server.output()
    const key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(out)?.[1]
    const paylinkId = /\/paylink\/([0-9a-f]{32})/.exec(out)?.[1]
    const result = await load(`http://127.0.0.1:${port}/paylink/${paylinkId}?utm_source=bench`)
    const rss = await peakRssMb(server.child.pid)
    const stat = await stored(`http://127.0.0.1:${port}`, key, paylinkId)
    const dashboard = await benchDashboard(`http://127.0.0.1:${port}`, out, paylinkId)
    await stop(server.child)
    const raw = await rawCounts(env, paylinkId)
    const row = summary(name, result, rss)
    row.visits = raw.visits
    row.orders = raw.orders
    // Requests still in flight when the load stopped are stored but not counted: only a shortfall is a loss.
    row.lost = Math.max(0, row.redirects - Math.min(raw.visits, raw.orders))
    // The dashboards' rollups must agree with the raw rows they summarise.
    row.rollupsAgree = stat.visits === raw.visits && stat.orders === raw.orders
    row.dashboard = dashboard
    return row
  } finally {
    await stop(server.child)
  }
}

/** Visits and orders of the link as stored in the raw tables (read after the server has stopped). */
async function rawCounts(env, paylinkId) {
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.PAYLINKS_DATA_DIR })
  try {
    const count = async (table) =>
      Number(
        (
          await database.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where('paylink_id', '=', paylinkId)
            .executeTakeFirstOrThrow()
        ).n,
      )
    return { visits: await count('visits'), orders: await count('orders') }
  } finally {
    await database.close()
  }
}

async function resetBenchDatabase() {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`)
  await admin.query(`CREATE DATABASE ${BENCH_DB}`)
  await admin.end()
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${BENCH_DB}`
  return url.toString()
}

async function main() {
  const rows = []
  const baseline = await start(['bench/baseline.mjs', '0'], {}, /listening \d+/)
  try {
    const port = /listening (\d+)/.exec(baseline.output())[1]
    const result = await load(`http://127.0.0.1:${port}/paylink/x`)
    rows.push(summary('bare node:http 302', result, await peakRssMb(baseline.child.pid)))
  } finally {
    await stop(baseline.child)
  }

  let pgUrl
  try {
    pgUrl = await resetBenchDatabase()
  } catch (err) {
    console.error(`PostgreSQL at ${PG_ADMIN_URL} is not reachable (${err.message}); skipping it`)
  }
  let stats
  if (pgUrl) {
    try {
      rows.push(await runPaylinks('paylinks, PostgreSQL', { DATABASE_URL: pgUrl }))
      if (process.env.BENCH_STATS !== '0') {
        pgUrl = await resetBenchDatabase()
        stats = await benchStats(pgUrl, async () => {
          const port = 3900 + Math.floor(Math.random() * 90)
          const server = await start(
            ['dist/server.js'],
            { PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: pgUrl },
            /paylinks is listening/,
          )
          return { baseUrl: `http://127.0.0.1:${port}`, stop: () => stop(server.child) }
        })
      }
    } finally {
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`)
      await admin.end()
    }
  }

  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-bench-'))
  try {
    rows.push(await runPaylinks('paylinks, embedded PGlite', { PAYLINKS_DATA_DIR: dataDir }))
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true })
  }

  const base = rows[0].rps
  const header =
    '| server | req/s | ratio to baseline | p50 ms | p99 ms | peak RSS MB | 302s | visits stored | orders stored | lost |'
  const lines = [header, '|---|---|---|---|---|---|---|---|---|---|']
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.rps} | ${(r.rps / base).toFixed(3)} | ${r.p50} | ${r.p99} | ${r.rssMb} | ${r.redirects} | ${r.visits ?? '—'} | ${r.orders ?? '—'} | ${r.lost ?? '—'} |`,
    )
  }
  const when = new Date().toISOString()
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
  const report = [
    '# Benchmark: the public paylink path',
    '',
    `${when} · ${machine} · autocannon, ${CONNECTIONS} connections, ${DURATION} s each, redirects not followed.`,
    'Each paylinks request records a visit and creates an order (both committed before the 302 is sent).',
    '"lost" counts 302 answers without a stored visit and order; it must be 0.',
    '',
    ...lines,
    '',
    ...dashboardReport(rows.filter((r) => r.dashboard).map((r) => ({ name: r.name, pages: r.dashboard }))),
    ...(stats
      ? statsReport(stats)
      : ['Statistics queries: not measured (no PostgreSQL, or BENCH_STATS=0).', '']),
  ].join('\n')
  process.stdout.write(`${report}\n`)
  await fs.writeFile(path.join(ROOT, 'bench/RESULTS.md'), report)
  if (rows.some((r) => r.rollupsAgree === false)) {
    console.error('FAIL: the rollups disagree with the raw visits and orders')
    process.exit(1)
  }
  if (rows.some((r) => r.dashboard?.some((p) => p.failed > 0))) {
    console.error('FAIL: a dashboard page failed under load')
    process.exit(1)
  }
  const lost = rows.some((r) => (r.lost ?? 0) !== 0)
  if (lost) {
    console.error('FAIL: some acknowledged visits or orders were not stored')
    process.exit(1)
  }
}

function statsReport(stats) {
  const fmt = (ms) => ms.toFixed(1)
  return [
    '## Statistics queries (PostgreSQL)',
    '',
    `1,000,000 visits on one paylink and 1,000,000 across 1,000 paylinks of another project, over 90 days`,
    `(5% create an order, 2.5% are paid). Raw rows generated in ${(stats.generatedMs / 1000).toFixed(1)} s;`,
    `\`stats rebuild\` recomputed ${stats.rows} rollup rows from them in ${(stats.rebuildMs / 1000).toFixed(1)} s.`,
    'Each query answered over HTTP by a paylinks server, one at a time, timed by the client after 3 warm-up calls.',
    '',
    '| scope | query | period | visits in period | p50 ms | p99 ms |',
    '|---|---|---|---|---|---|',
    ...stats.results.map(
      (r) => `| ${r.target} | ${r.dim} | ${r.period} | ${r.visits} | ${fmt(r.p50)} | ${fmt(r.p99)} |`,
    ),
    '',
  ]
}

await main()
