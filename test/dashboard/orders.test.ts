// The dashboard's order pages on the real database: an order's payments, refunds and disputes; the refund
// form (confirmed, idempotent, refused with the API's message and nothing written, stored as the
// dashboard's); the sandbox's dispute simulation; the list's status filters; refunds in the statistics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { card, GOOD_CARD, openPaylink, openPaymentPage, submitPayment } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { alertOf, DashboardClient } from '../helpers/dashboard.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'
import { paidOrder, sandboxAccountOf } from '../helpers/payments.js'

const PASSWORD = 'orders test password'
let ctx: TestContext
let owner: TestMerchant
let other: TestMerchant
let me: DashboardClient
let intruder: DashboardClient
/** Paylinks of the owner: one product in euros, one in Kuwaiti dinars (3 digits), one in yen (none). */
const links: Record<'EUR' | 'KWD' | 'JPY', string> = { EUR: '', KWD: '', JPY: '' }
let theirLink: string

beforeAll(async () => {
  ctx = await createTestContext()
  owner = await createMerchant(ctx.services, 'Owner')
  other = await createMerchant(ctx.services, 'Other')
  await ctx.services.users.create({ merchantId: owner.id, email: 'owner@example.com', password: PASSWORD })
  await ctx.services.users.create({ merchantId: other.id, email: 'other@example.com', password: PASSWORD })
  me = new DashboardClient(ctx.app, '198.51.100.11')
  intruder = new DashboardClient(ctx.app, '198.51.100.12')
  expect((await me.signIn('owner@example.com', PASSWORD)).statusCode).toBe(303)
  expect((await intruder.signIn('other@example.com', PASSWORD)).statusCode).toBe(303)
  for (const [currency, amount] of [
    ['EUR', 1250],
    ['KWD', 12500],
    ['JPY', 3000],
  ] as const) {
    const project = await createProject(ctx.app, owner, {
      name: `Shop ${currency}`,
      default_currency: currency,
    })
    const product = await createProduct(ctx.app, owner, project.id, {
      name: `Poster ${currency}`,
      prices: [{ currency, amount }],
    })
    links[currency] = (await createPaylink(ctx.app, owner, project.id, [product.id])).id
  }
  const theirs = await createProject(ctx.app, other, { name: 'Theirs', default_currency: 'EUR' })
  const theirProduct = await createProduct(ctx.app, other, theirs.id, {
    prices: [{ currency: 'EUR', amount: 900 }],
  })
  theirLink = (await createPaylink(ctx.app, other, theirs.id, [theirProduct.id])).id
})
afterAll(() => ctx.close())

/** The rows of a page's table (by data-testid) as the text of their cells. */
function rows(html: string, testid: string): string[][] {
  const table = new RegExp(`<table data-testid="${testid}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? ''
  const body = /<tbody[^>]*>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? ''
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] as string).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) =>
      (cell[1] as string)
        .replace(/<[^>]+>/g, '')
        .replace(/\s+/g, ' ')
        .replaceAll('&#39;', "'")
        .trim(),
    ),
  )
}

/** The figures of an order page's money panel. */
function moneyOf(html: string): Record<string, string> {
  return Object.fromEntries([...html.matchAll(/data-money="(\w+)">([^<]*)</g)].map((m) => [m[1], m[2]]))
}

/** The idempotency key of the refund form a page rendered. */
function keyOf(html: string): string {
  const key = /name="idempotency_key" value="([^"]+)"/.exec(html)?.[1]
  if (!key) throw new Error('no refund form on the page')
  return key
}

const refundsOf = (orderId: string) =>
  ctx.database.db
    .selectFrom('refunds')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()

/** Lets the sandbox settle what is due (refunds a second after they are asked) and deliver its events. */
async function settle() {
  ctx.clock.advance(1_000)
  await ctx.services.sandbox.runOnce()
}

/** Opens the order page and sends its refund form, confirmed, as the dashboard's script does. */
async function refundFromPage(orderId: string, form: Record<string, string>) {
  const page = await me.get(`/dashboard/orders/${orderId}`)
  return me.post(`/dashboard/orders/${orderId}/refunds`, {
    idempotency_key: keyOf(page.body),
    confirm: 'yes',
    ...form,
  })
}

describe('GET /dashboard/orders/:id', () => {
  it('shows every payment with its status, provider, test mode, card and failure', async () => {
    const { orderId } = await openPaylink(ctx.app, links.EUR)
    const session = await openPaymentPage(ctx.app, orderId as string)
    await submitPayment(ctx.app, orderId as string, session, card('4000 0000 0000 0002'))
    ctx.clock.advance(1000)
    expect((await submitPayment(ctx.app, orderId as string, session, GOOD_CARD)).statusCode).toBe(303)

    const page = await me.get(`/dashboard/orders/${orderId}`)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<span class="badge paid">paid</span>')
    const payments = rows(page.body, 'payments')
    expect(payments.map((r) => r.slice(1, 6))).toEqual([
      ['failed', 'sandbox test mode', 'visa ·0002', '€12.50', 'The card was declined.'],
      ['succeeded', 'sandbox test mode', 'visa ·4242', '€12.50', '—'],
    ])
    expect(moneyOf(page.body)).toEqual({ paid: '€12.50', refunded: '€0.00', left: '€12.50' })
    // Nothing refunded or disputed yet; the refund form offers everything that is left.
    expect(page.body).toContain('<h2 id="refunds-h">Refunds</h2>\n  <p class="muted">None.</p>')
    expect(page.body).toContain('<h2 id="disputes-h">Disputes</h2>\n  <p class="muted">None.</p>')
    expect(page.body).toContain(
      'id="refund-amount" name="amount" inputmode="decimal" autocomplete="off" value="12.50"',
    )
    expect(page.body).not.toContain('Simulate: dispute')
  })

  it('shows a payment the provider did not answer as unknown and being looked up, never as failed', async () => {
    const { orderId } = await openPaylink(ctx.app, links.EUR)
    const session = await openPaymentPage(ctx.app, orderId as string)
    await submitPayment(ctx.app, orderId as string, session, card('4000 0000 0000 0119'))
    const page = await me.get(`/dashboard/orders/${orderId}`)
    expect(rows(page.body, 'payments').map((r) => r[1])).toEqual(['unknown'])
    expect(page.body).toContain(
      '<li><strong>unknown</strong>: the provider could not be reached or did not answer. This is not a failure: paylinks looks the payment up until it is final.</li>',
    )
    expect(page.body).toContain('<span class="badge created">created</span>')
    // Nothing was paid: no refund form.
    expect(page.body).not.toContain('name="idempotency_key"')
    expect(moneyOf(page.body)).toEqual({ paid: '—', refunded: '€0.00', left: '€0.00' })
  })

  it('shows a payment the provider has not decided as processing', async () => {
    const { orderId } = await openPaylink(ctx.app, links.EUR)
    const session = await openPaymentPage(ctx.app, orderId as string)
    await submitPayment(ctx.app, orderId as string, session, card('4000 0000 0000 0077'))
    const page = await me.get(`/dashboard/orders/${orderId}`)
    expect(rows(page.body, 'payments').map((r) => r.slice(1, 4))).toEqual([
      ['processing', 'sandbox test mode', 'visa ·0077'],
    ])
    expect(page.body).toContain('<li><strong>processing</strong>: the provider has not decided yet')
  })
})

describe('POST /dashboard/orders/:id/refunds', () => {
  it('asks to confirm the amount first (without JavaScript), and writes nothing until confirmed', async () => {
    const { orderId } = await paidOrder(ctx, links.EUR)
    const page = await me.get(`/dashboard/orders/${orderId}`)
    const key = keyOf(page.body)
    const asked = await me.post(`/dashboard/orders/${orderId}/refunds`, {
      idempotency_key: key,
      confirm: '',
      amount: '6.25',
      reason: 'requested_by_customer',
    })
    expect(asked.statusCode).toBe(200)
    expect(asked.body).toContain('<h2 id="refund-h">Confirm the refund</h2>')
    expect(asked.body).toContain(
      'Refund <strong data-testid="confirm-amount">€6.25</strong> of the €12.50 paid by buyer@example.com (requested by the customer)?',
    )
    // The confirmation carries what was typed and the key of the form it came from.
    expect(asked.body).toContain('<input type="hidden" name="amount" value="6.25">')
    expect(asked.body).toContain('<input type="hidden" name="reason" value="requested_by_customer">')
    expect(asked.body).toContain(`<input type="hidden" name="idempotency_key" value="${key}">`)
    expect(asked.body).toContain('<input type="hidden" name="confirm" value="yes">')
    expect(await refundsOf(orderId)).toEqual([])

    const confirmed = await me.post(`/dashboard/orders/${orderId}/refunds`, {
      amount: '6.25',
      reason: 'requested_by_customer',
      idempotency_key: key,
      confirm: 'yes',
    })
    expect(confirmed.statusCode).toBe(303)
    expect(confirmed.headers.location).toBe(`/dashboard/orders/${orderId}?notice=refund_created`)
    expect(await refundsOf(orderId)).toMatchObject([
      {
        amount: 625,
        currency: 'EUR',
        reason: 'requested_by_customer',
        origin: 'dashboard',
        status: 'pending',
      },
    ])
  })

  it('refunds everything left by default, and the page shows the refund pending, then succeeded', async () => {
    const { orderId, payment } = await paidOrder(ctx, links.EUR)
    const done = await refundFromPage(orderId, { amount: '', reason: '' })
    expect(done.statusCode).toBe(303)
    const pending = await me.get(done.headers.location as string)
    expect(pending.body).toContain(
      'Refund sent to the provider. It is pending until the provider confirms it',
    )
    expect(rows(pending.body, 'refunds').map((r) => r.slice(1, 6))).toEqual([
      ['€12.50', 'pending', 'dashboard', '—', '—'],
    ])
    expect(moneyOf(pending.body)).toEqual({
      paid: '€12.50',
      refunded: '€0.00',
      pending: '€12.50',
      left: '€0.00',
    })
    expect(pending.body).not.toContain('name="idempotency_key"')

    await settle()
    const settled = await me.get(`/dashboard/orders/${orderId}`)
    expect(settled.body).toContain('<span class="badge refunded">refunded</span>')
    const [row] = rows(settled.body, 'refunds')
    expect(row?.slice(1, 6)).toEqual(['€12.50', 'succeeded', 'dashboard', '—', '—'])
    expect(row?.[7]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/)
    expect(moneyOf(settled.body)).toEqual({ paid: '€12.50', refunded: '€12.50', left: '€0.00' })
    expect(await refundsOf(orderId)).toMatchObject([
      { payment_id: payment.id, amount: 1250, origin: 'dashboard', status: 'succeeded' },
    ])
  })

  it('converts amounts in the currency’s units exactly (KWD, JPY), refunds in parts, and names what is left when asked for more', async () => {
    const { orderId } = await paidOrder(ctx, links.KWD)
    const first = await me.get(`/dashboard/orders/${orderId}`)
    expect(first.body).toContain('value="12.500"')
    expect(first.body).toContain('In KWD, with at most 3 digits after the point')
    expect((await refundFromPage(orderId, { amount: '4.25', reason: 'duplicate' })).statusCode).toBe(303)
    ctx.clock.advance(10)
    expect((await refundFromPage(orderId, { amount: '0.005' })).statusCode).toBe(303)
    await settle()
    const partial = await me.get(`/dashboard/orders/${orderId}`)
    expect(partial.body).toContain('<span class="badge partially_refunded">partially refunded</span>')
    expect(moneyOf(partial.body)).toEqual({
      paid: 'KWD\u00a012.500',
      refunded: 'KWD\u00a04.255',
      left: 'KWD\u00a08.245',
    })
    // The form now offers what is left.
    expect(partial.body).toContain('value="8.245"')
    expect(rows(partial.body, 'refunds').map((r) => r.slice(1, 5))).toEqual([
      ['KWD 4.250', 'succeeded', 'dashboard', 'Duplicate payment'],
      ['KWD 0.005', 'succeeded', 'dashboard', '—'],
    ])

    const over = await refundFromPage(orderId, { amount: '8.246' })
    expect(over.statusCode).toBe(400)
    const message = 'amount: must be at most 8245 (8.245 KWD, the amount left to refund)'
    expect(alertOf(over.body)).toBe(message)
    expect(over.body).toContain(
      '<p class="error" id="refund-amount-error">must be at most 8245 (8.245 KWD, the amount left to refund)</p>',
    )
    expect(over.body).toContain('value="8.246" aria-describedby="refund-amount-error" aria-invalid="true"')
    expect((await refundsOf(orderId)).map((r) => r.amount)).toEqual([4250, 5])

    const { orderId: yen } = await paidOrder(ctx, links.JPY)
    const page = await me.get(`/dashboard/orders/${yen}`)
    expect(page.body).toContain('value="3000"')
    expect(page.body).toContain('In JPY, with at most 0 digits after the point')
    expect((await refundFromPage(yen, { amount: '1500' })).statusCode).toBe(303)
    expect((await refundsOf(yen)).map((r) => r.amount)).toEqual([1500])
  })

  it('refuses an amount that is not one in the currency before asking the API, and writes nothing', async () => {
    const { orderId } = await paidOrder(ctx, links.KWD)
    for (const amount of ['1.2345', '-1', '1,5', 'all', '1e3']) {
      const res = await refundFromPage(orderId, { amount })
      expect(res.statusCode, amount).toBe(400)
      expect(alertOf(res.body), amount).toBe(
        'amount: must be a positive amount with at most 3 digits after the point in KWD',
      )
      // What was typed stays in the field.
      expect(res.body, amount).toContain(`value="${amount}" aria-describedby="refund-amount-error"`)
    }
    // Zero parses, and the API refuses it with its own message.
    const zero = await refundFromPage(orderId, { amount: '0.000' })
    expect(zero.statusCode).toBe(400)
    expect(alertOf(zero.body)).toMatch(/^amount: /)
    const reason = await refundFromPage(orderId, { amount: '1', reason: 'bored' })
    expect(reason.statusCode).toBe(400)
    expect(alertOf(reason.body)).toMatch(/^reason: /)
    expect(await refundsOf(orderId)).toEqual([])
  })

  it('shows the API’s message when nothing is left to refund', async () => {
    const { orderId } = await paidOrder(ctx, links.EUR)
    const page = await me.get(`/dashboard/orders/${orderId}`)
    const stale = keyOf(page.body)
    expect((await refundFromPage(orderId, {})).statusCode).toBe(303)
    // A second tab's form, rendered before the refund, asks for more.
    const res = await me.post(`/dashboard/orders/${orderId}/refunds`, {
      idempotency_key: stale,
      confirm: 'yes',
      amount: '1.00',
    })
    expect(res.statusCode).toBe(400)
    expect(alertOf(res.body)).toBe('amount: nothing is left to refund on this order')
    expect(res.body).toContain(
      '<p class="error" id="refund-amount-error">nothing is left to refund on this order</p>',
    )
    expect(await refundsOf(orderId)).toHaveLength(1)
  })

  it('refunds once when the same form is sent twice, one after the other or at once', async () => {
    const { orderId } = await paidOrder(ctx, links.EUR)
    const page = await me.get(`/dashboard/orders/${orderId}`)
    const form = { idempotency_key: keyOf(page.body), confirm: 'yes', amount: '2.00' }
    const first = await me.post(`/dashboard/orders/${orderId}/refunds`, form)
    const again = await me.post(`/dashboard/orders/${orderId}/refunds`, form)
    expect([first.statusCode, again.statusCode]).toEqual([303, 303])
    expect(again.headers.location).toBe(first.headers.location)
    expect((await refundsOf(orderId)).map((r) => r.amount)).toEqual([200])

    ctx.clock.advance(10)
    const next = await me.get(`/dashboard/orders/${orderId}`)
    const twice = { idempotency_key: keyOf(next.body), confirm: 'yes', amount: '3.00' }
    const both = await Promise.all([
      me.post(`/dashboard/orders/${orderId}/refunds`, twice),
      me.post(`/dashboard/orders/${orderId}/refunds`, twice),
    ])
    // The second click waits for the first one's answer instead of showing an error.
    expect(both.map((r) => r.statusCode)).toEqual([303, 303])
    expect((await refundsOf(orderId)).map((r) => r.amount)).toEqual([200, 300])
    // Every rendered form has a key of its own.
    expect(keyOf(next.body)).not.toBe(form.idempotency_key)
  })

  it('stores refunds made from the dashboard as the dashboard’s, and those of an API key as the API’s', async () => {
    const { orderId } = await paidOrder(ctx, links.EUR)
    expect((await refundFromPage(orderId, { amount: '1.00' })).statusCode).toBe(303)
    ctx.clock.advance(10)
    const viaApi = await api(ctx.app, owner, 'POST', `/orders/${orderId}/refunds`, { amount: 100 })
    expect(viaApi.status).toBe(201)
    expect(viaApi.body.origin).toBe('api')
    expect((await refundsOf(orderId)).map((r) => [r.amount, r.origin])).toEqual([
      [100, 'dashboard'],
      [100, 'api'],
    ])
    const page = await me.get(`/dashboard/orders/${orderId}`)
    expect(rows(page.body, 'refunds').map((r) => r[3])).toEqual(['dashboard', 'api'])
    // An in-process credential that is not the dashboard's own is refused, whatever it claims.
    const forged = await ctx.app.inject({
      method: 'POST',
      url: `/admin/api/v1/orders/${orderId}/refunds`,
      headers: { 'x-paylinks-internal': `${'00'.repeat(32)} ${owner.id}` },
    })
    expect(forged.statusCode).toBe(401)
    expect(JSON.parse(forged.body)).toEqual({
      code: 'unauthorized',
      message: 'invalid in-process credential',
    })
    expect(await refundsOf(orderId)).toHaveLength(2)
  })

  it('refuses a form sent without the CSRF token, and writes nothing', async () => {
    const { orderId } = await paidOrder(ctx, links.EUR)
    const page = await me.get(`/dashboard/orders/${orderId}`)
    const res = await me.post(`/dashboard/orders/${orderId}/refunds`, {
      _csrf: null,
      idempotency_key: keyOf(page.body),
      confirm: 'yes',
    } as never)
    expect(res.statusCode).toBe(403)
    expect(res.body).toContain('This form has expired')
    expect(await refundsOf(orderId)).toEqual([])
  })

  it('does not find another merchant’s order, and refunds nothing of it', async () => {
    const { orderId } = await paidOrder(ctx, theirLink)
    await me.get('/dashboard/orders')
    const res = await me.post(`/dashboard/orders/${orderId}/refunds`, {
      idempotency_key: 'dash_someone-elses',
      confirm: 'yes',
    })
    expect(res.statusCode).toBe(404)
    expect(res.body).toContain('There is nothing here, or it belongs to another merchant.')
    expect(await refundsOf(orderId)).toEqual([])
    expect((await intruder.get(`/dashboard/orders/${orderId}`)).statusCode).toBe(200)
  })
})

describe('the sandbox’s dispute simulation', () => {
  /** An order paid with the card that opens a dispute, with the dispute opened and reported. */
  async function disputedOrder(link = links.EUR) {
    const { orderId, payment } = await paidOrder(ctx, link, card('4000 0000 0000 0259'))
    ctx.clock.advance(2_000)
    await ctx.services.sandbox.runOnce()
    return { orderId, payment }
  }

  it('offers won and lost for an open sandbox dispute, and the order follows the sandbox’s event', async () => {
    const { orderId, payment } = await disputedOrder()
    const page = await me.get(`/dashboard/orders/${orderId}`)
    expect(page.body).toContain('<span class="badge disputed">disputed</span>')
    expect(rows(page.body, 'disputes').map((r) => r.slice(1, 4))).toEqual([['open', '€12.50', 'fraudulent']])
    expect(page.body).toContain('Simulate the dispute’s outcome')
    expect(page.body).toContain('the payment provider paylinks simulates for testing')
    const [sandboxDispute] = await ctx.services.sandbox.openDisputes(
      await sandboxAccountOf(ctx, owner.id),
      payment.id,
    )
    const action = `/dashboard/orders/${orderId}/disputes/${sandboxDispute?.id}/simulate`
    expect(page.body).toContain(`action="${action}"`)
    expect(page.body).toContain(
      '<button type="submit" name="outcome" value="won">Simulate: dispute won</button>',
    )

    const bad = await me.post(action, { outcome: 'draw' })
    expect(bad.statusCode).toBe(400)
    expect(alertOf(bad.body)).toBe('outcome: must be won or lost')

    const sent = await me.post(action, { outcome: 'won' })
    expect(sent.statusCode).toBe(303)
    expect(sent.headers.location).toBe(`/dashboard/orders/${orderId}?notice=dispute_simulated`)
    // Decided at the sandbox; paylinks knows once its event is delivered.
    const waiting = await me.get(sent.headers.location as string)
    expect(waiting.body).toContain('The sandbox has decided this dispute already; its event is on its way.')
    await ctx.services.sandbox.runOnce()
    const after = await me.get(`/dashboard/orders/${orderId}`)
    expect(after.body).toContain('<span class="badge paid">paid</span>')
    const [row] = rows(after.body, 'disputes')
    expect(row?.[1]).toBe('won')
    expect(row?.[5]).toMatch(/UTC$/)
    expect(after.body).not.toContain('Simulate the dispute’s outcome')
    // Sending it again finds no open dispute.
    expect((await me.post(action, { outcome: 'lost' })).statusCode).toBe(404)
  })

  it('keeps the order disputed when the dispute is lost', async () => {
    const { orderId, payment } = await disputedOrder()
    const [sandboxDispute] = await ctx.services.sandbox.openDisputes(
      await sandboxAccountOf(ctx, owner.id),
      payment.id,
    )
    await me.get(`/dashboard/orders/${orderId}`)
    const action = `/dashboard/orders/${orderId}/disputes/${sandboxDispute?.id}/simulate`
    expect((await me.post(action, { outcome: 'lost' })).statusCode).toBe(303)
    await ctx.services.sandbox.runOnce()
    const after = await me.get(`/dashboard/orders/${orderId}`)
    expect(after.body).toContain('<span class="badge disputed">disputed</span>')
    expect(rows(after.body, 'disputes').map((r) => r[1])).toEqual(['lost'])
  })

  it('lets no one settle a dispute through another order or another merchant’s dashboard', async () => {
    const { orderId, payment } = await disputedOrder()
    const [sandboxDispute] = await ctx.services.sandbox.openDisputes(
      await sandboxAccountOf(ctx, owner.id),
      payment.id,
    )
    const { orderId: plain } = await paidOrder(ctx, links.EUR)
    await me.get(`/dashboard/orders/${plain}`)
    // Through an order the dispute is not of, an unknown id, and another merchant's session.
    expect(
      (
        await me.post(`/dashboard/orders/${plain}/disputes/${sandboxDispute?.id}/simulate`, {
          outcome: 'won',
        })
      ).statusCode,
    ).toBe(404)
    expect(
      (
        await me.post(`/dashboard/orders/${orderId}/disputes/sbx_dp_${'0'.repeat(24)}/simulate`, {
          outcome: 'won',
        })
      ).statusCode,
    ).toBe(404)
    await intruder.get('/dashboard/orders')
    const theirs = await intruder.post(
      `/dashboard/orders/${orderId}/disputes/${sandboxDispute?.id}/simulate`,
      {
        outcome: 'won',
      },
    )
    expect(theirs.statusCode).toBe(404)
    expect(
      await ctx.services.sandbox.openDisputes(await sandboxAccountOf(ctx, owner.id), payment.id),
    ).toEqual([sandboxDispute])
  })
})

describe('refunds in the statistics', () => {
  it('shows refunds and net revenue in the KPIs, per day in the table and as chart series', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Net', default_currency: 'EUR' })
    const product = await createProduct(ctx.app, owner, project.id, {
      prices: [{ currency: 'EUR', amount: 1250 }],
    })
    const link = (await createPaylink(ctx.app, owner, project.id, [product.id], { name: 'Net link' })).id
    const { orderId } = await paidOrder(ctx, link)
    const full = (await paidOrder(ctx, link)).orderId
    expect((await refundFromPage(orderId, { amount: '6.25' })).statusCode).toBe(303)
    expect((await refundFromPage(full, {})).statusCode).toBe(303)
    await settle()

    for (const url of [`/dashboard/projects/${project.id}?days=7`, `/dashboard/paylinks/${link}?days=7`]) {
      const page = await me.get(url)
      expect(page.statusCode, url).toBe(200)
      const kpi = (name: string) => new RegExp(`data-kpi="${name}">([^<]*)<`).exec(page.body)?.[1]
      expect([kpi('paid'), kpi('revenue'), kpi('refunded'), kpi('net')], url).toEqual([
        '2',
        '€25.00',
        '€18.75',
        '€6.25',
      ])
      const days = /<tbody data-testid="days">([\s\S]*?)<\/tbody>/.exec(page.body)?.[1] ?? ''
      const today = /<tr><td>2026-03-01<\/td>(.*?)<\/tr>/.exec(days)?.[1] ?? ''
      expect(today.match(/<td class="num">([^<]*)<\/td>/g)?.slice(-3), url).toEqual([
        '<td class="num">€25.00</td>',
        '<td class="num">€18.75</td>',
        '<td class="num">€6.25</td>',
      ])
      const attribute = /data-chart="revenue" data-series="([^"]*)"/.exec(page.body)?.[1] ?? ''
      const series = JSON.parse(attribute.replaceAll('&quot;', '"'))
      expect(series.revenue, url).toEqual([{ currency: 'EUR', values: [0, 0, 0, 0, 0, 0, 25] }])
      expect(series.refunded, url).toEqual([{ currency: 'EUR', values: [0, 0, 0, 0, 0, 0, 18.75] }])
      expect(series.net, url).toEqual([{ currency: 'EUR', values: [0, 0, 0, 0, 0, 0, 6.25] }])
    }
    // A day that earned and gave everything back shows a net of zero, not nothing.
    const project2 = await createProject(ctx.app, owner, { name: 'All back', default_currency: 'EUR' })
    const product2 = await createProduct(ctx.app, owner, project2.id, {
      prices: [{ currency: 'EUR', amount: 700 }],
    })
    const link2 = (await createPaylink(ctx.app, owner, project2.id, [product2.id])).id
    const back = (await paidOrder(ctx, link2)).orderId
    expect((await refundFromPage(back, {})).statusCode).toBe(303)
    await settle()
    const page = await me.get(`/dashboard/projects/${project2.id}?days=7`)
    expect(/data-kpi="net">([^<]*)</.exec(page.body)?.[1]).toBe('€0.00')
  })
})

describe('the orders list', () => {
  it('filters by each status and shows each order’s status badge', async () => {
    const project = await createProject(ctx.app, owner, { name: 'Filters', default_currency: 'EUR' })
    const product = await createProduct(ctx.app, owner, project.id, {
      prices: [{ currency: 'EUR', amount: 500 }],
    })
    const link = (await createPaylink(ctx.app, owner, project.id, [product.id])).id
    const expired = (await openPaylink(ctx.app, link)).orderId as string
    ctx.clock.advance(25 * 3_600_000)
    await ctx.services.payments.sweep()
    // A day later the dashboard's session has lapsed too.
    expect((await me.signIn('owner@example.com', PASSWORD)).statusCode).toBe(303)
    const created = (await openPaylink(ctx.app, link)).orderId as string
    const paid = (await paidOrder(ctx, link)).orderId
    const partial = (await paidOrder(ctx, link)).orderId
    await api(ctx.app, owner, 'POST', `/orders/${partial}/refunds`, { amount: 100 })
    const refunded = (await paidOrder(ctx, link)).orderId
    await api(ctx.app, owner, 'POST', `/orders/${refunded}/refunds`, {})
    await settle()
    const { orderId: disputed } = await paidOrder(ctx, link, card('4000 0000 0000 0259'))
    ctx.clock.advance(2_000)
    await ctx.services.sandbox.runOnce()

    const expected: Record<string, string> = {
      created,
      paid,
      partially_refunded: partial,
      refunded,
      disputed,
      expired,
    }
    const all = await me.get(`/dashboard/orders?project_id=${project.id}`)
    expect(all.statusCode, all.body).toBe(200)
    for (const status of Object.keys(expected)) {
      expect(all.body).toContain(`<option value="${status}">${status.replaceAll('_', ' ')}</option>`)
    }
    expect(rows(all.body, 'orders')).toHaveLength(6)
    for (const [status, orderId] of Object.entries(expected)) {
      const page = await me.get(`/dashboard/orders?project_id=${project.id}&status=${status}`)
      expect(page.statusCode, status).toBe(200)
      expect(page.body, status).toContain(`<option value="${status}" selected>`)
      const found = rows(page.body, 'orders')
      expect(
        found.map((r) => [r[0], r[2]]),
        status,
      ).toEqual([[orderId, status.replaceAll('_', ' ')]])
      expect(page.body).toContain(`<span class="badge ${status}">`)
    }
    const unknown = await me.get(`/dashboard/orders?status=lost`)
    expect(unknown.statusCode).toBe(400)
    expect(alertOf(unknown.body)).toMatch(/^status: /)
  })
})
