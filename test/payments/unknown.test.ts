// A provider that cannot be reached leaves what it was asked about `unknown` — never failed, never asked
// twice under a new key — and the reconciler finishes it: a start replayed with the same reference, a
// refund sent again with the same id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ProviderError,
  type RefundInput,
  type StartPaymentInput,
} from '../../src/modules/payments/provider.js'
import { SandboxProvider } from '../../src/modules/sandbox/provider.js'
import { enterCard, GOOD_CARD, openPaylink, openPaymentPage, startPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'
import { paidOrder } from '../helpers/payments.js'

/** The sandbox, except that its next calls of a kind time out — after doing the work, or before. */
class Flaky extends SandboxProvider {
  failStarts = 0
  failRefunds = 0
  startsSeen: string[] = []
  refundsSeen: string[] = []
  override async startPayment(
    account: Parameters<SandboxProvider['startPayment']>[0],
    input: StartPaymentInput,
  ) {
    this.startsSeen.push(input.reference)
    if (this.failStarts > 0) {
      this.failStarts--
      // The session is made at the provider, but its answer is lost on the way back.
      await super.startPayment(account, input)
      throw new ProviderError('unavailable', 'timed out')
    }
    return super.startPayment(account, input)
  }
  override async refund(account: Parameters<SandboxProvider['refund']>[0], input: RefundInput) {
    this.refundsSeen.push(input.reference)
    if (this.failRefunds > 0) {
      this.failRefunds--
      throw new ProviderError('unavailable', 'connection reset')
    }
    return super.refund(account, input)
  }
}

let provider: Flaky
let ctx: TestContext
let merchant: TestMerchant
let paylinkId: string

beforeAll(async () => {
  ctx = await createTestContext({
    providers: ({ sandbox }) => {
      provider = new Flaky(sandbox)
      return { sandbox: provider }
    },
  })
  merchant = await createMerchant(ctx.services)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 900 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

const paymentsOf = (orderId: string) =>
  ctx.database.db.selectFrom('payments').selectAll().where('order_id', '=', orderId).execute()

describe('a start the provider did not answer', () => {
  it('is unknown, tells the buyer no money was taken, and is replayed with the same reference', async () => {
    const { orderId } = await openPaylink(ctx.app, paylinkId)
    const session = await openPaymentPage(ctx.app, orderId as string)
    provider.failStarts = 1
    const first = await startPayment(ctx.app, orderId as string, session, 'buyer@example.com')
    expect(first.statusCode).toBe(503)
    expect(first.body).toContain('The payment provider could not be reached.')
    const [payment] = await paymentsOf(orderId as string)
    expect(payment).toMatchObject({ status: 'unknown', provider_ref: null, failure_code: null })
    // Not failed: nothing else may start meanwhile, and the reconciler asks again with the same reference.
    ctx.clock.advance(5_000)
    expect((await ctx.services.payments.sweep()).reconciled).toBe(1)
    const [after] = await paymentsOf(orderId as string)
    expect(after).toMatchObject({
      id: payment?.id,
      status: 'pending',
      provider_ref: expect.stringMatching(/^sbx_cs_/),
    })
    expect(provider.startsSeen.filter((r) => r === payment?.id)).toHaveLength(2)
    // One session at the provider: the replay got the session the lost answer had made.
    const sessions = await ctx.database.db
      .selectFrom('sandbox_sessions')
      .select('id')
      .where('reference', '=', payment?.id as string)
      .execute()
    expect(sessions).toEqual([{ id: after?.provider_ref }])
    // The buyer's next submit goes to that session.
    const again = await startPayment(ctx.app, orderId as string, session, 'buyer@example.com')
    expect(again.headers.location).toMatch(new RegExp(`/sandbox/checkout/${after?.provider_ref}$`))
    await enterCard(ctx.app, again.headers.location as string, GOOD_CARD)
    await ctx.services.sandbox.deliverDue()
    expect((await paymentsOf(orderId as string)).map((p) => p.status)).toEqual(['succeeded'])
  })
})

describe('a refund the provider did not answer', () => {
  it('is unknown, and is sent again with the same id until the provider settles it', async () => {
    const { orderId } = await paidOrder(ctx, paylinkId)
    provider.failRefunds = 2
    const asked = await api(ctx.app, merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 400 })
    expect(asked.status).toBe(201)
    expect(asked.body.status).toBe('unknown')
    ctx.clock.advance(11_000)
    await ctx.services.payments.sweep()
    ctx.clock.advance(11_000)
    await ctx.services.payments.sweep()
    expect(provider.refundsSeen.filter((r) => r === asked.body.id)).toHaveLength(3)
    ctx.clock.advance(1_000)
    await ctx.services.sandbox.runOnce()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'partially_refunded',
      amount_refunded: 400,
      refunds: [{ id: asked.body.id, status: 'succeeded' }],
    })
    const atProvider = await ctx.database.db.selectFrom('sandbox_refunds').select('reference').execute()
    expect(atProvider.filter((r) => r.reference === asked.body.id)).toHaveLength(1)
  })
})
