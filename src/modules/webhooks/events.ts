// The event outbox: an event is written in the same transaction as the change that caused it, with one
// delivery row per subscribed endpoint, so no committed change goes unannounced and no rolled-back one
// is announced. An event no endpoint subscribes to is not written: nothing would ever deliver or read
// it (deliveries are made when the event is), and on the public path it was a fifth of the work.
import { randomBytes } from 'node:crypto'
import { type RawBuilder, sql } from 'kysely'
import type { Executor } from '../../lib/db.js'

export const EVENT_TYPES = [
  'order.created',
  'order.paid',
  'order.payment_failed',
  'order.expired',
  'order.refunded',
  'order.late_payment',
  'refund.succeeded',
  'refund.failed',
  'dispute.opened',
  'dispute.closed',
  'paylink.created',
  'paylink.updated',
  'paylink.deleted',
  'portal.payment_request.created',
  'portal.payment_method.saved',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Subscribing to `*` means every event type, present and future. */
export const ALL_EVENTS = '*'

export interface EventPayload {
  type: EventType
  timestamp: string
  data: unknown
}

export interface NewEvent {
  merchantId: string
  type: EventType
  data: unknown
  at: Date
}

/** Writes one event to the outbox in the caller's transaction (if an endpoint subscribes to it). */
export async function emitEvent(tx: Executor, event: NewEvent): Promise<string> {
  const [id] = await emitEvents(tx, [event])
  return id as string
}

/**
 * Writes events to the outbox, with a delivery for each subscribed endpoint, in one statement; the
 * events no endpoint subscribes to are left out. Answers the ids of all, written or not.
 */
export async function emitEvents(tx: Executor, events: NewEvent[]): Promise<string[]> {
  if (events.length === 0) return []
  const outbox = outboxWrites(events)
  await sql`with ${outbox.ctes} select 1`.execute(tx)
  return outbox.ids
}

/** Whether endpoint `e` is sent events like `event` (a row with merchant_id and type). */
function subscribes(event: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`e.merchant_id = ${event}.merchant_id and e.enabled and e.deleted_at is null
             and (${event}.type = any (e.events) or ${ALL_EVENTS} = any (e.events))`
}

/**
 * The common table expressions that write events and their deliveries, for a statement that writes
 * them with other rows (`with <ctes>, … insert …`), and the events' ids. Columns travel as arrays, so
 * the statement's text does not depend on the number of events.
 */
export function outboxWrites(events: NewEvent[]): { ctes: RawBuilder<unknown>; ids: string[] } {
  const rows = events.map((event) => {
    const payload: EventPayload = { type: event.type, timestamp: event.at.toISOString(), data: event.data }
    return {
      id: `msg_${randomBytes(12).toString('hex')}`,
      merchant_id: event.merchantId,
      type: event.type,
      payload: JSON.stringify(payload),
      created_at: event.at.toISOString(),
    }
  })
  const column = (pick: (row: (typeof rows)[number]) => string) => rows.map(pick)
  // Fanned out from the inserted rows themselves: a statement's own inserts are not visible to it.
  // Delivery ids need no cryptographic strength, only uniqueness.
  const ctes = sql`
    outbox_events as (
      insert into events (id, merchant_id, type, payload, created_at)
      select r.id, r.merchant_id, r.type, r.payload::jsonb, r.created_at
      from unnest(${column((r) => r.id)}::text[], ${column((r) => r.merchant_id)}::text[],
                  ${column((r) => r.type)}::text[], ${column((r) => r.payload)}::text[],
                  ${column((r) => r.created_at)}::timestamptz[]) as r (id, merchant_id, type, payload, created_at)
      where exists (
        select 1 from webhook_endpoints e
        where ${subscribes(sql`r`)}
      )
      returning id, merchant_id, type, created_at
    ),
    outbox_deliveries as (
      insert into webhook_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at, updated_at)
      select 'whd_' || substr(md5(random()::text || clock_timestamp()::text || e.id || ev.id), 1, 24),
             ev.id, e.id, ev.created_at, ev.created_at, ev.created_at
      from outbox_events ev
      join webhook_endpoints e on ${subscribes(sql`ev`)}
    )`
  return { ctes, ids: rows.map((r) => r.id) }
}
