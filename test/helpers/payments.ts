// Payments as tests drive them: a paid order through the sandbox, the provider account behind a project,
// and provider events sent to the inbox exactly as a provider signs them.
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { GOOD_CARD, openPaylink, openPaymentPage, type PayFields, submitPayment } from './buyer.js'
import type { TestContext } from './context.js'

/** Opens the paylink and pays its order with the card; answers the order id and its payment. */
export async function paidOrder(ctx: TestContext, paylinkId: string, fields: PayFields = GOOD_CARD) {
  const { orderId } = await openPaylink(ctx.app, paylinkId)
  if (!orderId) throw new Error('no order')
  ctx.clock.advance(1000)
  const session = await openPaymentPage(ctx.app, orderId)
  const res = await submitPayment(ctx.app, orderId, session, fields)
  if (res.statusCode !== 303) throw new Error(`paying failed: ${res.statusCode}`)
  await ctx.services.sandbox.deliverDue()
  ctx.clock.advance(1000)
  const payment = await ctx.database.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .where('status', '=', 'succeeded')
    .executeTakeFirstOrThrow()
  return { orderId, payment }
}

/** The merchant's sandbox account id (the one its projects' payments go through). */
export async function sandboxAccountOf(ctx: TestContext, merchantId: string): Promise<string> {
  const row = await ctx.services.payments.accounts.sandboxAccount(ctx.database.db, merchantId)
  return row.id
}

/** Posts an event to an account's inbox signed with the account's sandbox secret (or `secret`). */
export async function postSandboxEvent(
  ctx: TestContext,
  accountId: string,
  event: { id?: string; type: string; data: { object: unknown }; account?: string },
  options: { secret?: string; tamper?: (body: string) => string } = {},
) {
  const id = event.id ?? `sbx_evt_${randomBytes(12).toString('hex')}`
  const body = JSON.stringify({
    id,
    object: 'event',
    type: event.type,
    account: event.account ?? accountId,
    created: Math.floor(ctx.clock.now().getTime() / 1000),
    data: event.data,
  })
  const secret = options.secret ?? (await ctx.services.sandbox.signingSecret(accountId))
  const at = new Date()
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  }
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/providers/${accountId}/events`,
    headers,
    payload: options.tamper ? options.tamper(body) : body,
  })
  return { res, id, body: res.body ? JSON.parse(res.body) : undefined }
}

/** The sandbox's view of a session as its events carry it, for crafting events in tests. */
export async function sessionObject(ctx: TestContext, sessionId: string) {
  const row = await ctx.database.db
    .selectFrom('sandbox_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .executeTakeFirstOrThrow()
  return ctx.services.sandbox.retrieveSession(row.account_id, sessionId)
}

/** The types of the webhook events announced about one order, in the order they were written. */
export async function eventsOf(ctx: TestContext, orderId: string): Promise<string[]> {
  const rows = await ctx.database.db
    .selectFrom('events')
    .select(['type', 'payload'])
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  return rows
    .filter((r) => {
      const data = (r.payload as { data?: { id?: string; order?: { id?: string } } }).data
      return data?.id === orderId || data?.order?.id === orderId
    })
    .map((r) => r.type)
}
