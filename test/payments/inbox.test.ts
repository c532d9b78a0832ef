// The provider events inbox: signatures checked over the raw body, each event stored once and applied
// once, whatever the order, duplicates and replays harmless, and no account reaching another's payments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enterCard, GOOD_CARD, openPaylink, openPaymentPage, startPayment } from '../helpers/buyer.js'
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
import { eventsOf, postSandboxEvent, sandboxAccountOf, sessionObject } from '../helpers/payments.js'

let ctx: TestContext
let merchant: TestMerchant
let paylinkId: string
let account: string

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  await listenToEverything(ctx.services, merchant.id)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 2500 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
  account = await sandboxAccountOf(ctx, merchant.id)
})
afterAll(() => ctx.close())

/** An order whose buyer has paid on the sandbox's page, with the sandbox's events not delivered yet. */
async function paidAtProvider() {
  const { orderId } = await openPaylink(ctx.app, paylinkId)
  ctx.clock.advance(1000)
  const session = await openPaymentPage(ctx.app, orderId as string)
  const started = await startPayment(ctx.app, orderId as string, session, 'buyer@example.com')
  await enterCard(ctx.app, started.headers.location as string, GOOD_CARD)
  const payment = await ctx.database.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId as string)
    .executeTakeFirstOrThrow()
  const queued = await ctx.database.db
    .selectFrom('sandbox_events')
    .selectAll()
    .where('delivered_at', 'is', null)
    .execute()
  // The test delivers these itself; the sandbox must not.
  await ctx.database.db.deleteFrom('sandbox_events').where('delivered_at', 'is', null).execute()
  return { orderId: orderId as string, payment, queued }
}

const storedEvents = () => ctx.database.db.selectFrom('provider_events').selectAll().execute()
const statusOf = async (orderId: string) =>
  (await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)).body.status as string

describe('POST /providers/:account/events', () => {
  it('refuses a bad signature with 400 and stores nothing', async () => {
    const { orderId, payment } = await paidAtProvider()
    const before = (await storedEvents()).length
    const object = await sessionObject(ctx, payment.provider_ref as string)
    for (const options of [
      { secret: `whsec_${Buffer.from('not the secret').toString('base64')}` },
      { tamper: (body: string) => body.replace('"complete"', '"complete" ') },
    ]) {
      const { res } = await postSandboxEvent(
        ctx,
        account,
        { type: 'checkout.session.completed', data: { object } },
        options,
      )
      expect(res.statusCode).toBe(400)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'invalid_signature' })
    }
    const unsigned = await ctx.app.inject({
      method: 'POST',
      url: `/providers/${account}/events`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ id: 'sbx_evt_x', type: 'checkout.session.completed', data: { object } }),
    })
    expect(unsigned.statusCode).toBe(400)
    expect((await storedEvents()).length).toBe(before)
    expect(await statusOf(orderId)).toBe('created')
  })

  it('answers 404 for an account that does not exist', async () => {
    const { res } = await postSandboxEvent(ctx, `pa_${'0'.repeat(24)}`, { type: 'x', data: { object: {} } })
    expect(res.statusCode).toBe(404)
    const malformed = await ctx.app.inject({ method: 'POST', url: '/providers/nope/events', payload: '{}' })
    expect(malformed.statusCode).toBe(404)
  })

  it('stores an event once and applies it once: a duplicate and a replay change nothing', async () => {
    const { orderId, payment } = await paidAtProvider()
    const object = await sessionObject(ctx, payment.provider_ref as string)
    const first = await postSandboxEvent(ctx, account, {
      id: 'sbx_evt_0000000000000000000000a1',
      type: 'checkout.session.completed',
      data: { object },
    })
    expect(first.res.statusCode).toBe(200)
    expect(first.body).toEqual({ received: true, outcome: 'applied' })
    const duplicate = await postSandboxEvent(ctx, account, {
      id: 'sbx_evt_0000000000000000000000a1',
      type: 'checkout.session.completed',
      data: { object },
    })
    expect(duplicate.body).toEqual({ received: true, outcome: 'duplicate' })
    // The same news under another event id is an outdated report: recorded, nothing changes.
    const replay = await postSandboxEvent(ctx, account, {
      type: 'checkout.session.completed',
      data: { object },
    })
    expect(replay.body).toEqual({ received: true, outcome: 'ignored' })
    expect(await statusOf(orderId)).toBe('paid')
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.paid'])
    const rows = (await storedEvents()).filter((e) => e.event_id === 'sbx_evt_0000000000000000000000a1')
    expect(rows.map((r) => r.status)).toEqual(['applied'])
  })

  it('keeps a success when a failure of the same payment arrives after it', async () => {
    const { orderId, payment } = await paidAtProvider()
    const object = await sessionObject(ctx, payment.provider_ref as string)
    await postSandboxEvent(ctx, account, { type: 'checkout.session.completed', data: { object } })
    const failed = await postSandboxEvent(ctx, account, {
      type: 'checkout.session.failed',
      data: { object: { ...object, status: 'failed', failure: { code: 'card_declined', message: 'late' } } },
    })
    expect(failed.body.outcome).toBe('ignored')
    expect(await statusOf(orderId)).toBe('paid')
    const row = await ctx.database.db
      .selectFrom('payments')
      .selectAll()
      .where('id', '=', payment.id)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({ status: 'succeeded', failure_code: null })
  })

  it('counts a refund reported before its payment’s success once the success arrives', async () => {
    const { orderId, payment } = await paidAtProvider()
    const object = await sessionObject(ctx, payment.provider_ref as string)
    const refunded = await postSandboxEvent(ctx, account, {
      type: 'refund.succeeded',
      data: {
        object: {
          id: 'sbx_re_000000000000000000000001',
          object: 'sandbox.refund',
          session: object.id,
          payment: object.payment,
          session_reference: payment.id,
          reference: null,
          amount: 1000,
          currency: 'USD',
          status: 'succeeded',
          failure_reason: null,
        },
      },
    })
    expect(refunded.body.outcome).toBe('applied')
    // Not paid yet, so nothing is refunded on the order yet, but the refund is kept.
    expect(await statusOf(orderId)).toBe('created')
    await postSandboxEvent(ctx, account, { type: 'checkout.session.completed', data: { object } })
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'partially_refunded',
      amount_refunded: 1000,
      refunds: [{ origin: 'provider', status: 'succeeded', amount: 1000 }],
    })
    const stat = await api(ctx.app, merchant, 'GET', `/paylinks/${paylinkId}/stat`)
    expect(stat.body.refunded).toContainEqual({ currency: 'USD', amount: 1000 })
  })

  it('defers an event naming a payment paylinks does not know yet, and applies it when it is known', async () => {
    const { orderId, payment } = await paidAtProvider()
    const object = await sessionObject(ctx, payment.provider_ref as string)
    const dispute = {
      id: 'sbx_dp_000000000000000000000001',
      object: 'sandbox.dispute',
      session: object.id,
      payment: object.payment,
      // As a provider that knows only its own ids would say it.
      session_reference: null,
      amount: 2500,
      currency: 'USD',
      reason: 'fraudulent',
      status: 'open',
    }
    const early = await postSandboxEvent(ctx, account, { type: 'dispute.created', data: { object: dispute } })
    expect(early.body.outcome).toBe('deferred')
    await postSandboxEvent(ctx, account, { type: 'checkout.session.completed', data: { object } })
    expect(await statusOf(orderId)).toBe('paid')
    expect(await ctx.services.payments.sweep()).toMatchObject({ deferredApplied: 1 })
    expect(await statusOf(orderId)).toBe('disputed')
    const row = (await storedEvents()).find((e) => e.event_id === early.id)
    expect(row?.status).toBe('applied')
  })

  it('records an event type it does not act on, and ignores it', async () => {
    const { res, id } = await postSandboxEvent(ctx, account, {
      type: 'balance.available',
      data: { object: { object: 'balance' } },
    })
    expect(JSON.parse(res.body)).toEqual({ received: true, outcome: 'ignored' })
    const row = (await storedEvents()).find((e) => e.event_id === id)
    expect(row).toMatchObject({
      type: 'balance.available',
      status: 'ignored',
      note: 'an event type paylinks does not act on',
    })
  })

  it('never lets one account’s event touch another account’s payment', async () => {
    const { orderId, payment } = await paidAtProvider()
    const object = await sessionObject(ctx, payment.provider_ref as string)
    const intruder = await createMerchant(ctx.services)
    const theirs = await sandboxAccountOf(ctx, intruder.id)
    // Signed correctly for the intruder's own account, naming the victim's payment.
    const res = await postSandboxEvent(ctx, theirs, { type: 'checkout.session.completed', data: { object } })
    expect(res.body.outcome).toBe('deferred')
    // And the victim's account refuses an event meant for another account, signature or not.
    const misrouted = await postSandboxEvent(ctx, account, {
      type: 'checkout.session.completed',
      data: { object },
      account: theirs,
    })
    expect(misrouted.res.statusCode).toBe(400)
    expect(await statusOf(orderId)).toBe('created')
  })
})

describe('paid orders through events of any order', () => {
  it('ends the same whichever order a session’s events arrive in', async () => {
    const { orderId, queued } = await paidAtProvider()
    expect(queued.length).toBeGreaterThan(0)
    for (const event of [...queued].reverse()) {
      const payload = event.payload as { id: string; type: string; data: { object: unknown } }
      await postSandboxEvent(ctx, account, { id: payload.id, type: payload.type, data: payload.data })
      await postSandboxEvent(ctx, account, { id: payload.id, type: payload.type, data: payload.data })
    }
    expect(await statusOf(orderId)).toBe('paid')
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.paid'])
  })
})
