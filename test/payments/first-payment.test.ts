// A merchant's first payment, in a process that has not yet read the sandbox's signing key. On the
// embedded database (PGlite: one session) this deadlocks today: startPayment's transaction makes the
// sandbox account, whose webhook secret reads the installation secret through the sandbox's own `db`,
// which waits for the session the transaction holds. Every later request of the process waits too.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { createMerchant, createPaylink, createProduct, createProject } from '../helpers/factories.js'
import { paidOrder } from '../helpers/payments.js'

let ctx: TestContext
beforeAll(async () => {
  ctx = await createTestContext()
})
afterAll(() => ctx.close())

it('pays the first order of a new merchant without waiting forever on the database', async () => {
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
