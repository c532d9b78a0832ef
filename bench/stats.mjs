// The statistics half of npm run bench: 1 million visits on one paylink and 1 million across 1,000
// paylinks of another project, spread over 90 days, then every dashboard query timed through a real
// paylinks server over HTTP. The raw rows are generated in SQL and the rollups computed by the same
// rebuild that `paylinks stats rebuild` runs, whose duration is reported too, and so is the space the
// statistics take per visit once rebuilt.

import { sql } from 'kysely'
import { loadConfig } from '../dist/lib/config.js'
import { openDatabase } from '../dist/lib/db.js'
import { migrateToLatest } from '../dist/lib/migrate.js'
import { systemClock } from '../dist/lib/time.js'
import { rebuildStats } from '../dist/modules/analytics/rollup.js'
import { createServices } from '../dist/services.js'

const VISITS = Number(process.env.BENCH_STATS_VISITS ?? 1_000_000)
const DAYS = 90
const REPEAT = Number(process.env.BENCH_STATS_REPEAT ?? 200)
/**
 * The tables that hold statistics (rollups and what they are kept with), under the names of every design
 * so far: only those that exist are measured. The raw visits and orders are not among them.
 */
const STATS_TABLES = [
  'link_stats',
  'visitor_days',
  'stat_rollups',
  'stat_names',
  'stat_visitors',
  'stat_queue',
]

/** Creates a merchant with two projects: one link, and 1,000 links. Returns what the queries need. */
export async function seed(databaseUrl) {
  const database = await openDatabase({ databaseUrl })
  try {
    await migrateToLatest(database)
    const services = createServices(loadConfig({ DATABASE_URL: databaseUrl }), database, systemClock)
    const { merchant, secret } = await services.merchants.createMerchant({ name: 'Bench stats' })
    const project = async (name) => {
      const p = await services.projects.create(merchant.id, { name, default_currency: 'USD' })
      const product = await services.products.create(merchant.id, {
        project_id: p.id,
        name: 'Thing',
        prices: [{ currency: 'USD', amount: 1500 }],
      })
      return { id: p.id, product: product.id }
    }
    const single = await project('One hot link')
    const hot = await services.paylinks.create(merchant.id, {
      project_id: single.id,
      products: [single.product],
      life_days: 7,
    })
    const wide = await project('A thousand links')
    const many = []
    for (let i = 0; i < 1000; i++) {
      many.push(
        (
          await services.paylinks.create(merchant.id, {
            project_id: wide.id,
            products: [wide.product],
            life_days: 7,
          })
        ).id,
      )
    }
    const { db } = database
    const t0 = performance.now()
    await generate(db, merchant.id, single.id, [hot.id], 0)
    await generate(db, merchant.id, wide.id, many, VISITS)
    const generatedMs = performance.now() - t0
    const t1 = performance.now()
    const rebuilt = await db.transaction().execute(rebuildStats)
    const rebuildMs = performance.now() - t1
    await sql`analyze`.execute(db)
    return {
      ...(await storage(db)),
      key: secret,
      hotLink: hot.id,
      singleProject: single.id,
      wideProject: wide.id,
      rows: rebuilt?.rows,
      generatedMs,
      rebuildMs,
    }
  } finally {
    await database.close()
  }
}

/** Bytes of each statistics table, its indexes and TOAST included, and per visit stored. */
async function storage(db) {
  const tables = []
  for (const name of STATS_TABLES) {
    const { rows } = await sql`
      select to_regclass(${name}) is not null as found,
             pg_total_relation_size(to_regclass(${name})) as bytes`.execute(db)
    if (rows[0].found) tables.push({ name, bytes: Number(rows[0].bytes) })
  }
  const { rows } = await sql`select count(*) as n from visits`.execute(db)
  const visits = Number(rows[0].n)
  const bytes = tables.reduce((sum, t) => sum + t.bytes, 0)
  return { storage: { tables, bytes, visits, bytesPerVisit: visits > 0 ? bytes / visits : 0 } }
}

/**
 * VISITS visits over the links, evenly over DAYS days up to now: 20 countries, 50 referrers, 30 UTM
 * triples, visitors returning within a day; every 20th visit creates an order, every 40th is paid. An
 * unpaid order whose day has passed is expired, as the sweep leaves it: else the server's first sweep
 * expires tens of thousands while the queries are timed.
 */
async function generate(db, merchantId, projectId, links, offset) {
  const end = Date.now()
  const step = (DAYS * 86_400_000) / VISITS
  const chunk = 200_000
  for (let from = 0; from < VISITS; from += chunk) {
    const to = Math.min(VISITS, from + chunk) - 1
    await sql`
      with v as (
        insert into visits (paylink_id, project_id, visited_at, visitor_hash, utm_source, utm_medium, utm_campaign,
                            referrer_host, country, order_id)
        select (${links}::text[])[1 + i % ${links.length}], ${projectId},
               to_timestamp((${end - DAYS * 86_400_000} + (i - ${offset}) * ${step}) / 1000.0),
               substr(md5((i % 350000)::text), 1, 32),
               case when i % 7 = 0 then null else 'source' || (i % 5) end,
               case when i % 7 = 0 then null else 'medium' || (i % 3) end,
               case when i % 7 = 0 then null else 'campaign' || (i % 2) end,
               case when i % 4 = 0 then null else 'site' || (i % 50) || '.example' end,
               (array['US','DE','FR','GB','NL','SE','IT','ES','PL','CZ','JP','IN','BR','CA','AU','NP','MX','KR','ZA','NG'])[1 + i % 20],
               case when i % 20 = 0 then 'ord_' || lpad(to_hex(i), 24, '0') end
        from generate_series(${from + offset}::bigint, ${to + offset}::bigint) as i
        returning *
      )
      insert into orders (id, merchant_id, project_id, paylink_id, status, currency, total_amount,
                          utm_source, utm_medium, utm_campaign, referrer_host, country,
                          created_at, updated_at, expires_at, paid_at)
      select v.order_id, ${merchantId}, ${projectId}, v.paylink_id,
             case when paid then 'paid' when v.visited_at + interval '1 day' <= now() then 'expired' else 'created' end,
             'USD', 1500, v.utm_source, v.utm_medium, v.utm_campaign, v.referrer_host, v.country,
             v.visited_at, v.visited_at, v.visited_at + interval '1 day',
             case when paid then v.visited_at end
      from v cross join lateral (select ('x' || right(v.order_id, 8))::bit(32)::int % 40 = 0 as paid) p
      where v.order_id is not null`.execute(db)
  }
}

function millions(n) {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : n.toLocaleString('en-US')
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/** Times each query REPEAT times, one at a time, through the server's HTTP API. */
export async function timeQueries(baseUrl, seeded) {
  const now = Math.floor(Date.now() / 1000)
  const periods = [
    ['last 30 days, UTC', `period_from=${now - 30 * 86_400}&period_to=${now}`],
    [
      '90 days, Asia/Kathmandu',
      `period_from=${now - 90 * 86_400 + 777}&period_to=${now}&timezone=Asia/Kathmandu`,
    ],
  ]
  const n = millions(VISITS)
  const targets = [
    [`1 link, ${n} visits`, `/paylinks/${seeded.hotLink}/dashboard`],
    [`1,000 links, ${n} visits`, `/projects/${seeded.wideProject}/dashboard`],
  ]
  const results = []
  for (const [target, prefix] of targets) {
    const dims = [
      'summary',
      'country',
      'referrer',
      'utm',
      'date',
      ...(prefix.startsWith('/projects') ? ['paylink'] : []),
    ]
    for (const dim of dims) {
      for (const [period, query] of periods) {
        const url = `${baseUrl}/admin/api/v1${prefix}/${dim}?${query}`
        const times = []
        let body
        for (let i = 0; i < REPEAT + 3; i++) {
          const t = performance.now()
          const res = await fetch(url, { headers: { authorization: `Bearer ${seeded.key}` } })
          body = await res.json()
          if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`)
          if (i >= 3) times.push(performance.now() - t) // the first three warm the caches
        }
        times.sort((a, b) => a - b)
        const visits = dim === 'summary' ? body.visits : body.total.visits
        results.push({ target, dim, period, p50: percentile(times, 50), p99: percentile(times, 99), visits })
      }
    }
  }
  return results
}

export async function benchStats(databaseUrl, startServer) {
  const seeded = await seed(databaseUrl)
  const server = await startServer()
  try {
    const t = performance.now()
    const results = await timeQueries(server.baseUrl, seeded)
    return { ...seeded, results, queriesMs: performance.now() - t }
  } finally {
    await server.stop()
  }
}

export function statsReport(stats) {
  const fmt = (ms) => ms.toFixed(1)
  const n = VISITS.toLocaleString('en-US')
  const { storage } = stats
  return [
    '## Statistics queries (PostgreSQL)',
    '',
    `${n} visits on one paylink and ${n} across 1,000 paylinks of another project, over ${DAYS} days`,
    `(5% create an order, 2.5% are paid). Raw rows generated in ${(stats.generatedMs / 1000).toFixed(1)} s;`,
    `\`stats rebuild\` recomputed the statistics of the ${storage.visits.toLocaleString('en-US')} visits` +
      `${stats.rows === undefined ? '' : ` (${stats.rows} rollup rows)`} in ${(stats.rebuildMs / 1000).toFixed(1)} s.`,
    'Each query answered over HTTP by a paylinks server, one at a time, timed by the client after 3 warm-up calls',
    `(${REPEAT} timed calls each).`,
    '',
    '| scope | query | period | visits in period | p50 ms | p99 ms |',
    '|---|---|---|---|---|---|',
    ...stats.results.map(
      (r) => `| ${r.target} | ${r.dim} | ${r.period} | ${r.visits} | ${fmt(r.p50)} | ${fmt(r.p99)} |`,
    ),
    '',
    '### Statistics storage, after the rebuild',
    '',
    'pg_total_relation_size (table, indexes, TOAST) of each statistics table that exists, over all visits stored.',
    '',
    '| table | MB | bytes per visit |',
    '|---|---|---|',
    ...storage.tables.map(
      (t) => `| ${t.name} | ${(t.bytes / 2 ** 20).toFixed(1)} | ${(t.bytes / storage.visits).toFixed(1)} |`,
    ),
    `| **all** | **${(storage.bytes / 2 ** 20).toFixed(1)}** | **${storage.bytesPerVisit.toFixed(1)}** |`,
    '',
  ]
}
