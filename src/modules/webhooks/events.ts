// The event outbox: an event is written in the same transaction as the change that caused it, with one
// delivery row per subscribed endpoint, so no committed change goes unannounced and no rolled-back one
// is announced.
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
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

/** Writes one event to the outbox in the caller's transaction. */
export async function emitEvent(tx: Executor, event: NewEvent): Promise<string> {
  const [id] = await emitEvents(tx, [event])
  return id as string
}

/** Writes events to the outbox, with a delivery for each subscribed endpoint, in two statements. */
export async function emitEvents(tx: Executor, events: NewEvent[]): Promise<string[]> {
  if (events.length === 0) return []
  const rows = events.map((event) => {
    const payload: EventPayload = { type: event.type, timestamp: event.at.toISOString(), data: event.data }
    return {
      id: `msg_${randomBytes(12).toString('hex')}`,
      merchant_id: event.merchantId,
      type: event.type,
      payload: JSON.stringify(payload),
      created_at: event.at,
    }
  })
  await tx.insertInto('events').values(rows).execute()
  const ids = rows.map((r) => r.id)
  // Fan out in one statement; delivery ids need no cryptographic strength, only uniqueness.
  await sql`
    INSERT INTO webhook_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at, updated_at)
    SELECT 'whd_' || substr(md5(random()::text || clock_timestamp()::text || e.id || ev.id), 1, 24),
           ev.id, e.id, ev.created_at, ev.created_at, ev.created_at
    FROM events ev
    JOIN webhook_endpoints e
      ON e.merchant_id = ev.merchant_id
     AND e.enabled AND e.deleted_at IS NULL
     AND (ev.type = ANY (e.events) OR ${ALL_EVENTS} = ANY (e.events))
    WHERE ev.id = ANY (${ids}::text[])
  `.execute(tx)
  return ids
}
