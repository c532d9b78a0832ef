// Webhook delivery to real receivers on loopback: signing, retries on the schedule, 410 and Retry-After,
// several dispatchers on one database, time limits and leases, slow receivers beside fast ones, size
// limits and unstorable answers, the delivery log and resending by hand.
import { sql } from 'kysely'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Clock, systemClock } from '../../src/lib/time.js'
import { type DispatcherOptions, WebhookDispatcher } from '../../src/modules/webhooks/dispatcher.js'
import { emitEvent } from '../../src/modules/webhooks/events.js'
import { postJson, storableText } from '../../src/modules/webhooks/http.js'
import { GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'

let ctx: TestContext
let merchant: TestMerchant
let receiver: Receiver
let projectId: string
let productId: string

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' }, start: new Date() })
  merchant = await createMerchant(ctx.services)
  projectId = (await createProject(ctx.app, merchant)).id
  productId = (await createProduct(ctx.app, merchant, projectId)).id
})
afterAll(() => ctx.close())
afterEach(async () => {
  await receiver?.close()
  // Each test starts without endpoints or pending deliveries of earlier ones.
  for (const w of (await api(ctx.app, merchant, 'GET', '/webhooks')).body.webhooks) {
    await api(ctx.app, merchant, 'DELETE', `/webhooks/${w.id}`)
  }
  await ctx.database.db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed' })
    .where('status', '=', 'pending')
    .execute()
})

async function endpoint(events: string[], url = receiver.url) {
  return (await api(ctx.app, merchant, 'POST', '/webhooks', { url, events })).body as {
    id: string
    secret: string
  }
}

function dispatcher(options: DispatcherOptions, clock: Clock = ctx.clock) {
  return new WebhookDispatcher(ctx.database.db, clock, ctx.config, ctx.services.logger, options)
}

/** Waits for a condition, polling, up to a deadline generous enough for a busy machine. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function drain(dispatcher = ctx.services.dispatcher) {
  while ((await dispatcher.runOnce()) > 0) {}
}

async function deliveries(endpointId: string) {
  return (await api(ctx.app, merchant, 'GET', `/webhooks/${endpointId}/deliveries?limit=100`)).body
}

describe('signed delivery', () => {
  it('delivers one order.paid per payment that the standardwebhooks verifier accepts', async () => {
    receiver = await startReceiver()
    const { id, secret } = await endpoint(['order.paid'])
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    const { orderId } = await openPaylink(ctx.app, link.id)
    const session = await openPaymentPage(ctx.app, orderId as string)
    await submitPayment(ctx.app, orderId as string, session, {
      ...GOOD_CARD,
      card_number: '4000000000000002',
    })
    await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)
    await drain()

    expect(receiver.received).toHaveLength(1)
    const [message] = receiver.received
    const payload = new Webhook(secret).verify(
      message?.body as string,
      message?.headers as Record<string, string>,
    ) as {
      type: string
      timestamp: string
      data: { id: string; status: string; payments: { status: string }[] }
    }
    expect(payload.type).toBe('order.paid')
    expect(payload.data).toMatchObject({ id: orderId, status: 'paid' })
    expect(payload.data).toEqual((await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body)
    expect(message?.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{24}$/)
    const log = await deliveries(id)
    expect(log.deliveries).toMatchObject([{ event_type: 'order.paid', status: 'succeeded', attempts: 1 }])
    expect(log.deliveries[0].attempt_log).toMatchObject([
      { attempt: 1, response_status: 200, response_excerpt: 'ok', succeeded: true },
    ])
  })

  it('sends a signature with each secret during a rotation, and either verifies', async () => {
    receiver = await startReceiver()
    const { id, secret: oldSecret } = await endpoint(['paylink.created'])
    const { secret: newSecret } = (await api(ctx.app, merchant, 'POST', `/webhooks/${id}/rotate-secret`)).body
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    const [message] = receiver.received
    expect(String(message?.headers['webhook-signature']).split(' ')).toHaveLength(2)
    for (const secret of [oldSecret, newSecret]) {
      expect(() =>
        new Webhook(secret).verify(message?.body as string, message?.headers as Record<string, string>),
      ).not.toThrow()
    }
  })

  it('sends only the types an endpoint subscribed to, and everything for *', async () => {
    receiver = await startReceiver()
    await endpoint(['paylink.deleted'])
    await endpoint(['*'])
    const link = await createPaylink(ctx.app, merchant, projectId, [productId])
    await api(ctx.app, merchant, 'DELETE', `/paylinks/${link.id}`)
    await drain()
    const types = receiver.received.map((r) => JSON.parse(r.body).type).sort()
    expect(types).toEqual(['paylink.created', 'paylink.deleted', 'paylink.deleted'])
  })
})

describe('retries', () => {
  it('gets the event to a receiver that fails three times on the fourth attempt, on the schedule', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 500, body: 'boom' }, { status: 502 }, { status: 404 })
    const { id } = await endpoint(['paylink.created'])
    const start = ctx.clock.now()
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    for (const [wait, expected] of [
      [4_999, 1],
      [1, 2],
      [5 * 60_000 - 1, 2],
      [1, 3],
      [30 * 60_000, 4],
    ] as const) {
      ctx.clock.advance(wait)
      await drain()
      expect(receiver.received).toHaveLength(expected)
    }
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 4, next_attempt_at: null })
    expect(delivery.attempt_log.map((a: { response_status: number }) => a.response_status)).toEqual([
      500, 502, 404, 200,
    ])
    expect(delivery.attempt_log[0].response_excerpt).toBe('boom')
    // Every attempt carries the same message id, so receivers can tell a retry from a new event.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1)
    ctx.clock.set(start)
  })

  it('gives up after ten attempts over the whole schedule', async () => {
    receiver = await startReceiver()
    receiver.script(...Array.from({ length: 10 }, () => ({ status: 500 })))
    const { id } = await endpoint(['paylink.created'])
    const start = ctx.clock.now()
    await createPaylink(ctx.app, merchant, projectId, [productId])
    for (let i = 0; i < 12; i++) {
      await drain()
      ctx.clock.advance(24 * 3_600_000)
    }
    ctx.clock.set(start)
    expect(receiver.received).toHaveLength(10)
    expect((await deliveries(id)).deliveries[0]).toMatchObject({ status: 'failed', attempts: 10 })
  })

  it('reaches a receiver that was down and is up again', async () => {
    const down = await startReceiver()
    const url = down.url
    await down.close()
    const { id } = await endpoint(['paylink.created'], url)
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    const first = (await deliveries(id)).deliveries[0]
    expect(first).toMatchObject({ status: 'pending', attempts: 1 })
    expect(first.attempt_log[0].error).toMatch(/ECONNREFUSED/)
    receiver = await startReceiver(down.port)
    ctx.clock.advance(5_000)
    await drain()
    ctx.clock.advance(-5_000)
    expect(receiver.received).toHaveLength(1)
  })

  it('disables the endpoint when the receiver answers 410 Gone', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 410 })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    expect((await api(ctx.app, merchant, 'GET', `/webhooks/${id}`)).body).toMatchObject({
      enabled: false,
      disabled_reason: 'the receiver answered 410 Gone',
    })
    expect((await deliveries(id)).deliveries[0]).toMatchObject({ status: 'failed', attempts: 1 })
    await createPaylink(ctx.app, merchant, projectId, [productId])
    expect((await deliveries(id)).total).toBe(1)
  })

  it.each([429, 503])('waits as long as Retry-After says on %i', async (status) => {
    receiver = await startReceiver()
    receiver.script({ status, headers: { 'retry-after': '120' } })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    const [delivery] = (await deliveries(id)).deliveries
    expect(
      new Date(delivery.next_attempt_at).getTime() - new Date(delivery.attempt_log[0].started_at).getTime(),
    ).toBe(120_000)
  })
})

describe('several dispatchers on one database', () => {
  it('deliver each event to each endpoint exactly once', async () => {
    receiver = await startReceiver()
    await endpoint(['paylink.created'])
    for (let i = 0; i < 24; i++) await createPaylink(ctx.app, merchant, projectId, [productId])
    const make = () => dispatcher({ concurrency: 4 })
    await Promise.all([drain(make()), drain(make()), drain(make())])
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(ids).toHaveLength(24)
    expect(new Set(ids).size).toBe(24)
  })
})

describe('time limits and leases', () => {
  it('records a receiver that drips its answer as a timeout at the bound, and retries it later', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 200, dripMs: 200 })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    // Each byte would reset an idle timeout: only a bound on the whole attempt ends it.
    await drain(dispatcher({ attemptTimeoutMs: 1000 }))
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1 })
    expect(delivery.attempt_log).toMatchObject([
      { attempt: 1, response_status: 200, error: 'timed out after 1 s', succeeded: false },
    ])
    expect(delivery.attempt_log[0].duration_ms).toBeGreaterThanOrEqual(1000)
    // The receiver sees its connection closed a moment after the sender gave up.
    await until(() => receiver.received[0]?.cut === true, 'the receiver sees the connection closed')
    expect(receiver.received[0]?.answered).toBe(false)

    ctx.clock.advance(5_000)
    await drain()
    ctx.clock.advance(-5_000)
    expect((await deliveries(id)).deliveries[0]).toMatchObject({ status: 'succeeded', attempts: 2 })
  })

  it('ends an attempt and records it before its lease ends', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 200, hang: true })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    // The real clock, so that the lease really runs out while the receiver holds the attempt open.
    // The shortest lease allowed: one attempt timeout to attempt, one more to record.
    const running = dispatcher({ attemptTimeoutMs: 1000, leaseMs: 2000 }, systemClock).runOnce()
    await until(() => receiver.received.length === 1, 'the receiver has the request')
    const { leased_until } = await ctx.database.db
      .selectFrom('webhook_deliveries')
      .select('leased_until')
      .where('endpoint_id', '=', id)
      .executeTakeFirstOrThrow()
    expect(await running).toBe(1)
    // The receiver sees its connection closed a moment after the sender gave up.
    await until(() => receiver.received[0]?.cut === true, 'the receiver sees the connection closed')
    expect(receiver.received[0]?.answered).toBe(false)
    // Recorded at all means recorded while the lease was held: finishing checks it.
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1 })
    const [attempt] = delivery.attempt_log
    expect(attempt).toMatchObject({ error: expect.stringMatching(/^timed out after /), succeeded: false })
    expect(new Date(attempt.started_at).getTime() + attempt.duration_ms).toBeLessThan(
      (leased_until as Date).getTime(),
    )
  })

  it('records nothing for an attempt whose lease was lost, so no attempt counts twice', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 200, body: 'late', hang: true })
    const { id } = await endpoint(['paylink.created'])
    const start = ctx.clock.now()
    await createPaylink(ctx.app, merchant, projectId, [productId])
    const first = dispatcher({ attemptTimeoutMs: 30_000, leaseMs: 60_000 }).runOnce()
    await until(() => receiver.received.length === 1, 'the first attempt is in flight')
    // As if the first attempt had outlived its lease: a second worker claims the delivery and delivers.
    ctx.clock.advance(60_001)
    await drain(dispatcher({}))
    receiver.release()
    expect(await first).toBe(1)
    ctx.clock.set(start)
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect(delivery.attempt_log).toMatchObject([
      { attempt: 1, response_status: 200, response_excerpt: 'ok', succeeded: true },
    ])
  })

  it('refuses a lease shorter than twice the attempt timeout', () => {
    expect(() => dispatcher({ attemptTimeoutMs: 1000, leaseMs: 1999 })).toThrow(
      'webhook lease of 1999 ms must be at least twice the attempt timeout of 1000 ms',
    )
  })
})

describe('slow receivers', () => {
  it('delivers to other endpoints while one receiver hangs, and holds a few slots at most', async () => {
    const slow = await startReceiver()
    slow.script({ status: 200, hang: true }, { status: 200, hang: true })
    receiver = await startReceiver()
    const hung = await endpoint(['paylink.created'], slow.url)
    const fast = await endpoint(['paylink.deleted'])
    const links = []
    for (let i = 0; i < 4; i++) links.push(await createPaylink(ctx.app, merchant, projectId, [productId]))
    const background = dispatcher({ concurrency: 3, perEndpoint: 2, attemptTimeoutMs: 30_000, pollMs: 20 })
    background.start()
    try {
      await until(() => slow.received.length >= 2, 'two attempts to the slow receiver are in flight')
      await api(ctx.app, merchant, 'DELETE', `/paylinks/${links[0]?.id}`)
      await until(
        async () => (await deliveries(fast.id)).deliveries[0]?.status === 'succeeded',
        'the other endpoint has its delivery',
      )
      // The slow receiver still holds both of its attempts, and got no third one.
      expect(slow.received).toHaveLength(2)
      expect(slow.received.every((r) => !r.answered && !r.cut)).toBe(true)
      expect(receiver.received).toHaveLength(1)

      slow.release()
      await until(
        async () =>
          (await deliveries(hung.id)).deliveries.filter((d: { status: string }) => d.status === 'succeeded')
            .length === 4,
        'the slow receiver has every delivery',
      )
      expect(slow.received).toHaveLength(4)
    } finally {
      slow.release()
      await background.stop()
      await slow.close()
    }
  })
})

describe('the outbox', () => {
  it('writes no event that no endpoint subscribes to, and each subscribed one with its deliveries', async () => {
    const quiet = await createMerchant(ctx.services)
    const emit = (type: 'paylink.created' | 'order.paid') =>
      ctx.database.db
        .transaction()
        .execute((tx) => emitEvent(tx, { merchantId: quiet.id, type, data: {}, at: ctx.clock.now() }))
    const written = async () => {
      const { rows } = await sql<{ type: string; deliveries: number }>`
        select ev.type, (select count(*)::integer from webhook_deliveries d where d.event_id = ev.id) as deliveries
        from events ev where ev.merchant_id = ${quiet.id} order by ev.created_at, ev.id`.execute(
        ctx.database.db,
      )
      return rows
    }
    await emit('paylink.created')
    expect(await written()).toEqual([])
    await listenToEverything(ctx.services, quiet.id, ['order.paid'])
    await emit('paylink.created')
    await emit('order.paid')
    expect(await written()).toEqual([{ type: 'order.paid', deliveries: 1 }])
  })

  it('announces the orders of a public link whose merchant subscribed after the server last looked', async () => {
    // The public path builds order.created only for merchants it knows to have an endpoint, and has its
    // statement check that. Inserted behind its back, the endpoint is found by that check.
    const shop = async () => {
      const m = await createMerchant(ctx.services)
      const project = (await createProject(ctx.app, m)).id
      const product = (await createProduct(ctx.app, m, project)).id
      return { merchant: m, paylinkId: (await createPaylink(ctx.app, m, project, [product])).id as string }
    }
    const [late, quiet] = [await shop(), await shop()]
    const announced = async (merchantId: string) => {
      const { rows } = await sql<{ order_id: string; deliveries: number }>`
        select ev.payload -> 'data' ->> 'id' as order_id,
               (select count(*)::integer from webhook_deliveries d where d.event_id = ev.id) as deliveries
        from events ev where ev.merchant_id = ${merchantId} and ev.type = 'order.created'`.execute(
        ctx.database.db,
      )
      return rows.sort((a, b) => a.order_id.localeCompare(b.order_id))
    }
    const open = async (paylinkId: string) => (await openPaylink(ctx.app, paylinkId)).orderId as string

    const before = await open(late.paylinkId)
    expect(before).toBeDefined()
    expect(await announced(late.merchant.id)).toEqual([])

    await listenToEverything(ctx.services, late.merchant.id, ['order.created'])
    // Both merchants at once, so that they may share a batch: only the subscribed one is announced.
    const orders = await Promise.all([
      ...Array.from({ length: 4 }, () => open(late.paylinkId)),
      ...Array.from({ length: 4 }, () => open(quiet.paylinkId)),
    ])
    const lateOrders = orders.slice(0, 4)
    expect(await announced(late.merchant.id)).toEqual(
      lateOrders.sort().map((order_id) => ({ order_id, deliveries: 1 })),
    )
    expect(await announced(quiet.merchant.id)).toEqual([])
    // Every order is there once, the first one unannounced as it was made before the endpoint.
    const stored = await ctx.database.db
      .selectFrom('orders')
      .select('id')
      .where('merchant_id', 'in', [late.merchant.id, quiet.merchant.id])
      .execute()
    expect(stored.map((o) => o.id).sort()).toEqual([before, ...orders].sort())
  })

  it('announces nothing of a change that was rolled back', async () => {
    const before = await ctx.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    await expect(
      ctx.database.db.transaction().execute(async (tx) => {
        await emitEvent(tx, {
          merchantId: merchant.id,
          type: 'paylink.created',
          data: {},
          at: ctx.clock.now(),
        })
        throw new Error('the change fails after its event was written')
      }),
    ).rejects.toThrow('the change fails')
    const failed = await api(ctx.app, merchant, 'POST', '/paylinks', {
      life_days: 7,
      project_id: projectId,
      products: ['0'.repeat(24)],
    })
    expect(failed.status).toBe(404)
    const after = await ctx.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    expect(after).toEqual(before)
  })
})

describe('receiving answers safely', () => {
  it('keeps at most 1 KB of a large answer', async () => {
    receiver = await startReceiver()
    receiver.script({ status: 200, body: 'x'.repeat(1_000_000) })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery.status).toBe('succeeded')
    expect(delivery.attempt_log[0].response_excerpt).toHaveLength(1024)
  })

  it.each([
    ['a NUL byte', 'ok\0done', 'ok\uFFFDdone'],
    // 602 bytes that are not UTF-8 decode to 602 replacement characters, 3 bytes each: 340 fit in 1 KB.
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('ok'), Buffer.from([0xff, 0xfe]), Buffer.alloc(600, 0x80)]),
      `ok${'\uFFFD'.repeat(340)}`,
    ],
  ])('counts a 200 whose body holds %s, keeping a storable excerpt', async (_, body, excerpt) => {
    receiver = await startReceiver()
    receiver.script({ status: 200, body })
    const { id } = await endpoint(['paylink.created'])
    await createPaylink(ctx.app, merchant, projectId, [productId])
    await drain()
    expect(receiver.received).toHaveLength(1)
    const [delivery] = (await deliveries(id)).deliveries
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect(delivery.attempt_log).toMatchObject([
      { attempt: 1, response_status: 200, response_excerpt: excerpt, error: null, succeeded: true },
    ])
  })

  it.each([
    ['text as it is', 'ok', 1024, 'ok'],
    ['NUL', 'a\0b', 1024, 'a\uFFFDb'],
    ['a lone surrogate', 'a\uD800b', 1024, 'a\uFFFDb'],
    ['at most the size in bytes, never half a character', `${'x'.repeat(1023)}é`, 1024, 'x'.repeat(1023)],
    ['a 4-byte character whole or not at all', 'ab😀', 5, 'ab'],
  ])('storableText keeps %s', (_, text, maxBytes, expected) => {
    expect(storableText(text, maxBytes)).toBe(expected)
    expect(Buffer.byteLength(storableText(text, maxBytes))).toBeLessThanOrEqual(maxBytes)
  })

  it('refuses at connection time a name that resolves to a private address', async () => {
    const result = await postJson('http://localhost:9/x', '{}', {}, { allowPrivate: false })
    expect(result.status).toBeNull()
    expect(result.error).toMatch(/non-public/)
    const literal = await postJson('http://10.1.2.3/x', '{}', {}, { allowPrivate: false })
    expect(literal.error).toBe('refused: 10.1.2.3 is not a public address')
  })
})

describe('resending by hand', () => {
  it('sends a failed delivery again with a fresh schedule', async () => {
    receiver = await startReceiver()
    receiver.script(...Array.from({ length: 10 }, () => ({ status: 500 })))
    const { id } = await endpoint(['paylink.created'])
    const start = ctx.clock.now()
    await createPaylink(ctx.app, merchant, projectId, [productId])
    for (let i = 0; i < 11; i++) {
      await drain()
      ctx.clock.advance(24 * 3_600_000)
    }
    ctx.clock.set(start)
    const [failed] = (await deliveries(id)).deliveries
    expect(failed.status).toBe('failed')
    const pending = await api(ctx.app, merchant, 'POST', `/webhooks/${id}/deliveries/${failed.id}/resend`)
    expect(pending).toMatchObject({ status: 202, body: { status: 'pending' } })
    const again = await api(ctx.app, merchant, 'POST', `/webhooks/${id}/deliveries/${failed.id}/resend`)
    expect(again.status).toBe(409)
    await drain()
    expect(receiver.received).toHaveLength(11)
    expect((await deliveries(id)).deliveries[0]).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect((await deliveries(id)).deliveries[0].attempt_log).toHaveLength(11)
    const missing = await api(ctx.app, merchant, 'POST', `/webhooks/${id}/deliveries/whd_missing/resend`)
    expect(missing.body).toEqual({ code: 'delivery_not_found', message: 'delivery not found' })
  })
})
