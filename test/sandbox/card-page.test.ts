// The sandbox provider's own card page: labelled as the simulated provider, the card checked there (and
// only there), test cards only, its own CSRF protection, and no card number kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  cookiesOf,
  csrfTokenOf,
  GOOD_CARD,
  openPaylink,
  openPaymentPage,
  pathOf,
  startPayment,
} from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { createMerchant, createPaylink, createProduct, createProject } from '../helpers/factories.js'

let ctx: TestContext
let paylinkId: string

beforeAll(async () => {
  ctx = await createTestContext()
  const merchant = await createMerchant(ctx.services, 'Lamp Shop')
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 4999 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

async function sandboxPage() {
  const { orderId } = await openPaylink(ctx.app, paylinkId)
  const session = await openPaymentPage(ctx.app, orderId as string)
  const started = await startPayment(ctx.app, orderId as string, session, 'buyer@example.com')
  const url = pathOf(started.headers.location as string)
  const page = await ctx.app.inject(url)
  return { orderId: orderId as string, url, page }
}

const post = (url: string, page: { cookie: string; token: string }, fields: Record<string, string>) =>
  ctx.app.inject({
    method: 'POST',
    url,
    headers: { cookie: page.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: page.token, ...fields }).toString(),
  })

describe('the sandbox’s card page', () => {
  it('says it is the simulated provider, shows the merchant and amount, and lists the test cards', async () => {
    const { page } = await sandboxPage()
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<strong>Sandbox</strong> — a simulated payment provider')
    expect(page.body).toContain('Pay Lamp Shop')
    expect(page.body).toContain('Pay $49.99')
    for (const number of ['4242 4242 4242 4242', '4000 0027 6000 3184', '4000 0000 0000 0119'])
      expect(page.body).toContain(number)
    expect(page.headers['content-security-policy']).toContain("form-action 'self'")
  })

  it.each([
    [{ card_number: '4242 4242 4242 4241' }, 'This card number is not valid.', 400],
    [{ card_number: '' }, 'Enter your card number.', 400],
    [{ card_exp: '13/30' }, 'The expiry month must be from 01 to 12.', 400],
    [{ card_exp: '01/20' }, 'This card has expired.', 400],
    [{ card_exp: '1230' }, 'Write the expiry date as MM/YY.', 400],
    [{ card_cvc: '12' }, 'The security code is 3 or 4 digits.', 400],
    [{ card_number: '5555 5555 5555 4444' }, 'This is the sandbox: use one of its test cards', 402],
  ])('re-shows the card form for %j and keeps nothing', async (fields, text, status) => {
    const { orderId, url, page } = await sandboxPage()
    const { email: _email, ...card } = GOOD_CARD
    const res = await post(url, { cookie: cookiesOf(page), token: csrfTokenOf(page.body) }, {
      ...card,
      ...fields,
    } as Record<string, string>)
    expect(res.statusCode).toBe(status)
    expect(res.body).toContain(text)
    // The number typed is never written back into the page.
    expect(res.body).not.toMatch(/id="card_number"[^>]*value=/)
    const session = await ctx.database.db
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('id', '=', url.split('/').pop() as string)
      .executeTakeFirstOrThrow()
    expect(session).toMatchObject({ status: 'open', card_last4: null })
    const payments = await ctx.database.db
      .selectFrom('payments')
      .select('status')
      .where('order_id', '=', orderId)
      .execute()
    expect(payments).toEqual([{ status: 'pending' }])
  })

  it('refuses a card form that did not come from its page (CSRF)', async () => {
    const { url, page } = await sandboxPage()
    const { email: _email, ...card } = GOOD_CARD
    const forged = await post(
      url,
      { cookie: cookiesOf(page), token: 'forged' },
      card as Record<string, string>,
    )
    expect(forged.statusCode).toBe(403)
    expect(forged.body).toContain('This form has expired')
  })

  it('answers 404 for an unknown session', async () => {
    for (const id of [`sbx_cs_${'0'.repeat(24)}`, 'nope']) {
      const res = await ctx.app.inject(`/sandbox/checkout/${id}`)
      expect(res.statusCode).toBe(404)
      expect(res.body).toContain('This sandbox payment page does not exist.')
    }
  })
})
