// The sandbox: a simulated payment provider living beside paylinks, with its own tables, its own card
// page, its own clock-driven processing, and signed events delivered to paylinks' inbox through the same
// route a real provider posts to. Its "API" is this class's public methods; paylinks reaches it only
// through the provider adapter (./provider.ts), as it would reach any provider.
import { createHmac, randomBytes } from 'node:crypto'
import type { Db } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { SandboxSessionRow } from '../../lib/schema.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Clock } from '../../lib/time.js'
import type { CardInput } from './card.js'
import { REFUND_SETTLES_MS } from './cards.js'
import { type Deliver, deliverDue, enqueue } from './outbox.js'
import { disputeView, type RefundView, refundView, type SessionView, sessionView } from './views.js'
import { advance, answerChallenge, type PageStep, submitCard, type WorldContext } from './world.js'

export type { Deliver } from './outbox.js'
export type { DisputeView, RefundView, SandboxEvent, SessionView } from './views.js'
export type { PageStep } from './world.js'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

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

export class SandboxService {
  private key: Promise<string> | undefined
  private deliver: Deliver | undefined

  private readonly world: WorldContext

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly publicUrl: string,
    private readonly logger: Logger,
  ) {
    this.world = { db, clock, publicUrl }
  }

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
    return sessionView(session, this.publicUrl)
  }

  async retrieveSession(accountId: string, id: string): Promise<SessionView> {
    return sessionView(await this.sessionOf(accountId, id), this.publicUrl)
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
        await enqueue(
          tx,
          expired.account_id,
          'checkout.session.expired',
          sessionView(expired, this.publicUrl),
          now,
        )
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
      if (existing) return refundView(existing, locked)
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
      return refundView(refund, locked)
    })
  }

  async retrieveRefund(accountId: string, id: string): Promise<RefundView> {
    const refund = await this.db
      .selectFrom('sandbox_refunds')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!refund) throw new SandboxRefusal('resource_missing', `no such refund: ${id}`)
    return refundView(refund, await this.sessionOf(accountId, refund.session_id))
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
      await enqueue(tx, session.account_id, 'dispute.closed', disputeView(dispute, session), now)
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
  submitCard(id: string, card: CardInput): Promise<PageStep> {
    return submitCard(this.world, id, card)
  }

  /** The answer to the 3-D Secure step of the sandbox's page. */
  answerChallenge(id: string, approve: boolean): Promise<PageStep> {
    return answerChallenge(this.world, id, approve)
  }

  // — Time passing at the provider, and its events —

  /** Moves the sandbox's world forward to now (see world.ts); answers how many changes it made. */
  advance(): Promise<number> {
    return advance(this.world)
  }

  /** Delivers due events to paylinks' inbox, signed; an answer other than 2xx is retried with backoff. */
  deliverDue(limit = 50): Promise<number> {
    return deliverDue(
      {
        db: this.db,
        clock: this.clock,
        logger: this.logger,
        signingSecret: (id) => this.signingSecret(id),
        deliver: this.deliver,
      },
      limit,
    )
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
}
