// The group committer with a writer the test settles by hand: how many writes run at once (retries
// included), who fails when a batch fails, and what a full queue answers. Connection errors are checked
// against the errors node-postgres really raises.
import Fastify from 'fastify'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { AppError, sendError } from '../../src/lib/errors.js'
import { GroupCommitter, QueueFullError } from '../../src/lib/group-commit.js'
import { isConnectionError } from '../../src/lib/pg-errors.js'
import { freePort } from '../helpers/process.js'

interface PendingWrite<T> {
  batch: T[]
  /** Commits the write, or fails it with the error. */
  settle(error?: unknown): void
}

/** A writer whose every write waits until the test settles it, counting the writes that run at once. */
function heldWriter<T>() {
  const pending: PendingWrite<T>[] = []
  const written: T[][] = []
  let running = 0
  let mostAtOnce = 0
  const write = (batch: T[]) =>
    new Promise<void>((resolve, reject) => {
      written.push([...batch])
      running++
      mostAtOnce = Math.max(mostAtOnce, running)
      pending.push({
        batch,
        settle: (error) => {
          running--
          if (error === undefined) resolve()
          else reject(error)
        },
      })
    })
  return {
    write,
    pending,
    written,
    mostAtOnce: () => mostAtOnce,
    /** Lets the committer react to what was settled (its callbacks run on the event loop, not on a clock). */
    turn: () => new Promise((resolve) => setImmediate(resolve)),
  }
}

const uniqueViolation = () =>
  Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), { code: '23505' })

type Outcome = { status: 'fulfilled' } | { status: 'rejected'; reason: unknown }
const outcomes = (promises: Promise<void>[]) => Promise.allSettled(promises) as Promise<Outcome[]>

describe('GroupCommitter', () => {
  it('never runs more than maxInFlight writes at once, the retries of failed batches included', async () => {
    const writer = heldWriter<number>()
    const committer = new GroupCommitter(writer.write, { maxBatch: 4, maxInFlight: 2, maxQueue: 100 })
    const bad = new Set([3, 9, 14])
    const submitted = Array.from({ length: 20 }, (_, i) => committer.submit(i))
    const results = outcomes(submitted)
    // Settles the oldest running write each turn: a batch holding a bad item fails, as a constraint would.
    for (let turns = 0; writer.pending.length > 0 && turns < 1000; turns++) {
      const write = writer.pending.shift() as PendingWrite<number>
      write.settle(write.batch.some((i) => bad.has(i)) ? uniqueViolation() : undefined)
      await writer.turn()
    }
    expect(writer.pending).toEqual([])
    expect(writer.mostAtOnce()).toBe(2)
    // Failed batches were written again item by item (the two first items went alone, the queue being idle).
    expect(writer.written.filter((batch) => batch.length === 1).length).toBeGreaterThan(2)
    const failed = (await results).flatMap((r, i) => (r.status === 'rejected' ? [i] : []))
    expect(failed).toEqual([...bad])
  })

  it('fails only the bad item of a failed batch; its neighbours are written again alone and committed', async () => {
    const writer = heldWriter<string>()
    const committer = new GroupCommitter(writer.write, { maxBatch: 10, maxInFlight: 1, maxQueue: 100 })
    const submitted = ['a', 'b', 'c', 'd'].map((item) => committer.submit(item))
    const results = outcomes(submitted)
    const error = uniqueViolation()
    for (let turns = 0; writer.pending.length > 0 && turns < 100; turns++) {
      const write = writer.pending.shift() as PendingWrite<string>
      write.settle(write.batch.includes('c') ? error : undefined)
      await writer.turn()
    }
    expect(writer.written).toEqual([['a'], ['b', 'c', 'd'], ['b'], ['c'], ['d']])
    expect(await results).toEqual([
      { status: 'fulfilled', value: undefined },
      { status: 'fulfilled', value: undefined },
      { status: 'rejected', reason: error },
      { status: 'fulfilled', value: undefined },
    ])
  })

  it.each([
    ['node-postgres lost the connection', new Error('Connection terminated unexpectedly')],
    [
      'SQLSTATE 08006 (connection failure)',
      Object.assign(new Error('connection failure'), { code: '08006' }),
    ],
    [
      'SQLSTATE 57P01 (the server shut down)',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    ['a reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' })],
    [
      'a refused connection, as the cause of another error',
      new Error('could not begin the transaction', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      }),
    ],
  ])('fails a whole batch at once, in one write, on a connection error: %s', async (_case, error) => {
    const writer = heldWriter<string>()
    const committer = new GroupCommitter(writer.write, { maxBatch: 10, maxInFlight: 1, maxQueue: 100 })
    const results = outcomes(['a', 'b', 'c', 'd'].map((item) => committer.submit(item)))
    writer.pending.shift()?.settle()
    await writer.turn()
    writer.pending.shift()?.settle(error)
    await writer.turn()
    expect(writer.pending).toEqual([])
    expect(writer.written).toEqual([['a'], ['b', 'c', 'd']])
    expect((await results).map((r) => (r.status === 'rejected' ? r.reason : 'committed'))).toEqual([
      'committed',
      error,
      error,
      error,
    ])
  })

  it('refuses an item at once with a QueueFullError when maxQueue items wait, and takes items again once they drain', async () => {
    const writer = heldWriter<string>()
    const committer = new GroupCommitter(writer.write, { maxBatch: 10, maxInFlight: 1, maxQueue: 2 })
    const accepted = ['a', 'b', 'c'].map((item) => committer.submit(item))
    // 'a' is being written and 'b' and 'c' wait: 'd' is refused while the write of 'a' still hangs.
    const refusal = await committer.submit('d').catch((error: unknown) => error)
    expect(writer.pending.map((w) => w.batch)).toEqual([['a']])
    expect(refusal).toBeInstanceOf(QueueFullError)
    expect(refusal).toBeInstanceOf(AppError)
    expect(refusal).toMatchObject({ code: 'service_unavailable', status: 503, retryAfterSeconds: 1 })

    writer.pending.shift()?.settle()
    await writer.turn()
    writer.pending.shift()?.settle()
    await Promise.all(accepted)
    const later = committer.submit('e')
    writer.pending.shift()?.settle()
    await later
    expect(writer.written).toEqual([['a'], ['b', 'c'], ['e']])
  })
})

describe('isConnectionError, on the errors node-postgres raises', () => {
  it('is true for a connection the server terminated, and for the next query on it', async () => {
    const client = new pg.Client({ connectionString: inject('suiteDatabase').url })
    client.on('error', () => {})
    await client.connect()
    try {
      const terminated = await client.query('select pg_terminate_backend(pg_backend_pid())').catch((e) => e)
      expect(terminated).toMatchObject({ code: '57P01' })
      expect(isConnectionError(terminated)).toBe(true)
      const next = await client.query('select 1').catch((e) => e)
      expect(next).toBeInstanceOf(Error)
      expect(isConnectionError(next)).toBe(true)
    } finally {
      await client.end().catch(() => {})
    }
  })

  it('is true for a server that refuses connections', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'nobody' })
    const refused = await client.connect().catch((e) => e)
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' })
    expect(isConnectionError(refused)).toBe(true)
  })

  it('is true for a refusal at connect: too many connections, a host name that does not resolve', async () => {
    const admin = new pg.Client({ connectionString: inject('suiteDatabase').url })
    await admin.connect()
    const role = `limited_${process.pid}`
    try {
      await admin.query(`create role ${role} login connection limit 0`)
      const url = new URL(inject('suiteDatabase').url)
      url.username = role
      const full = await new pg.Client({ connectionString: url.toString() }).connect().catch((e) => e)
      expect(full).toMatchObject({ code: '53300' })
      expect(isConnectionError(full)).toBe(true)
    } finally {
      await admin.query(`drop role if exists ${role}`)
      await admin.end()
    }
    const unresolved = await new pg.Client({ host: 'no-such-host.invalid', user: 'nobody' })
      .connect()
      .catch((e) => e)
    expect(unresolved).toMatchObject({ syscall: 'getaddrinfo' })
    expect(isConnectionError(unresolved)).toBe(true)
  })

  it('is false for a malformed bind (08P01), after which the connection still answers', async () => {
    const client = new pg.Client({ connectionString: inject('suiteDatabase').url })
    await client.connect()
    try {
      const violation = await client.query('select $1::int as n', [1, 2]).catch((e) => e)
      expect(violation).toMatchObject({ code: '08P01' })
      expect(isConnectionError(violation)).toBe(false)
      expect((await client.query('select 1 as n')).rows).toEqual([{ n: 1 }])
    } finally {
      await client.end()
    }
  })

  it('is false for errors of a statement: a unique violation, a syntax error', async () => {
    const client = new pg.Client({ connectionString: inject('suiteDatabase').url })
    await client.connect()
    try {
      await client.query('create temporary table t (id int primary key)')
      await client.query('insert into t values (1)')
      const duplicate = await client.query('insert into t values (1)').catch((e) => e)
      const syntax = await client.query('selec 1').catch((e) => e)
      expect([duplicate.code, syntax.code]).toEqual(['23505', '42601'])
      expect([isConnectionError(duplicate), isConnectionError(syntax)]).toEqual([false, false])
    } finally {
      await client.end()
    }
  })
})

describe('a full queue on a JSON route', () => {
  it('answers 503 with Retry-After and the standard error body', async () => {
    const app = Fastify()
    app.setErrorHandler((error, request, reply) => sendError(error, request, reply))
    app.get('/busy', async () => {
      throw new QueueFullError(2)
    })
    try {
      const res = await app.inject('/busy')
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('2')
      expect(res.json()).toEqual({
        code: 'service_unavailable',
        message: 'the server is busy; try again in a moment',
        details: { retry_after_seconds: 2 },
      })
    } finally {
      await app.close()
    }
  })
})
