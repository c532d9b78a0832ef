// The durable limit: the least a server must do to answer GET /paylink/:id with a 302 that is never lost.
// Fastify and node-postgres, as paylinks; each request stores one visit and one order, and the 302 is sent
// only after their COMMIT. Group commit: requests that arrive while a batch is being written are written
// together, in one transaction, by the next batch. No lookup of the link, no statistics, no events: what
// paylinks does on top of this is what its ratio to this server measures.
//
//   node bench/durable-limit.mjs <port> <database url>     prints "listening <port>" once it answers
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'

const port = Number(process.argv[2] ?? 0)
const databaseUrl = process.argv[3]
if (!databaseUrl) throw new Error('usage: node bench/durable-limit.mjs <port> <database url>')

const SCHEMA = 'durable_limit'
// One writer: a batch is written while the next one gathers. A second connection is for the set-up.
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
pool.on('error', () => {})

await pool.query(`
  DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE;
  CREATE SCHEMA ${SCHEMA};
  CREATE TABLE ${SCHEMA}.visits (
    id            text PRIMARY KEY,
    paylink_id    text NOT NULL,
    visited_at    timestamptz NOT NULL,
    visitor_hash  text NOT NULL,
    utm_source    text,
    referrer_host text,
    country       text,
    order_id      text
  );
  CREATE INDEX visits_paylink_idx ON ${SCHEMA}.visits (paylink_id, visited_at);
  CREATE TABLE ${SCHEMA}.orders (
    id           text PRIMARY KEY,
    paylink_id   text NOT NULL,
    status       text NOT NULL,
    currency     text NOT NULL,
    total_amount bigint NOT NULL,
    utm_source   text,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
  );
`)

const VISITS = `
  INSERT INTO ${SCHEMA}.visits (id, paylink_id, visited_at, visitor_hash, utm_source, referrer_host, country, order_id)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`
const ORDERS = `
  INSERT INTO ${SCHEMA}.orders (id, paylink_id, status, currency, total_amount, utm_source, created_at, expires_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[], $8::timestamptz[])`

/** Each column of the rows as one array, the shape unnest takes. */
function columns(rows, names) {
  return names.map((name) => rows.map((row) => row[name]))
}

async function writeBatch(batch) {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(
      VISITS,
      columns(
        batch.map((b) => b.visit),
        [
          'id',
          'paylink_id',
          'visited_at',
          'visitor_hash',
          'utm_source',
          'referrer_host',
          'country',
          'order_id',
        ],
      ),
    )
    await client.query(
      ORDERS,
      columns(
        batch.map((b) => b.order),
        ['id', 'paylink_id', 'status', 'currency', 'total_amount', 'utm_source', 'created_at', 'expires_at'],
      ),
    )
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

let pending = []
let writing
/** Resolves once the row pair is committed, with whatever else arrived while the previous batch was written. */
function store(visit, order) {
  return new Promise((resolve, reject) => {
    pending.push({ visit, order, resolve, reject })
    writing ??= drain()
  })
}

async function drain() {
  while (pending.length > 0) {
    const batch = pending
    pending = []
    try {
      await writeBatch(batch)
      for (const b of batch) b.resolve()
    } catch (error) {
      for (const b of batch) b.reject(error)
    }
  }
  writing = undefined
}

const hex = (bytes) => randomBytes(bytes).toString('hex')
const app = Fastify({ logger: false })
app.get('/paylink/:id', async (request, reply) => {
  const now = new Date()
  const orderId = `ord_${hex(12)}`
  const utmSource = request.query.utm_source ?? null
  await store(
    {
      id: `vis_${hex(12)}`,
      paylink_id: request.params.id,
      visited_at: now.toISOString(),
      visitor_hash: hex(16),
      utm_source: utmSource,
      referrer_host: request.headers.referer ? new URL(request.headers.referer).host : null,
      country: 'US',
      order_id: orderId,
    },
    {
      id: orderId,
      paylink_id: request.params.id,
      status: 'created',
      currency: 'USD',
      total_amount: 1500,
      utm_source: utmSource,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 86_400_000).toISOString(),
    },
  )
  return reply.redirect(`/pay/${orderId}`, 302)
})

await app.listen({ port, host: '127.0.0.1' })
process.stdout.write(`listening ${app.server.address().port}\n`)

async function close() {
  await app.close()
  await writing
  await pool.end()
  process.exit(0)
}
process.once('SIGTERM', close)
process.once('SIGINT', close)
