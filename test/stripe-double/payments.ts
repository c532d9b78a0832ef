// What happens at Stripe between the API calls: the buyer paying on the hosted page (or a test doing it for
// them), 3-D Secure, bank debits that settle later, expiry, refunds from the API or from Stripe's dashboard,
// disputes. Each step changes the records and emits the events Stripe sends for it.
import { createHash } from 'node:crypto'
import { findTestCard, type TestCard } from './cards.js'
import { formatAmount, THREE_DECIMAL } from './currency.js'
import { type CardDecline, invalidRequest, StripeApiError } from './errors.js'
import type { EventBus, EventRequest } from './events.js'
import { objectId } from './ids.js'
import type {
  ChargeRecord,
  DisputeRecord,
  PaymentIntentRecord,
  PaymentMethodRecord,
  RecordOf,
  RefundRecord,
  SessionRecord,
  SetupIntentRecord,
  Store,
  StripeRecord,
} from './model.js'
import {
  hostedPageUrl,
  type Json,
  paymentMethodTypes,
  type RenderContext,
  render,
  sessionTotal,
} from './render.js'

/** A control operation that cannot be done in the current state (not one of Stripe's API errors). */
export class DoubleError extends Error {
  constructor(
    message: string,
    readonly status = 409,
  ) {
    super(message)
  }
}

export interface CardEntry {
  number: string
  email?: string
  name?: string
  expMonth?: number
  expYear?: number
}

export type PayResult =
  | { status: 'succeeded' | 'processing' | 'requires_action'; redirect: string }
  | { status: 'declined' | 'invalid'; message: string }

/** Shown to the buyer when 3-D Secure fails, and kept on the PaymentIntent in Stripe's words. */
const AUTHENTICATION_FAILED_BUYER =
  'We are unable to authenticate your payment method. Please choose a different payment method and try again.'
const AUTHENTICATION_FAILED =
  'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.'

interface Job {
  description: string
  run: () => void
  timer: NodeJS.Timeout | null
}

export interface RefundInput {
  charge: ChargeRecord
  amount?: number
  reason: RefundRecord['reason']
  metadata: Record<string, string>
  request: EventRequest | null
}

export class Payments {
  private readonly jobs: Job[] = []

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly ctx: RenderContext,
    /** After how long Stripe's later steps (async settlement, refund failure, dispute) happen by themselves; null: only when a test runs them. */
    private readonly scheduledDelayMs: number | null,
  ) {}

  emit(record: StripeRecord, type: string, request: EventRequest | null = null, previous?: Json): void {
    const account = this.store.accounts.get(record.account)
    if (!account) throw new Error(`no account ${record.account}`)
    this.bus.emit(
      account,
      record.livemode,
      type,
      render(this.ctx, record),
      this.store.now(),
      request,
      previous,
    )
  }

  get<T extends StripeRecord['object']>(object: T, id: string): RecordOf<T> {
    const record = this.store.records.get(id)
    if (!record || record.object !== object) throw new DoubleError(`no ${object} ${id}`, 404)
    return record as RecordOf<T>
  }

  successRedirect(session: SessionRecord): string {
    return session.successUrl.replaceAll('{CHECKOUT_SESSION_ID}', session.id)
  }

  private openSession(id: string, mode?: SessionRecord['mode']): SessionRecord {
    const session = this.get('checkout.session', id)
    if (session.status !== 'open')
      throw new DoubleError(`checkout session ${id} is ${session.status}, not open`)
    if (mode && session.mode !== mode)
      throw new DoubleError(`checkout session ${id} is in ${session.mode} mode`)
    return session
  }

  private base(session: SessionRecord) {
    return { account: session.account, livemode: session.livemode, created: this.store.now() }
  }

  private ensurePaymentIntent(session: SessionRecord): PaymentIntentRecord {
    if (session.paymentIntent) return this.get('payment_intent', session.paymentIntent)
    const data = session.paymentIntentData
    const pi = this.store.add<PaymentIntentRecord>({
      id: objectId('pi'),
      object: 'payment_intent',
      ...this.base(session),
      amount: sessionTotal(session),
      currency: session.currency ?? 'usd',
      status: 'requires_payment_method',
      metadata: { ...data.metadata },
      description: data.description,
      receiptEmail: data.receiptEmail,
      statementDescriptor: data.statementDescriptor,
      statementDescriptorSuffix: data.statementDescriptorSuffix,
      captureMethod: data.captureMethod,
      paymentMethod: null,
      paymentMethodTypes: paymentMethodTypes(session),
      latestCharge: null,
      lastPaymentError: null,
      nextActionUrl: null,
      canceledAt: null,
      cancellationReason: null,
      session: session.id,
    })
    session.paymentIntent = pi.id
    this.emit(pi, 'payment_intent.created')
    return pi
  }

  private ensureSetupIntent(session: SessionRecord): SetupIntentRecord {
    if (session.setupIntent) return this.get('setup_intent', session.setupIntent)
    const si = this.store.add<SetupIntentRecord>({
      id: objectId('seti'),
      object: 'setup_intent',
      ...this.base(session),
      status: 'requires_payment_method',
      paymentMethod: null,
      metadata: { ...session.setupIntentData.metadata },
      description: session.setupIntentData.description,
      paymentMethodTypes: paymentMethodTypes(session),
      lastSetupError: null,
      session: session.id,
    })
    session.setupIntent = si.id
    this.emit(si, 'setup_intent.created')
    return si
  }

  private cardMethod(session: SessionRecord, card: TestCard, entry: CardEntry, email: string) {
    return this.store.add<PaymentMethodRecord>({
      id: objectId('pm'),
      object: 'payment_method',
      ...this.base(session),
      type: 'card',
      card: {
        brand: card.brand,
        last4: card.number.slice(-4),
        expMonth: entry.expMonth ?? 12,
        expYear: entry.expYear ?? new Date().getUTCFullYear() + 3,
        fingerprint: createHash('sha256').update(card.number).digest('base64url').slice(0, 16),
      },
      sepaDebit: null,
      billingEmail: email,
      billingName: entry.name ?? null,
      aftermath: card.aftermath,
    })
  }

  private charge(
    pi: PaymentIntentRecord,
    pm: PaymentMethodRecord,
    status: ChargeRecord['status'],
    extra: Partial<
      Pick<ChargeRecord, 'failureCode' | 'failureMessage' | 'declineCode' | 'threeDSecure'>
    > = {},
  ): ChargeRecord {
    return this.store.add<ChargeRecord>({
      id: objectId('ch'),
      object: 'charge',
      account: pi.account,
      livemode: pi.livemode,
      created: this.store.now(),
      amount: pi.amount,
      currency: pi.currency,
      status,
      paymentIntent: pi.id,
      paymentMethod: pm.id,
      failureCode: null,
      failureMessage: null,
      declineCode: null,
      threeDSecure: false,
      billingEmail: pm.billingEmail,
      billingName: pm.billingName,
      balanceTransaction: status === 'succeeded' ? objectId('txn') : null,
      ...extra,
    })
  }

  private buyerEmail(session: SessionRecord, entry: { email?: string }): string | undefined {
    const email = entry.email?.trim() || session.customerEmail || undefined
    return email && /^[^\s@]+@[^\s@]+$/.test(email) ? email : undefined
  }

  /** The buyer pays a `payment` session with a card. */
  pay(sessionId: string, entry: CardEntry): PayResult {
    const session = this.openSession(sessionId, 'payment')
    const card = findTestCard(entry.number)
    if ('error' in card) return { status: 'invalid', message: card.error }
    const email = this.buyerEmail(session, entry)
    if (!email) return { status: 'invalid', message: 'Your email is incomplete.' }
    const pi = this.ensurePaymentIntent(session)
    const pm = this.cardMethod(session, card, entry, email)
    if (card.outcome === 'declines' && card.decline) return this.decline(pi, pm, card.decline)
    if (card.outcome === 'requires_3ds') {
      pi.status = 'requires_action'
      pi.paymentMethod = pm.id
      pi.lastPaymentError = null
      pi.nextActionUrl = `${hostedPageUrl(this.ctx, session.id)}/3ds`
      this.emit(pi, 'payment_intent.requires_action')
      return { status: 'requires_action', redirect: pi.nextActionUrl }
    }
    this.succeed(session, pi, pm, false)
    return { status: 'succeeded', redirect: this.successRedirect(session) }
  }

  private decline(pi: PaymentIntentRecord, pm: PaymentMethodRecord, decline: CardDecline): PayResult {
    const charge = this.charge(pi, pm, 'failed', {
      failureCode: decline.code,
      failureMessage: decline.message,
      declineCode: decline.decline_code ?? null,
    })
    pi.status = 'requires_payment_method'
    pi.paymentMethod = null
    pi.latestCharge = charge.id
    pi.lastPaymentError = {
      type: 'card_error',
      code: decline.code,
      declineCode: decline.decline_code ?? null,
      message: decline.message,
      charge: charge.id,
      paymentMethod: pm.id,
    }
    this.emit(charge, 'charge.failed')
    this.emit(pi, 'payment_intent.payment_failed')
    return { status: 'declined', message: decline.message }
  }

  private succeed(
    session: SessionRecord,
    pi: PaymentIntentRecord,
    pm: PaymentMethodRecord,
    threeDSecure: boolean,
  ) {
    const charge = this.charge(pi, pm, 'succeeded', { threeDSecure })
    pi.status = 'succeeded'
    pi.paymentMethod = pm.id
    pi.latestCharge = charge.id
    pi.lastPaymentError = null
    pi.nextActionUrl = null
    session.status = 'complete'
    session.paymentStatus = 'paid'
    session.customerDetails = { email: pm.billingEmail ?? '', name: pm.billingName }
    this.emit(charge, 'charge.succeeded')
    this.emit(pi, 'payment_intent.succeeded')
    this.emit(session, 'checkout.session.completed')
    if (pm.aftermath.disputeOpens) {
      this.schedule(`a dispute opens on ${charge.id}`, () => this.openDispute(charge.id))
    }
  }

  /** The buyer passes or fails the 3-D Secure challenge of a session's pending attempt. */
  authenticate(sessionId: string, approve: boolean): PayResult {
    const session = this.openSession(sessionId)
    if (session.mode === 'setup') return this.authenticateSetup(session, approve)
    const pi = session.paymentIntent ? this.get('payment_intent', session.paymentIntent) : undefined
    if (pi?.status !== 'requires_action' || !pi.paymentMethod) {
      throw new DoubleError(`checkout session ${sessionId} has no 3-D Secure step pending`)
    }
    const pm = this.get('payment_method', pi.paymentMethod)
    if (approve) {
      this.succeed(session, pi, pm, true)
      return { status: 'succeeded', redirect: this.successRedirect(session) }
    }
    pi.status = 'requires_payment_method'
    pi.lastPaymentError = {
      type: 'invalid_request_error',
      code: 'payment_intent_authentication_failure',
      declineCode: null,
      message: AUTHENTICATION_FAILED,
      charge: null,
      paymentMethod: pm.id,
    }
    pi.paymentMethod = null
    pi.nextActionUrl = null
    this.emit(pi, 'payment_intent.payment_failed')
    return { status: 'declined', message: AUTHENTICATION_FAILED_BUYER }
  }

  private authenticateSetup(session: SessionRecord, approve: boolean): PayResult {
    const si = session.setupIntent ? this.get('setup_intent', session.setupIntent) : undefined
    if (si?.status !== 'requires_action' || !si.paymentMethod) {
      throw new DoubleError(`checkout session ${session.id} has no 3-D Secure step pending`)
    }
    const pm = this.get('payment_method', si.paymentMethod)
    if (approve) {
      this.setupSucceeded(session, si, pm)
      return { status: 'succeeded', redirect: this.successRedirect(session) }
    }
    si.status = 'requires_payment_method'
    si.lastSetupError = {
      type: 'invalid_request_error',
      code: 'setup_intent_authentication_failure',
      declineCode: null,
      message:
        'The latest attempt to set up the payment method has failed because authentication failed. Provide a new payment method to attempt to set up again.',
      charge: null,
      paymentMethod: pm.id,
    }
    si.paymentMethod = null
    this.emit(si, 'setup_intent.setup_failed')
    return { status: 'declined', message: AUTHENTICATION_FAILED_BUYER }
  }

  /**
   * The buyer pays by bank debit (SEPA): the session completes with `payment_status=unpaid` and the money
   * arrives, or does not, later (`settleAsync`, run by the test or after the scheduled delay).
   */
  payAsync(sessionId: string, entry: { email?: string; name?: string; eventually?: 'succeeded' | 'failed' }) {
    const session = this.openSession(sessionId, 'payment')
    if (!paymentMethodTypes(session).includes('sepa_debit')) {
      throw new DoubleError(
        `checkout session ${sessionId} does not take sepa_debit (allowed_payment_method_types)`,
      )
    }
    const email = this.buyerEmail(session, entry)
    if (!email) return { status: 'invalid', message: 'Your email is incomplete.' } satisfies PayResult
    const pi = this.ensurePaymentIntent(session)
    const pm = this.store.add<PaymentMethodRecord>({
      id: objectId('pm'),
      object: 'payment_method',
      ...this.base(session),
      type: 'sepa_debit',
      card: null,
      sepaDebit: {
        last4: '3000',
        bankCode: '37040044',
        country: 'DE',
        fingerprint: objectId('fp', 16).slice(3),
      },
      billingEmail: email,
      billingName: entry.name ?? null,
      aftermath: { refund: 'succeeds', disputeOpens: false },
    })
    const charge = this.charge(pi, pm, 'pending')
    pi.status = 'processing'
    pi.paymentMethod = pm.id
    pi.latestCharge = charge.id
    pi.lastPaymentError = null
    session.status = 'complete'
    session.paymentStatus = 'unpaid'
    session.customerDetails = { email, name: pm.billingName }
    this.emit(pi, 'payment_intent.processing')
    this.emit(charge, 'charge.pending')
    this.emit(session, 'checkout.session.completed')
    const eventually = entry.eventually
    if (eventually) {
      this.schedule(`the bank debit of ${session.id} ${eventually}`, () =>
        this.settleAsync(session.id, eventually),
      )
    }
    return { status: 'processing', redirect: this.successRedirect(session) } satisfies PayResult
  }

  /** The bank debit of a completed, unpaid session succeeds or fails. */
  settleAsync(sessionId: string, outcome: 'succeeded' | 'failed'): void {
    const session = this.get('checkout.session', sessionId)
    const pi = session.paymentIntent ? this.get('payment_intent', session.paymentIntent) : undefined
    if (session.status !== 'complete' || session.paymentStatus !== 'unpaid' || pi?.status !== 'processing') {
      throw new DoubleError(`checkout session ${sessionId} has no asynchronous payment processing`)
    }
    const charge = this.get('charge', pi.latestCharge ?? '')
    if (outcome === 'succeeded') {
      charge.status = 'succeeded'
      charge.balanceTransaction = objectId('txn')
      pi.status = 'succeeded'
      session.paymentStatus = 'paid'
      this.emit(charge, 'charge.succeeded')
      this.emit(pi, 'payment_intent.succeeded')
      this.emit(session, 'checkout.session.async_payment_succeeded')
      return
    }
    const message = "The customer's account has insufficient funds to cover this payment."
    charge.status = 'failed'
    charge.failureCode = 'insufficient_funds'
    charge.failureMessage = message
    pi.status = 'requires_payment_method'
    pi.lastPaymentError = {
      type: 'invalid_request_error',
      code: 'insufficient_funds',
      declineCode: null,
      message,
      charge: charge.id,
      paymentMethod: pi.paymentMethod,
    }
    pi.paymentMethod = null
    this.emit(charge, 'charge.failed')
    this.emit(pi, 'payment_intent.payment_failed')
    this.emit(session, 'checkout.session.async_payment_failed')
  }

  /** The buyer saves a card on a `setup` session. */
  save(sessionId: string, entry: CardEntry): PayResult {
    const session = this.openSession(sessionId, 'setup')
    const card = findTestCard(entry.number)
    if ('error' in card) return { status: 'invalid', message: card.error }
    const email = this.buyerEmail(session, entry)
    if (!email) return { status: 'invalid', message: 'Your email is incomplete.' }
    const si = this.ensureSetupIntent(session)
    const pm = this.cardMethod(session, card, entry, email)
    if (card.outcome === 'declines' && card.decline) {
      si.status = 'requires_payment_method'
      si.paymentMethod = null
      si.lastSetupError = {
        type: 'card_error',
        code: card.decline.code,
        declineCode: card.decline.decline_code ?? null,
        message: card.decline.message,
        charge: null,
        paymentMethod: pm.id,
      }
      this.emit(si, 'setup_intent.setup_failed')
      return { status: 'declined', message: card.decline.message }
    }
    if (card.outcome === 'requires_3ds') {
      si.status = 'requires_action'
      si.paymentMethod = pm.id
      si.lastSetupError = null
      this.emit(si, 'setup_intent.requires_action')
      return { status: 'requires_action', redirect: `${hostedPageUrl(this.ctx, session.id)}/3ds` }
    }
    this.setupSucceeded(session, si, pm)
    return { status: 'succeeded', redirect: this.successRedirect(session) }
  }

  private setupSucceeded(session: SessionRecord, si: SetupIntentRecord, pm: PaymentMethodRecord): void {
    si.status = 'succeeded'
    si.paymentMethod = pm.id
    si.lastSetupError = null
    session.status = 'complete'
    session.paymentStatus = 'no_payment_required'
    session.customerDetails = { email: pm.billingEmail ?? '', name: pm.billingName }
    this.emit(si, 'setup_intent.succeeded')
    this.emit(session, 'checkout.session.completed')
  }

  /** Expires an open session, by the API or when its `expires_at` has passed. */
  expire(session: SessionRecord, request: EventRequest | null): void {
    if (session.status !== 'open') {
      throw invalidRequest(
        `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of \`${session.status}\`.`,
      )
    }
    session.status = 'expired'
    const pi = session.paymentIntent ? this.get('payment_intent', session.paymentIntent) : undefined
    if (pi && (pi.status === 'requires_payment_method' || pi.status === 'requires_action')) {
      pi.status = 'canceled'
      pi.canceledAt = this.store.now()
      pi.cancellationReason = 'abandoned'
      pi.nextActionUrl = null
      this.emit(pi, 'payment_intent.canceled', request)
    }
    const si = session.setupIntent ? this.get('setup_intent', session.setupIntent) : undefined
    if (si && (si.status === 'requires_payment_method' || si.status === 'requires_action')) {
      si.status = 'canceled'
      this.emit(si, 'setup_intent.canceled', request)
    }
    this.emit(session, 'checkout.session.expired', request)
  }

  /** Expires the open sessions whose `expires_at` has passed on the double's clock; returns their ids. */
  sweep(): string[] {
    const due = this.store
      .all('checkout.session')
      .filter((s) => s.status === 'open' && s.expiresAt <= this.store.now())
    for (const session of due) this.expire(session, null)
    return due.map((s) => s.id)
  }

  /** A refund, by the API (`POST /v1/refunds`) or from Stripe's dashboard; throws Stripe's errors. */
  refund(input: RefundInput): RefundRecord {
    const { charge } = input
    if (charge.status !== 'succeeded') {
      throw invalidRequest(`Charge ${charge.id} has not succeeded, so it cannot be refunded.`, 'charge')
    }
    if (this.store.disputesOf(charge.id).some((d) => d.status !== 'won')) {
      throw invalidRequest(
        `Charge ${charge.id} has been charged back; cannot issue a refund.`,
        undefined,
        'charge_disputed',
      )
    }
    const refunded = this.store.amountRefunded(charge.id)
    const left = charge.amount - refunded
    if (left === 0) {
      throw invalidRequest(
        `Charge ${charge.id} has already been refunded.`,
        undefined,
        'charge_already_refunded',
      )
    }
    const amount = input.amount ?? left
    if (amount > left) {
      const message =
        refunded === 0
          ? `Refund amount (${formatAmount(amount, charge.currency)}) is greater than charge amount (${formatAmount(charge.amount, charge.currency)})`
          : `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(left, charge.currency)})`
      throw invalidRequest(message, 'amount', 'amount_too_large')
    }
    if (THREE_DECIMAL.has(charge.currency) && amount % 10 !== 0) {
      throw threeDecimalError(charge.currency, 'amount')
    }
    const aftermath = this.get('payment_method', charge.paymentMethod).aftermath
    const refund = this.store.add<RefundRecord>({
      id: objectId('re'),
      object: 'refund',
      account: charge.account,
      livemode: charge.livemode,
      created: this.store.now(),
      amount,
      currency: charge.currency,
      charge: charge.id,
      paymentIntent: charge.paymentIntent,
      reason: input.reason,
      metadata: input.metadata,
      status: aftermath.refund === 'pending_then_succeeds' ? 'pending' : 'succeeded',
      failureReason: null,
      balanceTransaction: objectId('txn'),
    })
    this.emit(refund, 'refund.created', input.request)
    this.emit(charge, 'charge.refunded', input.request, {
      amount_refunded: refunded,
      refunded: false,
    })
    if (aftermath.refund === 'fails_later')
      this.schedule(`refund ${refund.id} fails`, () => this.failRefund(refund.id))
    if (aftermath.refund === 'pending_then_succeeds') {
      this.schedule(`refund ${refund.id} succeeds`, () => this.completeRefund(refund.id))
    }
    return refund
  }

  /** A refund that had gone through comes back failed (the card was closed, say). */
  failRefund(refundId: string): void {
    const refund = this.get('refund', refundId)
    if (refund.status !== 'succeeded' && refund.status !== 'pending') {
      throw new DoubleError(`refund ${refundId} is ${refund.status}`)
    }
    const previous = { status: refund.status, failure_reason: null }
    refund.status = 'failed'
    refund.failureReason = 'expired_or_canceled_card'
    this.emit(refund, 'refund.updated', null, previous)
    this.emit(refund, 'refund.failed', null, previous)
    this.emit(refund, 'charge.refund.updated', null, previous)
  }

  /** A pending refund goes through. */
  completeRefund(refundId: string): void {
    const refund = this.get('refund', refundId)
    if (refund.status !== 'pending')
      throw new DoubleError(`refund ${refundId} is ${refund.status}, not pending`)
    refund.status = 'succeeded'
    this.emit(refund, 'refund.updated', null, { status: 'pending' })
    this.emit(refund, 'charge.refund.updated', null, { status: 'pending' })
  }

  /** The cardholder disputes a charge. */
  openDispute(chargeId: string, reason = 'fraudulent'): DisputeRecord {
    const charge = this.get('charge', chargeId)
    if (charge.status !== 'succeeded') throw new DoubleError(`charge ${chargeId} is ${charge.status}`)
    if (this.store.disputesOf(chargeId).length > 0)
      throw new DoubleError(`charge ${chargeId} is disputed already`)
    const now = this.store.now()
    const dispute = this.store.add<DisputeRecord>({
      id: objectId('dp'),
      object: 'dispute',
      account: charge.account,
      livemode: charge.livemode,
      created: now,
      amount: charge.amount,
      currency: charge.currency,
      charge: charge.id,
      paymentIntent: charge.paymentIntent,
      reason,
      status: 'needs_response',
      dueBy: now + 7 * 86_400,
    })
    this.emit(dispute, 'charge.dispute.created')
    this.emit(dispute, 'charge.dispute.funds_withdrawn')
    return dispute
  }

  closeDispute(disputeId: string, outcome: 'won' | 'lost'): void {
    const dispute = this.get('dispute', disputeId)
    if (dispute.status === 'won' || dispute.status === 'lost') {
      throw new DoubleError(`dispute ${disputeId} is closed already (${dispute.status})`)
    }
    const previous = { status: dispute.status }
    dispute.status = outcome
    if (outcome === 'won') this.emit(dispute, 'charge.dispute.funds_reinstated')
    this.emit(dispute, 'charge.dispute.closed', null, previous)
  }

  private schedule(description: string, run: () => void): void {
    const job: Job = { description, run, timer: null }
    this.jobs.push(job)
    if (this.scheduledDelayMs !== null) {
      job.timer = setTimeout(() => this.runJob(job), this.scheduledDelayMs)
      job.timer.unref()
    }
  }

  private runJob(job: Job): void {
    const index = this.jobs.indexOf(job)
    if (index < 0) return
    this.jobs.splice(index, 1)
    if (job.timer) clearTimeout(job.timer)
    try {
      job.run()
    } catch (error) {
      // The state moved on meanwhile (a test settled it by hand): Stripe would not do it twice either.
      if (!(error instanceof DoubleError || error instanceof StripeApiError)) throw error
    }
  }

  /** Stripe's later steps still to come, in the order they will happen. */
  scheduled(): string[] {
    return this.jobs.map((j) => j.description)
  }

  /** Runs every later step now; returns what ran. */
  runScheduled(): string[] {
    const due = [...this.jobs]
    for (const job of due) this.runJob(job)
    return due.map((j) => j.description)
  }

  close(): void {
    for (const job of this.jobs) if (job.timer) clearTimeout(job.timer)
  }
}

export function threeDecimalError(currency: string, param: string): StripeApiError {
  return invalidRequest(
    `Invalid amount for ${currency.toUpperCase()}: amounts in three-decimal currencies must be a multiple of 10 (the last digit must be 0).`,
    param,
    'invalid_amount',
  )
}
