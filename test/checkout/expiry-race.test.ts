// An order whose payment is with the provider is never expired under it, and a success is never lost:
// the provider here holds every charge until the test releases it, while the manual clock runs past the
// order's expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChargeRequest, ChargeResult } from '../../src/modules/checkout/provider.js'
import { SandboxProvider } from '../../src/modules/checkout/sandbox.js'
import { GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js'
import { createMerchant, createPaylink, createProduct, createProject } from '../helpers/factories.js'

/** The sandbox, except that each charge waits at a gate until the test opens it. */
class GatedProvider extends SandboxProvider {
  private waiting: { entered: () => void; release: Promise<void> } | undefined
  private open = () => {}

  /** Resolves when the next charge has reached the provider; `release()` then lets it answer. */
  hold(): { entered: Promise<void>; release: () => void } {
    let entered = () => {}
    const reached = new Promise<void>((resolve) => {
      entered = resolve
    })
    const release = new Promise<void>((resolve) => {
      this.open = resolve
    })
    this.waiting = { entered, release }
    return { entered: reached, release: () => this.open() }
  }

  override async charge(request: ChargeRequest): Promise<ChargeResult> {
    const gate = this.waiting
    this.waiting = undefined
    if (gate) {
      gate.entered()
      await gate.release
    }
    return super.charge(request)
  }
}

const provider = new GatedProvider()
let ctx: TestContext
let paylinkId: string
const DAY = 86_400_000

beforeAll(async () => {
  ctx = await createTestContext({ provider })
  const merchant = await createMerchant(ctx.services)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 1200 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

async function newOrder() {
  const { orderId } = await openPaylink(ctx.app, paylinkId)
  if (!orderId) throw new Error('no order')
  return orderId
}

const stateOf = async (orderId: string) => {
  const order = await ctx.database.db
    .selectFrom('orders')
    .select(['status', 'paid_at'])
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow()
  const payments = await ctx.database.db
    .selectFrom('payments')
    .select(['status', 'failure_code'])
    .where('order_id', '=', orderId)
    .execute()
  return { order, payments }
}

/** The types of the events announced about one order, in the order they were written. */
async function eventsOf(orderId: string): Promise<string[]> {
  const rows = await ctx.database.db
    .selectFrom('events')
    .select(['type', 'payload'])
    .orderBy('created_at')
    .execute()
  return rows.filter((r) => (r.payload as { data?: { id?: string } }).data?.id === orderId).map((r) => r.type)
}

describe('an order whose payment is in flight when its time runs out', () => {
  it('is not expired by the payment page, a resubmit or the sweep, and the success pays it', async () => {
    const orderId = await newOrder()
    // The buyer pays five minutes before the order's time is up; the provider answers six minutes later.
    ctx.clock.advance(DAY - 5 * 60_000)
    const session = await openPaymentPage(ctx.app, orderId)
    const gate = provider.hold()
    const submitted = submitPayment(ctx.app, orderId, session, GOOD_CARD)
    await gate.entered
    ctx.clock.advance(6 * 60_000)

    const page = await ctx.app.inject(`/pay/${orderId}`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('Your payment is being processed')
    expect(page.body).not.toContain('name="card_number"')
    const again = await submitPayment(ctx.app, orderId, session, GOOD_CARD)
    expect(again.statusCode).toBe(409)
    expect(again.body).toContain('Your payment is being processed')
    expect((await ctx.services.orders.sweep()).expired).not.toContain(orderId)
    expect((await stateOf(orderId)).order.status).toBe('created')

    gate.release()
    const paid = await submitted
    expect(paid.statusCode).toBe(303)
    expect(paid.headers.location).toBe(`${PUBLIC_URL}/pay/${orderId}`)
    const { order, payments } = await stateOf(orderId)
    expect(order.status).toBe('paid')
    expect(payments).toEqual([{ status: 'succeeded', failure_code: null }])
    expect(await eventsOf(orderId)).toEqual(['order.created', 'order.paid'])
    const receipt = await ctx.app.inject(`/pay/${orderId}`)
    expect(receipt.body).toContain('Receipt')
    expect(receipt.body).not.toContain('no payment was taken')
  })

  it('becomes paid when the provider succeeds after the attempt was given up as lost and the order expired', async () => {
    const orderId = await newOrder()
    const session = await openPaymentPage(ctx.app, orderId)
    const gate = provider.hold()
    const submitted = submitPayment(ctx.app, orderId, session, GOOD_CARD)
    await gate.entered
    ctx.clock.advance(DAY + 11 * 60_000)
    const sweep = await ctx.services.orders.sweep()
    expect(sweep.stalePayments).toBe(1)
    expect(sweep.expired).toContain(orderId)

    gate.release()
    expect((await submitted).statusCode).toBe(303)
    const { order, payments } = await stateOf(orderId)
    expect(order.status).toBe('paid')
    expect(order.paid_at).not.toBeNull()
    expect(payments).toEqual([{ status: 'succeeded', failure_code: null }])
    expect(await eventsOf(orderId)).toEqual(['order.created', 'order.expired', 'order.paid'])
    const receipt = await ctx.app.inject(`/pay/${orderId}`)
    expect(receipt.body).toContain('Receipt')
  })
})
