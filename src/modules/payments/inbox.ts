// The provider events inbox: an event is verified against the account's signing secret over its raw
// body, stored once (unique on the provider's event id) and applied once, in one transaction with the
// state changes and the webhook events they cause. Duplicates and replays change nothing.
import type { Tx } from '../../lib/db.js'
import { AppError } from '../../lib/errors.js'
import type { PaymentDeps } from './context.js'
import { EventSignatureError, ProviderError, type ProviderEvent } from './provider.js'
import type { Applied } from './settle.js'

export type Received = 'applied' | 'ignored' | 'deferred' | 'duplicate'

/** Keeps an event naming objects paylinks does not know yet this long, trying again now and then. */
const DEFERRED_FOR_MS = 3 * 24 * 3_600_000

export async function receiveEvent(
  deps: PaymentDeps,
  accountId: string,
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
): Promise<Received> {
  const bound = await deps.accounts.byId(deps.db, accountId)
  if (!bound) throw new AppError('route_not_found', 'no such provider account')
  let event: ProviderEvent
  try {
    event = await bound.provider.parseEvent(bound.account, rawBody, headers)
  } catch (error) {
    if (error instanceof EventSignatureError) throw new AppError('invalid_signature', error.message)
    // A lookup the event needed could not be made: a 5xx, so that the provider sends the event again.
    if (error instanceof ProviderError) {
      deps.logger.warn({ err: error, account: accountId }, 'provider event not read: a lookup failed')
      throw new AppError(
        'service_unavailable',
        'the event could not be completed at the provider; send it again later',
      )
    }
    throw error
  }
  const now = deps.clock.now()
  return deps.db.transaction().execute(async (tx): Promise<Received> => {
    const stored = await tx
      .insertInto('provider_events')
      .values({
        provider_account_id: accountId,
        event_id: event.id,
        type: event.type,
        payload: JSON.stringify(event.payload),
        status: 'ignored',
        note: null,
        received_at: now,
      })
      .onConflict((oc) => oc.columns(['provider_account_id', 'event_id']).doNothing())
      .returning('id')
      .executeTakeFirst()
    if (!stored) return 'duplicate'
    const outcome = await applyEvent(deps, tx, accountId, event, now)
    await tx
      .updateTable('provider_events')
      .set({
        status: outcome.status,
        note: outcome.note,
        applied_at: outcome.status === 'applied' ? now : null,
      })
      .where('id', '=', stored.id)
      .execute()
    return outcome.status
  })
}

async function applyEvent(
  deps: PaymentDeps,
  tx: Tx,
  accountId: string,
  event: ProviderEvent,
  now: Date,
): Promise<{ status: Applied; note: string | null }> {
  if (event.updates.length === 0) return { status: 'ignored', note: 'an event type paylinks does not act on' }
  const results: Applied[] = []
  for (const update of event.updates) {
    results.push(
      update.kind === 'setup'
        ? await deps.setups.apply(tx, accountId, update, now)
        : await deps.settlement.apply(tx, accountId, update, now),
    )
  }
  if (results.includes('deferred'))
    return { status: 'deferred', note: 'names a payment paylinks does not know yet; applied when it appears' }
  if (results.includes('applied')) return { status: 'applied', note: null }
  return { status: 'ignored', note: 'nothing new: a duplicate or an outdated report' }
}

/**
 * Applies deferred events again (their payment may be known now); gives up on those older than three
 * days. SKIP LOCKED: instances share the work.
 */
export async function retryDeferred(deps: PaymentDeps, limit = 100): Promise<number> {
  const now = deps.clock.now()
  return deps.db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('provider_events')
      .select(['id', 'provider_account_id', 'payload', 'received_at'])
      .where('status', '=', 'deferred')
      .orderBy('received_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute()
    let applied = 0
    for (const row of rows) {
      if (now.getTime() - row.received_at.getTime() > DEFERRED_FOR_MS) {
        await tx
          .updateTable('provider_events')
          .set({ status: 'ignored', note: 'named a payment paylinks never knew' })
          .where('id', '=', row.id)
          .execute()
        continue
      }
      const bound = await deps.accounts.byId(tx, row.provider_account_id)
      if (!bound) continue
      const outcome = await applyEvent(
        deps,
        tx,
        row.provider_account_id,
        await bound.provider.readEvent(bound.account, row.payload),
        now,
      )
      if (outcome.status === 'deferred') continue
      applied++
      await tx
        .updateTable('provider_events')
        .set({ status: outcome.status, note: outcome.note, applied_at: now })
        .where('id', '=', row.id)
        .execute()
    }
    return applied
  })
}
