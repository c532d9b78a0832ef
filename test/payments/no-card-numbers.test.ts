// No card number ever reaches paylinks: after paying, declining, authenticating, refunding and saving a
// card with every test card, a dump of every table, every log line and every answer of the API and of
// the pages holds no card number and no security code.
import { Writable } from 'node:stream'
import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { TEST_CARDS } from '../../src/modules/sandbox/cards.js'
import { createServices } from '../../src/services.js'
import {
  answerChallenge,
  card,
  enterCard,
  openPaylink,
  openPaymentPage,
  pathOf,
  returnUrlOf,
  saveSetupCard,
  startPayment,
} from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'

const CVC = '987'
let ctx: TestContext
let merchant: TestMerchant
let paylinkId: string
const lines: string[] = []
const answers: string[] = []

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services)
  const projectId = (await createProject(ctx.app, merchant)).id
  const product = await createProduct(ctx.app, merchant, projectId, {
    prices: [{ currency: 'USD', amount: 1200 }],
  })
  paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
})
afterAll(() => ctx.close())

describe('card numbers', () => {
  it('reach no table, no log line and no answer, whatever the test card does', async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    // The services log to the same sink as the requests: the sandbox, the payments module, everything.
    const logger = pino({ level: 'trace' }, sink)
    const services = createServices(ctx.config, ctx.database, ctx.clock, { logger })
    const app = await buildApp(services, { logger })
    const keep = <T extends { body: string }>(res: T) => {
      answers.push(res.body)
      return res
    }
    try {
      for (const number of Object.keys(TEST_CARDS)) {
        const { orderId } = await openPaylink(app, paylinkId)
        const session = await openPaymentPage(app, orderId as string)
        keep(session.page)
        const started = keep(await startPayment(app, orderId as string, session, 'buyer@example.com'))
        const url = started.headers.location as string
        let entered = keep(await enterCard(app, url, { ...card(number), card_cvc: CVC }))
        if (entered.body.includes('3-D Secure')) entered = keep(await answerChallenge(app, url, 'approve'))
        const back = returnUrlOf(entered)
        if (back) keep(await app.inject({ url: pathOf(back), headers: { cookie: session.cookie } }))
        ctx.clock.advance(5_000)
        await services.sandbox.runOnce()
        const order = await api(app, merchant, 'GET', `/orders/${orderId}`)
        answers.push(JSON.stringify(order.body))
        if (order.body.status === 'paid') {
          answers.push(
            JSON.stringify(
              (await api(app, merchant, 'POST', `/orders/${orderId}/refunds`, { amount: 100 })).body,
            ),
          )
          ctx.clock.advance(2_000)
          await services.sandbox.runOnce()
        }
        answers.push(JSON.stringify((await api(app, merchant, 'GET', `/orders/${orderId}`)).body))
      }
      // And a card saved by a portal on a checkout-setup page.
      const portal = await api(app, merchant, 'POST', '/portals', {
        project_id: (await api(app, merchant, 'GET', '/projects')).body.projects[0].id,
        name: 'Tenant',
      })
      const key = (await api(app, merchant, 'POST', `/portals/${portal.body.id}/keys`)).body.key
      const setup = await app.inject({
        url: '/api/2.0/portal/payment/chechoutsetupurl?BackUrl=https%3A%2F%2Fportal.example%2Fbilling',
        headers: { authorization: `Bearer ${key}` },
      })
      keep(
        await saveSetupCard(app, new URL(JSON.parse(setup.body).response).pathname, {
          ...card('4242 4242 4242 4242'),
          card_cvc: CVC,
        }),
      )
      answers.push(
        JSON.stringify((await api(app, merchant, 'GET', `/portals/${portal.body.id}/payment-method`)).body),
      )
      answers.push(JSON.stringify((await api(app, merchant, 'GET', '/orders?limit=100')).body))
    } finally {
      await app.close()
    }

    // The flows did happen: paid, declined, authenticated, refunded, saved.
    const payments = await ctx.database.db.selectFrom('payments').select(['status', 'card_last4']).execute()
    expect(payments.filter((p) => p.status === 'succeeded').length).toBeGreaterThanOrEqual(5)
    expect(payments.filter((p) => p.status === 'failed').length).toBeGreaterThanOrEqual(2)
    expect(await ctx.database.db.selectFrom('refunds').select('id').execute()).not.toHaveLength(0)
    expect(await ctx.database.db.selectFrom('payment_methods').select('id').execute()).toHaveLength(1)

    // Every table of the database, each row as JSON.
    const { rows: tables } = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(ctx.database.db)
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['payments', 'sandbox_sessions', 'provider_events', 'events']),
    )
    let dump = ''
    for (const { name } of tables) {
      const { rows } = await sql<{
        row: string
      }>`select to_jsonb(t)::text as row from ${sql.table(name)} t`.execute(ctx.database.db)
      dump += rows.map((r) => r.row).join('\n')
    }
    const everything = { database: dump, logs: lines.join(''), answers: answers.join('\n') }
    expect(everything.logs.length).toBeGreaterThan(1000)
    expect(everything.database).toContain('"card_last4": "4242"')
    for (const number of Object.keys(TEST_CARDS)) {
      const spaced = number.replace(/(\d{4})(?=\d)/g, '$1 ')
      for (const [where, text] of Object.entries(everything)) {
        expect(text.includes(number), `${number} in ${where}`).toBe(false)
        expect(text.includes(spaced), `${spaced} in ${where}`).toBe(false)
      }
    }
    for (const [where, text] of Object.entries(everything)) {
      expect(/card_cvc|"cvc"/.test(text), `a security code field in ${where}`).toBe(false)
      expect(text.includes(`=${CVC}`) || text.includes(`"${CVC}"`), `the security code in ${where}`).toBe(
        false,
      )
    }
  }, 120_000)
})
