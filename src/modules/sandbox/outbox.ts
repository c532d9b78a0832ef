// The sandbox's outgoing events: queued in the transaction of the change they tell of, then delivered,
// signed per Standard Webhooks, to paylinks' inbox route, retried with backoff until answered 2xx.
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import type { Db, Executor } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { Clock } from '../../lib/time.js'
import { type DisputeView, type RefundView, type SandboxEvent, type SessionView, unix } from './views.js'

/** Posts a signed event to paylinks' inbox; answers the HTTP status it got. */
export type Deliver = (path: string, body: string, headers: Record<string, string>) => Promise<number>

export interface OutboxContext {
  db: Db
  clock: Clock
  logger: Logger
  signingSecret: (accountId: string) => Promise<string>
  deliver: Deliver | undefined
}

/** The signature headers of an event; the timestamp is the real one, which receivers check against theirs. */
function signatureHeaders(secret: string, id: string, body: string): Record<string, string> {
  const at = new Date()
  return {
    'webhook-id': id,
    'webhook-timestamp': String(unix(at)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  }
}

export async function enqueue(
  tx: Executor,
  accountId: string,
  type: string,
  object: SessionView | RefundView | DisputeView,
  now: Date,
): Promise<void> {
  const id = `sbx_evt_${randomBytes(12).toString('hex')}`
  const event: SandboxEvent = {
    id,
    object: 'event',
    type,
    account: accountId,
    created: unix(now),
    data: { object },
  }
  await tx
    .insertInto('sandbox_events')
    .values({
      id,
      account_id: accountId,
      type,
      payload: JSON.stringify(event),
      deliver_at: now,
      created_at: now,
    })
    .execute()
}

/** Delivers due events to paylinks' inbox, signed; an answer other than 2xx is retried with backoff. */
export async function deliverDue(ctx: OutboxContext, limit = 50): Promise<number> {
  const { deliver } = ctx
  if (!deliver) return 0
  const now = ctx.clock.now()
  const due = await ctx.db
    .updateTable('sandbox_events')
    .set({ leased_until: new Date(now.getTime() + 60_000) })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('sandbox_events')
        .select('id')
        .where('delivered_at', 'is', null)
        .where('deliver_at', '<=', now)
        .where((w) => w.or([w('leased_until', 'is', null), w('leased_until', '<', now)]))
        .orderBy('deliver_at')
        .orderBy('created_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute()
  for (const event of due.sort((a, b) => a.created_at.getTime() - b.created_at.getTime())) {
    const body = JSON.stringify(event.payload)
    // The signature's timestamp is the real one: receivers check it against their own clock.
    const headers = {
      'content-type': 'application/json',
      ...signatureHeaders(await ctx.signingSecret(event.account_id), event.id, body),
    }
    let status: number
    let error: string | null = null
    try {
      status = await deliver(`/providers/${event.account_id}/events`, body, headers)
    } catch (err) {
      status = 0
      error = (err as Error).message.slice(0, 500)
    }
    const ok = status >= 200 && status < 300
    if (!ok) ctx.logger.warn({ event: event.id, status, error }, 'sandbox event not accepted; retrying later')
    await ctx.db
      .updateTable('sandbox_events')
      .set({
        delivered_at: ok ? ctx.clock.now() : null,
        attempts: event.attempts + 1,
        last_error: ok ? null : (error ?? `HTTP ${status}`),
        deliver_at: ok
          ? event.deliver_at
          : new Date(now.getTime() + Math.min(60_000, 1000 * 2 ** event.attempts)),
        leased_until: null,
      })
      .where('id', '=', event.id)
      .execute()
  }
  return due.length
}
