// A merchant's first payment makes its sandbox account, which needs the sandbox's signing key. Nothing
// of that may take a second connection while the payment's transaction holds one: with every connection
// of the pool in such transactions, each would wait for another forever. A pool of one shows it.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { createMerchant, createPaylink, createProduct, createProject } from '../helpers/factories.js'
import { paidOrder } from '../helpers/payments.js'

let ctx: TestContext
beforeAll(async () => {
  ctx = await createTestContext({ poolSize: 1 })
})
afterAll(() => ctx.close())

it('pays the first order of a new merchant on a pool of one connection', async () => {
  const merchant = await createMerchant(ctx.services)
  const project = await createProject(ctx.app, merchant)
  const product = await createProduct(ctx.app, merchant, project.id)
  const link = await createPaylink(ctx.app, merchant, project.id, [product.id])
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the first payment did not finish within 15 s')), 15_000)
  })
  try {
    const { payment } = await Promise.race([paidOrder(ctx, link.id), deadline])
    expect(payment.status).toBe('succeeded')
  } finally {
    clearTimeout(timer)
  }
}, 30_000)
