// An order whose payment is open at the provider is never expired under it, by anyone; when its time is
// up the provider's session is closed first, and a success that arrives anyway is never lost: it pays the
// order if the order can still take it, else it is recorded, refunded at once and announced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PaymentHandle, StartPaymentInput } from '../../src/modules/payments/provider.js'
import { SandboxProvider } from '../../src/modules/sandbox/provider.js'
import {
  enterCard,
  GOOD_CARD,
  openPaylink,
  openPaymentPage,
  pathOf,
  returnUrlOf,
  startPayment,
} from '../helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { eventsOf } from '../helpers/payments.js'

/**
 * The sandbox, except that its answer to a cancel can be made stale: it says "canceled" while the
 * session stays open at the provider — as a provider's answer that crossed the buyer's last click would.
 */
class StaleCancels extends SandboxProvider {
  stale = false
  // Sessions outlive their order by an hour here, as a provider's own minimum lifetime would make them.
  override startPayment(account: Parameters<SandboxProvider['startPayment']>[0], input: StartPaymentInput) {
    return super.startPayment(account, {
      ...input,
      expiresAt: new Date(input.expiresAt.getTime() + 3_600_000),
    })
  }

  override async cancelPayment(
    account: Parameters<SandboxProvider['cancelPayment']>[0],
    payment: PaymentHandle,
  ) {
    if (this.stale) return { status: 'canceled' as const }
    return super.cancelPayment(account, payment)
  }
}

let provider: StaleCancels
let ctx: TestContext
let merchant: TestMerchant
let paylinkId: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext({
    providers: ({ sandbox }) => {
      provider = new StaleCancels(sandbox)
      return { sandbox: provider }
    },
  })
  merchant = await createMerchant(ctx.services)
  await listenToEverything(ctx.services, merchant.id)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 1200 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

/** An order whose buyer is on the sandbox's page, five minutes before the order's time is up. */
async function buyerAtProvider() {
  const { orderId } = await openPaylink(ctx.app, paylinkId)
  ctx.clock.advance(DAY - 5 * 60_000)
  const session = await openPaymentPage(ctx.app, orderId as string)
  const started = await startPayment(ctx.app, orderId as string, session, 'buyer@example.com')
  expect(started.statusCode).toBe(303)
  return { orderId: orderId as string, session, sandboxUrl: started.headers.location as string }
}

const stateOf = async (orderId: string) => {
  const order = await ctx.database.db
    .selectFrom('orders')
    .select(['status', 'payment_id'])
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow()
  const payments = await ctx.database.db
    .selectFrom('payments')
    .select(['id', 'status'])
    .where('order_id', '=', orderId)
    .execute()
  const refunds = await ctx.database.db
    .selectFrom('refunds')
    .select(['payment_id', 'status', 'origin', 'reason', 'amount'])
    .where('order_id', '=', orderId)
    .execute()
  return { order, payments, refunds }
}

describe('an order whose time runs out while its buyer is at the provider', () => {
  it('is not expired by its page, a resubmit or the sweep while the payment is with the provider', async () => {
    const { orderId, session, sandboxUrl } = await buyerAtProvider()
    await enterCard(ctx.app, sandboxUrl, { ...GOOD_CARD, card_number: '4000 0000 0000 0077' })
    ctx.clock.advance(6 * 60_000)
    // Processing at the provider: nobody can expire the order now.
    expect((await stateOf(orderId)).payments.map((p) => p.status)).toEqual(['pending'])
    await ctx.services.sandbox.deliverDue()
    expect((await stateOf(orderId)).payments.map((p) => p.status)).toEqual(['processing'])
    const page = await ctx.app.inject(`/pay/${orderId}`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('Your payment is being processed')
    const again = await startPayment(ctx.app, orderId, session, 'buyer@example.com')
    expect(again.statusCode).toBe(409)
    expect((await ctx.services.payments.sweep()).expired).not.toContain(orderId)
    expect((await stateOf(orderId)).order.status).toBe('created')

    await ctx.services.sandbox.runOnce()
    expect((await stateOf(orderId)).order.status).toBe('paid')
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.paid'])
  })

  it('is expired after the sweep closed the buyer’s session at the provider', async () => {
    const { orderId, sandboxUrl } = await buyerAtProvider()
    ctx.clock.advance(6 * 60_000)
    const sweep = await ctx.services.payments.sweep()
    expect(sweep.closedSessions).toBe(1)
    expect(sweep.expired).toContain(orderId)
    const state = await stateOf(orderId)
    expect(state.order.status).toBe('expired')
    expect(state.payments.map((p) => p.status)).toEqual(['canceled'])
    // The provider's page of the closed session sends the buyer back, where the order says it expired.
    const page = await ctx.app.inject(pathOf(sandboxUrl))
    expect(page.statusCode).toBe(303)
    expect((await ctx.app.inject(pathOf(page.headers.location as string))).body).toContain(
      'This order has expired',
    )
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.expired'])
  })

  it('is paid when the buyer completed at the provider before the sweep closed the session', async () => {
    const { orderId, sandboxUrl } = await buyerAtProvider()
    await enterCard(ctx.app, sandboxUrl, GOOD_CARD)
    ctx.clock.advance(6 * 60_000)
    // The completion's event has not arrived; the sweep's cancel finds the session complete.
    const sweep = await ctx.services.payments.sweep()
    expect(sweep.expired).not.toContain(orderId)
    const state = await stateOf(orderId)
    expect(state.order.status).toBe('paid')
    expect(state.payments.map((p) => p.status)).toEqual(['succeeded'])
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.paid'])
  })

  it('records a success that arrives after the order expired, refunds it at once and announces it', async () => {
    const { orderId, sandboxUrl } = await buyerAtProvider()
    ctx.clock.advance(6 * 60_000)
    provider.stale = true
    try {
      await ctx.services.payments.sweep()
    } finally {
      provider.stale = false
    }
    expect((await stateOf(orderId)).order.status).toBe('expired')
    ctx.clock.advance(1000)
    // The session was still open at the provider after all: the buyer pays.
    const entered = await enterCard(ctx.app, sandboxUrl, GOOD_CARD)
    expect(returnUrlOf(entered)).toMatch(`${PUBLIC_URL}/pay/${orderId}/return`)
    await ctx.services.sandbox.deliverDue()
    let state = await stateOf(orderId)
    const [payment] = state.payments
    expect(state.order).toEqual({ status: 'expired', payment_id: null })
    expect(payment?.status).toBe('succeeded')
    expect(state.refunds).toEqual([
      {
        payment_id: payment?.id,
        status: 'pending',
        origin: 'automatic',
        reason: 'order_expired',
        amount: 1200,
      },
    ])
    const back = await ctx.app.inject(pathOf(returnUrlOf(entered) as string))
    expect(back.body).toContain('Your payment is being refunded')

    // The sweep sends the refund; the provider settles it by event.
    ctx.clock.advance(11_000)
    await ctx.services.payments.sweep()
    ctx.clock.advance(1_000)
    await ctx.services.sandbox.runOnce()
    state = await stateOf(orderId)
    expect(state.refunds.map((r) => r.status)).toEqual(['succeeded'])
    expect(state.order.status).toBe('expired')
    const events = await eventsOf(ctx, orderId)
    expect(events.slice(0, 3)).toEqual(['order.created', 'order.expired', 'order.late_payment'])
    expect(events).toContain('refund.succeeded')
    expect(events).not.toContain('order.paid')
    expect(events).not.toContain('order.refunded')
    const view = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(view.body).toMatchObject({
      status: 'expired',
      refunds: [{ origin: 'automatic', status: 'succeeded' }],
    })
  })
})
