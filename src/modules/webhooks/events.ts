// The event outbox: an event is written in the same transaction as the change that caused it, with one
// delivery row per subscribed endpoint, so no committed change goes unannounced and no rolled-back one
// is announced. An event no endpoint subscribes to is not written: nothing would ever deliver or read
// it (deliveries are made when the event is), and on the public path it was a fifth of the work.
import { type RawBuilder, sql } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Executor } from '../../lib/db.js'
import { newPrefixedId } from '../../lib/ids.js'

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
  await sql`with ${outbox.ctes} select ${outbox.check}`.execute(tx)
  return outbox.ids
}

/** The SQLSTATE of a statement that left out events an endpoint subscribes to (see `outboxWrites`). */
export const EVENTS_LEFT_OUT = 'PL001'

/** Whether endpoint `e` is sent events of this type and merchant (columns or parameters). */
function subscribes(merchantId: RawBuilder<unknown>, type: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`e.merchant_id = ${merchantId} and e.enabled and e.deleted_at is null
             and (${type} = any (e.events) or ${ALL_EVENTS} = any (e.events))`
}

/** Events of one type that a writer leaves out for some merchants, believing no endpoint wants them. */
export interface LeftOut {
  type: EventType
  merchantIds: string[]
}

/**
 * The common table expressions that write events and their deliveries, for a statement that writes
 * them with other rows (`with <ctes>, … select <check>`), and the events' ids. Columns travel as
 * arrays, so the statement's text does not depend on the number of events.
 *
 * `leftOut` names merchants whose events of a type the caller did not build, because it knows of no
 * endpoint that wants them; the statement checks, and aborts with EVENTS_LEFT_OUT if one does (then
 * the caller writes it again with the events). `check` must be selected by the statement, or the check
 * is not made.
 */
export function outboxWrites(
  events: NewEvent[],
  leftOut: LeftOut = { type: 'order.created', merchantIds: [] },
): { ctes: RawBuilder<unknown>; check: RawBuilder<unknown>; ids: string[] } {
  const rows = events.map((event) => {
    const payload: EventPayload = { type: event.type, timestamp: event.at.toISOString(), data: event.data }
    return {
      id: newPrefixedId('msg'),
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
        where ${subscribes(sql`r.merchant_id`, sql`r.type`)}
      )
      returning id, merchant_id, type, created_at
    ),
    outbox_deliveries as (
      insert into webhook_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at, updated_at)
      select 'whd_' || substr(md5(random()::text || clock_timestamp()::text || e.id || ev.id), 1, 24),
             ev.id, e.id, ev.created_at, ev.created_at, ev.created_at
      from outbox_events ev
      join webhook_endpoints e on ${subscribes(sql`ev.merchant_id`, sql`ev.type`)}
    ),
    outbox_left_out as (
      select m from unnest(${leftOut.merchantIds}::text[]) as m
      -- CASE, not AND: the order of evaluation is fixed, the function runs only where an endpoint subscribes.
      where case when exists (select 1 from webhook_endpoints e where ${subscribes(sql`m`, sql`${leftOut.type}::text`)})
                 then paylinks_events_left_out(m, ${leftOut.type}) else false end
    )`
  return { ctes, check: sql`(select count(*) from outbox_left_out)`, ids: rows.map((r) => r.id) }
}

/**
 * Which merchants have an endpoint that subscribes to one event type, remembered for a minute, so that
 * a writer builds only the events someone wants. It may be stale either way: a stale yes builds events
 * that the statement then does not write; a stale no leaves events out, which the statement's check
 * (`outboxWrites`' leftOut) refuses, and the writer forgets and writes again with them.
 */
export class SubscriberCache {
  private readonly known = new LRUCache<string, boolean>({ max: 10_000, ttl: 60_000 })

  constructor(readonly type: EventType) {}

  /** The merchants among these with such an endpoint, as far as known. */
  async subscribed(db: Executor, merchantIds: string[]): Promise<Set<string>> {
    const unknown = [...new Set(merchantIds)].filter((id) => !this.known.has(id))
    if (unknown.length > 0) {
      const rows = await sql<{ merchant_id: string }>`
        select distinct e.merchant_id from webhook_endpoints e
        where ${subscribes(sql`any (${unknown}::text[])`, sql`${this.type}::text`)}`.execute(db)
      const found = new Set(rows.rows.map((r) => r.merchant_id))
      for (const id of unknown) this.known.set(id, found.has(id))
    }
    return new Set(merchantIds.filter((id) => this.known.get(id) === true))
  }

  forget(merchantIds: string[]): void {
    for (const id of merchantIds) this.known.delete(id)
  }
}
