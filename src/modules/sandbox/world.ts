// What happens at the simulated provider: the card the buyer types on its page, the 3-D Secure step, and
// time passing (payments settling, refunds settling, disputes opening, sessions expiring). Each change
// queues the event that tells of it, in the same transaction.
import { randomBytes } from 'node:crypto'
import type { Db, Executor } from '../../lib/db.js'
import type { SandboxSessionRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { type CardInput, cardBrand } from './card.js'
import { type Behaviour, DECLINES, DISPUTE_OPENS_MS, OUTAGE_MS, PROCESSING_MS, TEST_CARDS } from './cards.js'
import { enqueue } from './outbox.js'
import { disputeView, refundView, sessionView } from './views.js'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

export interface WorldContext {
  db: Db
  clock: Clock
  publicUrl: string
}

/** What the sandbox's page does next after a card is entered. */
export type PageStep =
  | { kind: 'redirect'; url: string }
  | { kind: 'challenge' }
  | { kind: 'error'; message: string }

/** The buyer entered a card on the sandbox's page: what the test card asks for happens now. */
export async function submitCard(ctx: WorldContext, id: string, card: CardInput): Promise<PageStep> {
  const now = ctx.clock.now()
  const behaviour: Behaviour | undefined = TEST_CARDS[card.number]
  if (!behaviour) {
    return {
      kind: 'error',
      message: 'This is the sandbox: use one of its test cards listed below. Real cards are never charged.',
    }
  }
  return ctx.db.transaction().execute(async (tx): Promise<PageStep> => {
    const session = await tx
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst()
    if (!session) return { kind: 'error', message: 'This payment page does not exist.' }
    if (session.status !== 'open') return { kind: 'redirect', url: session.return_url }
    if (session.expires_at.getTime() <= now.getTime()) {
      await finish(ctx, tx, session, { status: 'expired' }, now, 'checkout.session.expired')
      return { kind: 'redirect', url: session.return_url }
    }
    const cardColumns = {
      behaviour,
      card_brand: cardBrand(card.number),
      card_last4: card.number.slice(-4),
      card_exp_month: card.expMonth,
      card_exp_year: card.expYear,
    }
    const decline = DECLINES[behaviour]
    if (decline) {
      await finish(
        ctx,
        tx,
        session,
        { ...cardColumns, status: 'failed', failure_code: decline.code, failure_message: decline.message },
        now,
        'checkout.session.failed',
      )
      return { kind: 'redirect', url: session.return_url }
    }
    if (behaviour === 'three_d_secure') {
      await finish(
        ctx,
        tx,
        session,
        { ...cardColumns, status: 'requires_action' },
        now,
        'checkout.session.requires_action',
      )
      return { kind: 'challenge' }
    }
    if (behaviour === 'outage' && session.mode === 'payment') {
      // The provider fails mid-payment: no event comes, and for a while its API answers nothing about it.
      await tx
        .updateTable('sandbox_sessions')
        .set({
          ...cardColumns,
          status: 'failed',
          failure_code: 'processing_error',
          failure_message: 'The provider had an outage; no charge was made.',
          outage_until: new Date(now.getTime() + OUTAGE_MS),
          completed_at: now,
        })
        .where('id', '=', session.id)
        .execute()
      return { kind: 'redirect', url: session.return_url }
    }
    if (behaviour === 'processing' && session.mode === 'payment') {
      await finish(
        ctx,
        tx,
        session,
        { ...cardColumns, status: 'processing', settles_at: new Date(now.getTime() + PROCESSING_MS) },
        now,
        'checkout.session.processing',
      )
      return { kind: 'redirect', url: session.return_url }
    }
    await complete(ctx, tx, { ...session, ...cardColumns }, now)
    return { kind: 'redirect', url: session.return_url }
  })
}

/** The answer to the 3-D Secure step of the sandbox's page. */
export async function answerChallenge(ctx: WorldContext, id: string, approve: boolean): Promise<PageStep> {
  const now = ctx.clock.now()
  return ctx.db.transaction().execute(async (tx): Promise<PageStep> => {
    const session = await tx
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst()
    if (!session) return { kind: 'error', message: 'This payment page does not exist.' }
    if (session.status !== 'requires_action') return { kind: 'redirect', url: session.return_url }
    if (approve) await complete(ctx, tx, session, now)
    else
      await finish(
        ctx,
        tx,
        session,
        {
          status: 'failed',
          failure_code: 'authentication_failed',
          failure_message: 'The card holder did not approve the payment.',
        },
        now,
        'checkout.session.failed',
      )
    return { kind: 'redirect', url: session.return_url }
  })
}

/**
 * Moves the sandbox's world forward to now: processing payments settle, refunds settle (those of card
 * 5126 fail), scheduled disputes open, and sessions past their expiry close. Each change queues its event.
 */
export async function advance(ctx: WorldContext): Promise<number> {
  const now = ctx.clock.now()
  return ctx.db.transaction().execute(async (tx) => {
    let changes = 0
    const settled = await tx
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('status', '=', 'processing')
      .where('settles_at', '<=', now)
      .forUpdate()
      .skipLocked()
      .execute()
    for (const session of settled) {
      await complete(ctx, tx, session, now)
      changes++
    }
    const refunds = await tx
      .selectFrom('sandbox_refunds as r')
      .innerJoin('sandbox_sessions as s', 's.id', 'r.session_id')
      .select(['r.id', 's.behaviour'])
      .where('r.status', '=', 'pending')
      .where('r.settles_at', '<=', now)
      .forUpdate('r')
      .skipLocked()
      .execute()
    for (const { id, behaviour } of refunds) {
      const status = behaviour === 'refund_fails' ? 'failed' : 'succeeded'
      const refund = await tx
        .updateTable('sandbox_refunds')
        .set({ status })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow()
      const session = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', refund.session_id)
        .executeTakeFirstOrThrow()
      const after =
        status === 'succeeded'
          ? await tx
              .updateTable('sandbox_sessions')
              .set((eb) => ({ amount_refunded: eb('amount_refunded', '+', refund.amount) }))
              .where('id', '=', session.id)
              .returningAll()
              .executeTakeFirstOrThrow()
          : session
      await enqueue(tx, session.account_id, `refund.${status}`, refundView(refund, after), now)
      changes++
    }
    const disputes = await tx
      .updateTable('sandbox_disputes')
      .set({ status: 'open' })
      .where('status', '=', 'scheduled')
      .where('opens_at', '<=', now)
      .returningAll()
      .execute()
    for (const dispute of disputes) {
      const session = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', dispute.session_id)
        .executeTakeFirstOrThrow()
      await enqueue(tx, session.account_id, 'dispute.created', disputeView(dispute, session), now)
      changes++
    }
    const expired = await tx
      .updateTable('sandbox_sessions')
      .set({ status: 'expired', completed_at: now })
      .where('status', 'in', ['open', 'requires_action'])
      .where('expires_at', '<=', now)
      .returningAll()
      .execute()
    for (const session of expired) {
      await enqueue(
        tx,
        session.account_id,
        'checkout.session.expired',
        sessionView(session, ctx.publicUrl),
        now,
      )
      changes++
    }
    return changes
  })
}

async function complete(ctx: WorldContext, tx: Executor, session: SandboxSessionRow, now: Date) {
  const objectRef = session.mode === 'payment' ? `sbx_ch_${hex(12)}` : `sbx_pm_${hex(12)}`
  const done = await finish(
    ctx,
    tx,
    session,
    {
      behaviour: session.behaviour,
      card_brand: session.card_brand,
      card_last4: session.card_last4,
      card_exp_month: session.card_exp_month,
      card_exp_year: session.card_exp_year,
      status: 'complete',
      object_ref: objectRef,
      settles_at: null,
    },
    now,
    'checkout.session.completed',
  )
  if (session.mode === 'payment' && session.behaviour === 'dispute') {
    await tx
      .insertInto('sandbox_disputes')
      .values({
        id: `sbx_dp_${hex(12)}`,
        session_id: done.id,
        amount: Number(done.amount),
        reason: 'fraudulent',
        status: 'scheduled',
        opens_at: new Date(now.getTime() + DISPUTE_OPENS_MS),
        created_at: now,
      })
      .execute()
  }
}

/** Moves a session to its new state and queues the event saying so. */
export async function finish(
  ctx: WorldContext,
  tx: Executor,
  session: SandboxSessionRow,
  changes: Partial<SandboxSessionRow>,
  now: Date,
  eventType: string,
): Promise<SandboxSessionRow> {
  const final = changes.status === 'complete' || changes.status === 'failed' || changes.status === 'expired'
  const updated = await tx
    .updateTable('sandbox_sessions')
    .set({ ...changes, ...(final ? { completed_at: now } : {}) })
    .where('id', '=', session.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  await enqueue(tx, updated.account_id, eventType, sessionView(updated, ctx.publicUrl), now)
  return updated
}
