// The payment state machine, table-driven: every normalised report in every state, first as the pure
// rules, then through the inbox against the database, with what each does to the order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newPrefixedId } from '../../src/lib/ids.js'
import type { PaymentStatus } from '../../src/lib/schema.js'
import type { ProviderPaymentStatus } from '../../src/modules/payments/provider.js'
import { nextDisputeStatus, nextPaymentStatus, nextRefundStatus } from '../../src/modules/payments/settle.js'
import { openPaylink } from '../helpers/buyer.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import {
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { eventsOf, postSandboxEvent, sandboxAccountOf } from '../helpers/payments.js'

const STATES: PaymentStatus[] = [
  'pending',
  'requires_action',
  'processing',
  'unknown',
  'succeeded',
  'failed',
  'canceled',
]
const REPORTS: ProviderPaymentStatus[] = [
  'pending',
  'requires_action',
  'processing',
  'succeeded',
  'failed',
  'canceled',
]

/** What each state becomes on each report (`=` stays). */
const EXPECTED: Record<PaymentStatus, Record<ProviderPaymentStatus, PaymentStatus | '='>> = {
  pending: {
    pending: '=',
    requires_action: 'requires_action',
    processing: 'processing',
    succeeded: 'succeeded',
    failed: 'failed',
    canceled: 'canceled',
  },
  requires_action: {
    pending: '=',
    requires_action: '=',
    processing: 'processing',
    succeeded: 'succeeded',
    failed: 'failed',
    canceled: 'canceled',
  },
  processing: {
    pending: '=',
    requires_action: 'requires_action',
    processing: '=',
    succeeded: 'succeeded',
    failed: 'failed',
    canceled: 'canceled',
  },
  unknown: {
    pending: 'pending',
    requires_action: 'requires_action',
    processing: 'processing',
    succeeded: 'succeeded',
    failed: 'failed',
    canceled: 'canceled',
  },
  succeeded: {
    pending: '=',
    requires_action: '=',
    processing: '=',
    succeeded: '=',
    failed: '=',
    canceled: '=',
  },
  // A final failure or cancel stays final; only the news that the money was taken after all moves it.
  failed: {
    pending: '=',
    requires_action: '=',
    processing: '=',
    succeeded: 'succeeded',
    failed: '=',
    canceled: '=',
  },
  canceled: {
    pending: '=',
    requires_action: '=',
    processing: '=',
    succeeded: 'succeeded',
    failed: '=',
    canceled: '=',
  },
}

describe('the rules', () => {
  for (const state of STATES) {
    it.each(REPORTS)(`a ${state} payment told %s`, (report) => {
      const expected = EXPECTED[state][report]
      expect(nextPaymentStatus(state, report)).toBe(expected === '=' ? undefined : expected)
    })
  }

  it.each([
    ['pending', 'succeeded', 'succeeded'],
    ['pending', 'failed', 'failed'],
    ['pending', 'pending', undefined],
    ['unknown', 'pending', 'pending'],
    ['unknown', 'succeeded', 'succeeded'],
    ['succeeded', 'failed', 'failed'],
    ['succeeded', 'pending', undefined],
    ['succeeded', 'canceled', undefined],
    ['failed', 'succeeded', undefined],
    ['canceled', 'succeeded', undefined],
  ] as const)('a %s refund told %s becomes %s', (current, report, expected) => {
    expect(nextRefundStatus(current, report)).toBe(expected)
  })

  it.each([
    ['open', 'won', 'won'],
    ['open', 'lost', 'lost'],
    ['open', 'open', undefined],
    ['won', 'lost', undefined],
    ['lost', 'open', undefined],
  ] as const)('a %s dispute told %s becomes %s', (current, report, expected) => {
    expect(nextDisputeStatus(current, report)).toBe(expected)
  })
})

describe('the same through the inbox, with the order', () => {
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
      prices: [{ currency: 'USD', amount: 700 }],
    })
    paylinkId = (await createPaylink(ctx.app, merchant, projectId, [product.id])).id
    account = await sandboxAccountOf(ctx, merchant.id)
  })
  afterAll(() => ctx.close())

  /** An order with one payment in `state`, as the database would hold it. */
  async function orderWithPayment(state: PaymentStatus) {
    const { orderId } = await openPaylink(ctx.app, paylinkId)
    ctx.clock.advance(1000)
    const now = ctx.clock.now()
    const id = newPrefixedId('pay')
    await ctx.database.db
      .insertInto('payments')
      .values({
        id,
        order_id: orderId as string,
        status: state,
        provider: 'sandbox',
        provider_account_id: account,
        provider_ref: `sbx_cs_${id.slice(4)}`,
        // A succeeded payment knows its charge already: the same report again brings nothing new.
        provider_payment_id: state === 'succeeded' ? `sbx_ch_${id.slice(4)}` : null,
        amount: 700,
        currency: 'USD',
        card_brand: null,
        card_last4: null,
        card_exp_month: null,
        card_exp_year: null,
        failure_code: state === 'failed' ? 'card_declined' : null,
        failure_message: state === 'failed' ? 'The card was declined.' : null,
        created_at: now,
        updated_at: now,
      })
      .execute()
    if (state === 'succeeded') {
      await ctx.database.db
        .updateTable('orders')
        .set({ status: 'paid', paid_at: now, payment_id: id })
        .where('id', '=', orderId as string)
        .execute()
    }
    ctx.clock.advance(1000)
    return { orderId: orderId as string, paymentId: id }
  }

  const SESSION: Record<ProviderPaymentStatus, string> = {
    pending: 'open',
    requires_action: 'requires_action',
    processing: 'processing',
    succeeded: 'complete',
    failed: 'failed',
    canceled: 'expired',
  }

  for (const state of STATES) {
    it.each(REPORTS)(`a ${state} payment told %s by an event`, async (report) => {
      const { orderId, paymentId } = await orderWithPayment(state)
      const before = await eventsOf(ctx, orderId)
      const object = {
        id: `sbx_cs_${paymentId.slice(4)}`,
        object: 'sandbox.session',
        mode: 'payment',
        reference: paymentId,
        status: SESSION[report],
        url: 'https://pay.example.test/sandbox/checkout/x',
        amount: 700,
        currency: 'USD',
        amount_refunded: 0,
        card: report === 'succeeded' ? { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 } : null,
        payment: report === 'succeeded' ? `sbx_ch_${paymentId.slice(4)}` : null,
        payment_method: null,
        failure: report === 'failed' ? { code: 'insufficient_funds', message: 'No funds.' } : null,
        expires_at: 0,
      }
      const { body } = await postSandboxEvent(ctx, account, {
        type: `checkout.session.${SESSION[report]}`,
        data: { object },
      })
      const expected = EXPECTED[state][report]
      const payment = await ctx.database.db
        .selectFrom('payments')
        .selectAll()
        .where('id', '=', paymentId)
        .executeTakeFirstOrThrow()
      const order = await ctx.database.db
        .selectFrom('orders')
        .selectAll()
        .where('id', '=', orderId)
        .executeTakeFirstOrThrow()
      expect(payment.status).toBe(expected === '=' ? state : expected)
      expect(body.outcome).toBe(expected === '=' ? 'ignored' : 'applied')
      const added = (await eventsOf(ctx, orderId)).slice(before.length)
      if (expected === 'succeeded') {
        expect(order).toMatchObject({ status: 'paid', payment_id: paymentId })
        expect(payment).toMatchObject({
          card_last4: '4242',
          provider_payment_id: `sbx_ch_${paymentId.slice(4)}`,
          failure_code: null,
        })
        expect(added).toEqual(['order.paid'])
      } else if (expected === 'failed') {
        expect(order.status).toBe('created')
        expect(payment).toMatchObject({ failure_code: 'insufficient_funds', failure_message: 'No funds.' })
        expect(added).toEqual(['order.payment_failed'])
      } else {
        expect(order.status).toBe(state === 'succeeded' ? 'paid' : 'created')
        expect(added).toEqual([])
      }
    })
  }
})
