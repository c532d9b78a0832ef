// The sandbox: a simulated payment provider living beside paylinks, with its own tables, its own card
// page, its own clock-driven processing, and signed events delivered to paylinks' inbox through the same
// route a real provider posts to. Its "API" is this class's public methods; paylinks reaches it only
// through the provider adapter (./provider.ts), as it would reach any provider.
import { createHmac, randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import type { Db, Executor } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { SandboxSessionRow } from '../../lib/schema.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Clock } from '../../lib/time.js'
import type { CardInput } from './card.js'
import { cardBrand } from './card.js'
import {
  type Behaviour,
  DECLINES,
  DISPUTE_OPENS_MS,
  OUTAGE_MS,
  PROCESSING_MS,
  REFUND_SETTLES_MS,
  TEST_CARDS,
} from './cards.js'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const unix = (date: Date) => Math.floor(date.getTime() / 1000)

/** A call the sandbox cannot answer now (the simulated outage of card 0119). */
export class SandboxUnavailable extends Error {}
/** A call the sandbox refuses (unknown object, invalid request). */
export class SandboxRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface SessionView {
  id: string
  object: 'sandbox.session'
  mode: 'payment' | 'setup'
  reference: string
  status: SandboxSessionRow['status']
  url: string
  amount: number | null
  currency: string | null
  amount_refunded: number
  card: { brand: string; last4: string; exp_month: number; exp_year: number } | null
  /** The charge (payment mode) once complete. */
  payment: string | null
  /** The saved payment method (setup mode) once complete. */
  payment_method: string | null
  failure: { code: string; message: string } | null
  expires_at: number
}

export interface RefundView {
  id: string
  object: 'sandbox.refund'
  session: string
  payment: string | null
  /** The merchant's reference (paylinks' payment) of the session, and the refund's own. */
  session_reference: string
  reference: string | null
  amount: number
  currency: string | null
  status: 'pending' | 'succeeded' | 'failed'
  failure_reason: string | null
}

export interface DisputeView {
  id: string
  object: 'sandbox.dispute'
  session: string
  payment: string | null
  session_reference: string
  amount: number
  currency: string | null
  reason: string
  status: 'open' | 'won' | 'lost'
}

export interface SandboxEvent {
  id: string
  object: 'event'
  type: string
  account: string
  created: number
  data: { object: SessionView | RefundView | DisputeView }
}

/** What the sandbox's page does next after a card is entered. */
export type PageStep =
  | { kind: 'redirect'; url: string }
  | { kind: 'challenge' }
  | { kind: 'error'; message: string }

/** Posts a signed event to paylinks' inbox; answers the HTTP status it got. */
export type Deliver = (path: string, body: string, headers: Record<string, string>) => Promise<number>

export class SandboxService {
  private key: Promise<string> | undefined
  private deliver: Deliver | undefined

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly publicUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Where the sandbox sends its events: paylinks' inbox route, called in process. */
  connect(deliver: Deliver): void {
    this.deliver = deliver
  }

  /** The signing secret of an account, as a provider's dashboard shows it to its merchant. */
  async signingSecret(accountId: string): Promise<string> {
    this.key ??= installationSecret(this.db, 'sandbox')
    const mac = createHmac('sha256', await this.key)
      .update(`webhook:${accountId}`)
      .digest('base64')
    return `whsec_${mac}`
  }

  // — The API —

  /** Opens a session; the same account and reference answer the session made first (idempotency). */
  async createSession(input: {
    accountId: string
    mode: 'payment' | 'setup'
    reference: string
    amount?: number
    currency?: string
    description: string
    email: string | null
    returnUrl: string
    cancelUrl: string
    expiresAt: Date
  }): Promise<SessionView> {
    const now = this.clock.now()
    await this.db
      .insertInto('sandbox_sessions')
      .values({
        id: `sbx_cs_${hex(12)}`,
        account_id: input.accountId,
        mode: input.mode,
        reference: input.reference,
        amount: input.amount ?? null,
        currency: input.currency ?? null,
        description: input.description,
        email: input.email,
        return_url: input.returnUrl,
        cancel_url: input.cancelUrl,
        status: 'open',
        behaviour: null,
        card_brand: null,
        card_last4: null,
        card_exp_month: null,
        card_exp_year: null,
        failure_code: null,
        failure_message: null,
        object_ref: null,
        settles_at: null,
        outage_until: null,
        created_at: now,
        expires_at: input.expiresAt,
        completed_at: null,
      })
      .onConflict((oc) => oc.columns(['account_id', 'reference']).doNothing())
      .execute()
    const session = await this.db
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('account_id', '=', input.accountId)
      .where('reference', '=', input.reference)
      .executeTakeFirstOrThrow()
    return this.view(session)
  }

  async retrieveSession(accountId: string, id: string): Promise<SessionView> {
    return this.view(await this.sessionOf(accountId, id))
  }

  /** Closes an open session; a complete one stays complete (and says so). */
  async expireSession(accountId: string, id: string): Promise<SessionView> {
    const session = await this.sessionOf(accountId, id)
    const now = this.clock.now()
    await this.db.transaction().execute(async (tx) => {
      const expired = await tx
        .updateTable('sandbox_sessions')
        .set({ status: 'expired', completed_at: now })
        .where('id', '=', session.id)
        .where('status', 'in', ['open', 'requires_action'])
        .returningAll()
        .executeTakeFirst()
      if (expired)
        await this.enqueue(tx, expired.account_id, 'checkout.session.expired', this.view(expired), now)
    })
    return this.retrieveSession(accountId, id)
  }

  /** Refunds part or all of a complete payment; the same reference answers the refund made first. */
  async createRefund(
    accountId: string,
    input: { session: string; amount: number; reference: string },
  ): Promise<RefundView> {
    const session = await this.sessionOf(accountId, input.session)
    const now = this.clock.now()
    return this.db.transaction().execute(async (tx) => {
      const locked = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', session.id)
        .forUpdate()
        .executeTakeFirstOrThrow()
      const existing = await tx
        .selectFrom('sandbox_refunds')
        .selectAll()
        .where('session_id', '=', locked.id)
        .where('reference', '=', input.reference)
        .executeTakeFirst()
      if (existing) return this.refundView(existing, locked)
      if (locked.mode !== 'payment' || locked.status !== 'complete')
        throw new SandboxRefusal('payment_not_complete', 'only a complete payment can be refunded')
      const pending = await tx
        .selectFrom('sandbox_refunds')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), eb.val(0)).as('total'))
        .where('session_id', '=', locked.id)
        .where('status', 'in', ['pending', 'succeeded'])
        .executeTakeFirstOrThrow()
      const left = Number(locked.amount) - Number(pending.total)
      if (input.amount < 1 || input.amount > left)
        throw new SandboxRefusal('amount_too_large', `the refund exceeds what is left to refund (${left})`)
      const refund = await tx
        .insertInto('sandbox_refunds')
        .values({
          id: `sbx_re_${hex(12)}`,
          session_id: locked.id,
          reference: input.reference,
          amount: input.amount,
          status: 'pending',
          settles_at: new Date(now.getTime() + REFUND_SETTLES_MS),
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()
      return this.refundView(refund, locked)
    })
  }

  async retrieveRefund(accountId: string, id: string): Promise<RefundView> {
    const refund = await this.db
      .selectFrom('sandbox_refunds')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!refund) throw new SandboxRefusal('resource_missing', `no such refund: ${id}`)
    return this.refundView(refund, await this.sessionOf(accountId, refund.session_id))
  }

  /** Settles a dispute the way the card network would; the sandbox's stand-in for responding to one. */
  async closeDispute(id: string, outcome: 'won' | 'lost'): Promise<void> {
    const now = this.clock.now()
    await this.db.transaction().execute(async (tx) => {
      const dispute = await tx
        .updateTable('sandbox_disputes')
        .set({ status: outcome, closed_at: now })
        .where('id', '=', id)
        .where('status', '=', 'open')
        .returningAll()
        .executeTakeFirst()
      if (!dispute) throw new SandboxRefusal('dispute_not_open', 'the dispute is not open')
      const session = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', dispute.session_id)
        .executeTakeFirstOrThrow()
      await this.enqueue(tx, session.account_id, 'dispute.closed', this.disputeView(dispute, session), now)
    })
  }

  /** The open disputes of a payment session by its merchant reference (for the dashboard's simulation). */
  async openDisputes(accountId: string, reference: string): Promise<{ id: string; amount: number }[]> {
    return this.db
      .selectFrom('sandbox_disputes as d')
      .innerJoin('sandbox_sessions as s', 's.id', 'd.session_id')
      .select(['d.id', 'd.amount'])
      .where('s.account_id', '=', accountId)
      .where('s.reference', '=', reference)
      .where('d.status', '=', 'open')
      .execute()
  }

  // — The sandbox's own page —

  /** A session as its page shows it, whoever asks (the page's URL is the buyer's key to it). */
  async pageSession(id: string): Promise<SandboxSessionRow | undefined> {
    if (!/^sbx_cs_[0-9a-f]{24}$/.test(id)) return undefined
    return this.db.selectFrom('sandbox_sessions').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** The buyer entered a card on the sandbox's page: what the test card asks for happens now. */
  async submitCard(id: string, card: CardInput): Promise<PageStep> {
    const now = this.clock.now()
    const behaviour: Behaviour | undefined = TEST_CARDS[card.number]
    if (!behaviour) {
      return {
        kind: 'error',
        message: 'This is the sandbox: use one of its test cards listed below. Real cards are never charged.',
      }
    }
    return this.db.transaction().execute(async (tx): Promise<PageStep> => {
      const session = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst()
      if (!session) return { kind: 'error', message: 'This payment page does not exist.' }
      if (session.status !== 'open') return { kind: 'redirect', url: session.return_url }
      if (session.expires_at.getTime() <= now.getTime()) {
        await this.finish(tx, session, { status: 'expired' }, now, 'checkout.session.expired')
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
        await this.finish(
          tx,
          session,
          { ...cardColumns, status: 'failed', failure_code: decline.code, failure_message: decline.message },
          now,
          'checkout.session.failed',
        )
        return { kind: 'redirect', url: session.return_url }
      }
      if (behaviour === 'three_d_secure') {
        await this.finish(
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
        await this.finish(
          tx,
          session,
          { ...cardColumns, status: 'processing', settles_at: new Date(now.getTime() + PROCESSING_MS) },
          now,
          'checkout.session.processing',
        )
        return { kind: 'redirect', url: session.return_url }
      }
      await this.complete(tx, { ...session, ...cardColumns }, now)
      return { kind: 'redirect', url: session.return_url }
    })
  }

  /** The answer to the 3-D Secure step of the sandbox's page. */
  async answerChallenge(id: string, approve: boolean): Promise<PageStep> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (tx): Promise<PageStep> => {
      const session = await tx
        .selectFrom('sandbox_sessions')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst()
      if (!session) return { kind: 'error', message: 'This payment page does not exist.' }
      if (session.status !== 'requires_action') return { kind: 'redirect', url: session.return_url }
      if (approve) await this.complete(tx, session, now)
      else
        await this.finish(
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

  // — Time passing at the provider, and its events —

  /**
   * Moves the sandbox's world forward to now: processing payments settle, refunds settle (those of card
   * 5126 fail), scheduled disputes open, and sessions past their expiry close. Each change queues its event.
   */
  async advance(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (tx) => {
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
        await this.complete(tx, session, now)
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
        await this.enqueue(tx, session.account_id, `refund.${status}`, this.refundView(refund, after), now)
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
        await this.enqueue(tx, session.account_id, 'dispute.created', this.disputeView(dispute, session), now)
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
        await this.enqueue(tx, session.account_id, 'checkout.session.expired', this.view(session), now)
        changes++
      }
      return changes
    })
  }

  /** Delivers due events to paylinks' inbox, signed; an answer other than 2xx is retried with backoff. */
  async deliverDue(limit = 50): Promise<number> {
    const deliver = this.deliver
    if (!deliver) return 0
    const now = this.clock.now()
    const due = await this.db
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
        ...this.signer(await this.signingSecret(event.account_id)).headers(event.id, body),
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
      if (!ok)
        this.logger.warn({ event: event.id, status, error }, 'sandbox event not accepted; retrying later')
      await this.db
        .updateTable('sandbox_events')
        .set({
          delivered_at: ok ? this.clock.now() : null,
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

  /** One turn of the sandbox's clock: what is due happens, and its events go out. */
  async runOnce(): Promise<number> {
    const changed = await this.advance()
    const delivered = await this.deliverDue()
    return changed + delivered
  }

  /** Runs the sandbox in the background until stopped. */
  start(intervalMs = 500): () => Promise<void> {
    let running: Promise<unknown> = Promise.resolve()
    const timer = setInterval(() => {
      running = running.then(() =>
        this.runOnce().catch((err) => this.logger.error({ err }, 'sandbox processing failed')),
      )
    }, intervalMs)
    timer.unref()
    return async () => {
      clearInterval(timer)
      await running
    }
  }

  // — Inside —

  private signer(secret: string) {
    const webhook = new Webhook(secret)
    return {
      headers: (id: string, body: string) => {
        const at = new Date()
        return {
          'webhook-id': id,
          'webhook-timestamp': String(unix(at)),
          'webhook-signature': webhook.sign(id, at, body),
        }
      },
    }
  }

  private async sessionOf(accountId: string, id: string): Promise<SandboxSessionRow> {
    const session = await this.db
      .selectFrom('sandbox_sessions')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .executeTakeFirst()
    if (!session) throw new SandboxRefusal('resource_missing', `no such session: ${id}`)
    if (session.outage_until && session.outage_until.getTime() > this.clock.now().getTime())
      throw new SandboxUnavailable('the sandbox is having a (simulated) outage; try again later')
    return session
  }

  private async complete(tx: Executor, session: SandboxSessionRow, now: Date) {
    const objectRef = session.mode === 'payment' ? `sbx_ch_${hex(12)}` : `sbx_pm_${hex(12)}`
    const done = await this.finish(
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
  private async finish(
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
    await this.enqueue(tx, updated.account_id, eventType, this.view(updated), now)
    return updated
  }

  private async enqueue(
    tx: Executor,
    accountId: string,
    type: string,
    object: SessionView | RefundView | DisputeView,
    now: Date,
  ): Promise<void> {
    const id = `sbx_evt_${hex(12)}`
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

  private view(s: SandboxSessionRow): SessionView {
    return {
      id: s.id,
      object: 'sandbox.session',
      mode: s.mode,
      reference: s.reference,
      status: s.status,
      url: `${this.publicUrl}/sandbox/checkout/${s.id}`,
      amount: s.amount === null ? null : Number(s.amount),
      currency: s.currency,
      amount_refunded: Number(s.amount_refunded),
      card:
        s.card_brand && s.card_last4 && s.card_exp_month && s.card_exp_year
          ? {
              brand: s.card_brand,
              last4: s.card_last4,
              exp_month: s.card_exp_month,
              exp_year: s.card_exp_year,
            }
          : null,
      payment: s.mode === 'payment' ? s.object_ref : null,
      payment_method: s.mode === 'setup' ? s.object_ref : null,
      failure: s.failure_code ? { code: s.failure_code, message: s.failure_message ?? s.failure_code } : null,
      expires_at: unix(s.expires_at),
    }
  }

  private refundView(
    r: { id: string; reference: string | null; amount: number; status: RefundView['status'] },
    s: SandboxSessionRow,
  ): RefundView {
    return {
      id: r.id,
      object: 'sandbox.refund',
      session: s.id,
      payment: s.object_ref,
      session_reference: s.reference,
      reference: r.reference,
      amount: Number(r.amount),
      currency: s.currency,
      status: r.status,
      failure_reason: r.status === 'failed' ? 'The bank could not return the money to this card.' : null,
    }
  }

  private disputeView(
    d: { id: string; amount: number; reason: string; status: string },
    s: SandboxSessionRow,
  ): DisputeView {
    return {
      id: d.id,
      object: 'sandbox.dispute',
      session: s.id,
      payment: s.object_ref,
      session_reference: s.reference,
      amount: Number(d.amount),
      currency: s.currency,
      reason: d.reason,
      status: d.status === 'scheduled' ? 'open' : (d.status as DisputeView['status']),
    }
  }
}
