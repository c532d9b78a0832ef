// Webhook delivery to real receivers on loopback: signing, retries on the schedule, 410 and Retry-After,
// several dispatchers on one database, size limits, the delivery log and resending by hand.
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebhookDispatcher } from '../../src/modules/webhooks/dispatcher.js'
import { emitEvent } from '../../src/modules/webhooks/events.js'
import { postJson } from '../../src/modules/webhooks/http.js'
import { GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
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
    const make = () => new WebhookDispatcher(ctx.database.db, ctx.clock, ctx.config, ctx.services.logger, 4)
    await Promise.all([drain(make()), drain(make()), drain(make())])
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(ids).toHaveLength(24)
    expect(new Set(ids).size).toBe(24)
  })
})

describe('the outbox', () => {
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
