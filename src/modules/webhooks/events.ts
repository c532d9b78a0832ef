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

export async function emitEvent(
  tx: Executor,
  event: { merchantId: string; type: EventType; data: unknown; at: Date },
): Promise<string> {
  const id = `msg_${randomBytes(12).toString('hex')}`
  const payload: EventPayload = { type: event.type, timestamp: event.at.toISOString(), data: event.data }
  await tx
    .insertInto('events')
    .values({
      id,
      merchant_id: event.merchantId,
      type: event.type,
      payload: JSON.stringify(payload),
      created_at: event.at,
    })
    .execute()
  // Fan out in the same statement; delivery ids need no cryptographic strength, only uniqueness.
  await sql`
    INSERT INTO webhook_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at, updated_at)
    SELECT 'whd_' || substr(md5(random()::text || clock_timestamp()::text || e.id), 1, 24), ${id}, e.id, ${event.at}, ${event.at}, ${event.at}
    FROM webhook_endpoints e
    WHERE e.merchant_id = ${event.merchantId}
      AND e.enabled AND e.deleted_at IS NULL
      AND (${event.type} = ANY (e.events) OR ${ALL_EVENTS} = ANY (e.events))
  `.execute(tx)
  return id
}
