// Disputes: the sandbox's card 0259 opens one shortly after paying; the order shows it, is disputed
// while it is open, and is paid again when it is won (disputed for good when lost), with webhooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { card } from '../helpers/buyer.js'
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
import { eventsOf, paidOrder, sandboxAccountOf } from '../helpers/payments.js'

let ctx: TestContext
let merchant: TestMerchant
let paylinkId: string

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  await listenToEverything(ctx.services, merchant.id)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'EUR', amount: 4200 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
  await api(ctx.app, merchant, 'PATCH', `/projects/${projectId}`, { default_currency: 'EUR' })
})
afterAll(() => ctx.close())

async function disputedOrder() {
  const { orderId, payment } = await paidOrder(ctx, paylinkId, card('4000 0000 0000 0259'))
  ctx.clock.advance(2_000)
  await ctx.services.sandbox.runOnce()
  const account = await sandboxAccountOf(ctx, merchant.id)
  const [dispute] = await ctx.services.sandbox.openDisputes(account, payment.id)
  return { orderId, dispute: dispute as { id: string } }
}

describe('disputes', () => {
  it('opens a dispute shortly after a payment with 4000 0000 0000 0259, and the order is disputed', async () => {
    const { orderId } = await disputedOrder()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'disputed',
      disputes: [
        {
          object: 'dispute',
          status: 'open',
          amount: 4200,
          currency: 'EUR',
          reason: 'fraudulent',
          closed_at: null,
        },
      ],
    })
    expect(await eventsOf(ctx, orderId)).toEqual(['order.created', 'order.paid', 'dispute.opened'])
    const filtered = await api(ctx.app, merchant, 'GET', '/orders?status=disputed')
    expect(filtered.body.orders.map((o: { id: string }) => o.id)).toContain(orderId)
  })

  it('is paid again when the dispute is won', async () => {
    const { orderId, dispute } = await disputedOrder()
    ctx.clock.advance(1000)
    await ctx.services.sandbox.closeDispute(dispute.id, 'won')
    await ctx.services.sandbox.runOnce()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      disputes: [{ status: 'won', closed_at: expect.any(String) }],
    })
    expect(await eventsOf(ctx, orderId)).toEqual([
      'order.created',
      'order.paid',
      'dispute.opened',
      'dispute.closed',
    ])
  })

  it('stays disputed when the dispute is lost', async () => {
    const { orderId, dispute } = await disputedOrder()
    await ctx.services.sandbox.closeDispute(dispute.id, 'lost')
    await ctx.services.sandbox.runOnce()
    const order = await api(ctx.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({ status: 'disputed', disputes: [{ status: 'lost' }] })
  })
})
