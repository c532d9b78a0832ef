// A local stand-in for the parts of Stripe's API a Checkout Sessions integration uses, for tests and for
// running paylinks without the internet. `startStripeDouble()` serves it on loopback; the returned object
// plays Stripe's side (the buyer, Stripe's dashboard, the card networks, the clock) and injects faults.
// The same controls are served over HTTP under `/_double/` (control.ts) for other processes.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { STRIPE_API_VERSION } from '../../src/lib/stripe-version.js'
import { Api, type ApiRequestLog, type Fault, type FaultSpec } from './api.js'
import { handleControl } from './control.js'
import {
  DEFAULT_DELIVERY,
  type Delivery,
  type DeliveryOptions,
  EventBus,
  type StripeEvent,
} from './events.js'
import { objectId, randomToken } from './ids.js'
import type { Account, ChargeRecord } from './model.js'
import { Store } from './model.js'
import { HostedPages } from './page.js'
import { type CardEntry, DoubleError, Payments, type PayResult } from './payments.js'
import { type Json, type RenderContext, render } from './render.js'

export type { ApiRequestLog, Delivery, Fault, FaultSpec, PayResult, StripeEvent }
export { DoubleError }

export interface StripeDoubleOptions {
  /** 0 (the default) picks a free port. */
  port?: number
  host?: string
  /** Base of the hosted page URLs, when the double is reached by another name than its address. */
  publicUrl?: string
  /** The API version accounts default to: paylinks' STRIPE_API_VERSION, the `stripe` package's pinned one. */
  apiVersion?: string
  /**
   * After how many milliseconds Stripe's later steps happen by themselves: a bank debit settling, a refund of
   * 4000 0000 0000 5126 failing, the dispute of 4000 0000 0000 0259 opening. `null` (the default): only
   * when a test calls `runScheduled()`, so that tests decide the moment.
   */
  scheduledDelayMs?: number | null
  /** How often sessions past their `expires_at` are expired, as Stripe does (ms). */
  sweepIntervalMs?: number
  delivery?: Partial<DeliveryOptions>
}

export interface AccountSpec {
  id?: string
  secretKey?: string
  liveSecretKey?: string
  restrictedKey?: string
  liveRestrictedKey?: string
  webhookUrl?: string | null
  webhookSecret?: string
  /** Event types sent to the webhook endpoint; all (`*`) by default. */
  enabledEvents?: string[]
  displayName?: string
  email?: string
  country?: string
  defaultCurrency?: string
  apiVersion?: string
}

export interface DoubleAccount {
  id: string
  secretKey: string
  liveSecretKey: string
  restrictedKey: string
  liveRestrictedKey: string
  webhookSecret: string
  webhookUrl: string | null
}

/** Which charge a dashboard refund or a dispute is about: by its PaymentIntent or itself. */
export interface ChargeRef {
  paymentIntent?: string
  charge?: string
}

export class StripeDouble {
  readonly store = new Store()
  readonly bus: EventBus
  readonly payments: Payments
  readonly api: Api
  readonly pages: HostedPages
  private readonly ctx: RenderContext
  private readonly server: http.Server
  private readonly apiVersion: string
  private sweeper: NodeJS.Timeout | null = null
  url = ''
  host = ''
  port = 0

  constructor(private readonly options: StripeDoubleOptions = {}) {
    this.apiVersion = options.apiVersion ?? STRIPE_API_VERSION
    this.ctx = { store: this.store, publicUrl: '' }
    this.bus = new EventBus(this.store.accounts, { ...DEFAULT_DELIVERY, ...options.delivery })
    this.payments = new Payments(this.store, this.bus, this.ctx, options.scheduledDelayMs ?? null)
    this.api = new Api(this.store, this.payments, this.ctx)
    this.pages = new HostedPages(this.store, this.payments)
    this.server = http.createServer((req, res) => {
      this.dispatch(req, res).catch((error) => {
        console.error('stripe double: request failed', error)
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { type: 'api_error', message: 'An unknown error occurred' } }))
      })
    })
  }

  async listen(): Promise<this> {
    const host = this.options.host ?? '127.0.0.1'
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.options.port ?? 0, host, () => resolve())
    })
    this.host = host
    this.port = (this.server.address() as AddressInfo).port
    this.url = `http://${host}:${this.port}`
    this.ctx.publicUrl = (this.options.publicUrl ?? this.url).replace(/\/$/, '')
    this.sweeper = setInterval(() => this.payments.sweep(), this.options.sweepIntervalMs ?? 1000)
    this.sweeper.unref()
    return this
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper)
    this.payments.close()
    this.bus.close()
    this.api.close()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** The `stripe` client's options that point it at the double. */
  clientOptions(): { host: string; port: number; protocol: 'http' } {
    return { host: this.host, port: this.port, protocol: 'http' }
  }

  // ——— accounts ———

  createAccount(spec: AccountSpec = {}): DoubleAccount {
    const id = spec.id ?? objectId('acct', 16)
    if (this.store.accounts.has(id)) throw new DoubleError(`account ${id} exists already`)
    const keys = {
      secretKey: spec.secretKey ?? `sk_test_${randomToken(99)}`,
      liveSecretKey: spec.liveSecretKey ?? `sk_live_${randomToken(99)}`,
      restrictedKey: spec.restrictedKey ?? `rk_test_${randomToken(99)}`,
      liveRestrictedKey: spec.liveRestrictedKey ?? `rk_live_${randomToken(99)}`,
    }
    const prefixes = {
      secretKey: 'sk_test_',
      liveSecretKey: 'sk_live_',
      restrictedKey: 'rk_test_',
      liveRestrictedKey: 'rk_live_',
    }
    for (const [name, prefix] of Object.entries(prefixes)) {
      const key = keys[name as keyof typeof keys]
      if (!key.startsWith(prefix) || key.length < prefix.length + 8) {
        throw new DoubleError(`${name} must be ${prefix} and at least 8 more characters`, 400)
      }
      if (this.store.accountByKey(key))
        throw new DoubleError(`the ${name} given belongs to another account`, 400)
    }
    const webhookSecret = spec.webhookSecret ?? `whsec_${randomToken(32)}`
    if (!webhookSecret.startsWith('whsec_'))
      throw new DoubleError('webhookSecret must start with whsec_', 400)
    this.store.accounts.set(id, {
      id,
      created: this.store.now(),
      country: spec.country ?? 'US',
      defaultCurrency: spec.defaultCurrency ?? 'usd',
      displayName: spec.displayName ?? 'Stripe double shop',
      email: spec.email ?? 'merchant@example.com',
      apiVersion: spec.apiVersion ?? this.apiVersion,
      keys: [
        { key: keys.secretKey, mode: 'test' },
        { key: keys.liveSecretKey, mode: 'live' },
        { key: keys.restrictedKey, mode: 'test' },
        { key: keys.liveRestrictedKey, mode: 'live' },
      ],
      webhookSecret,
      webhook: spec.webhookUrl ? { url: spec.webhookUrl, enabledEvents: spec.enabledEvents ?? ['*'] } : null,
    })
    return { id, ...keys, webhookSecret, webhookUrl: spec.webhookUrl ?? null }
  }

  /** Points the account's webhook endpoint somewhere else (null: no endpoint); the secret stays. */
  setWebhook(accountId: string, url: string | null, enabledEvents: string[] = ['*']): void {
    this.account(accountId).webhook = url ? { url, enabledEvents } : null
  }

  /** Takes a key away, as rolling it in Stripe's dashboard does: requests with it get 401 from now on. */
  revokeKey(key: string): void {
    for (const account of this.store.accounts.values())
      account.keys = account.keys.filter((k) => k.key !== key)
  }

  private account(id: string): Account {
    const account = this.store.accounts.get(id)
    if (!account) throw new DoubleError(`no account ${id}`, 404)
    return account
  }

  // ——— looking at Stripe's side ———

  /** Any object the double holds, as the API renders it (`cs_…`, `pi_…`, `ch_…`, `re_…`, `dp_…`, …). */
  object(id: string): Json {
    const record = this.store.records.get(id)
    if (!record) throw new DoubleError(`no object ${id}`, 404)
    return render(this.ctx, record)
  }

  /** The sessions, newest first (to find the one paylinks created). */
  sessions(accountId?: string): Json[] {
    return this.store
      .all('checkout.session')
      .filter((s) => !accountId || s.account === accountId)
      .sort((a, b) => b.created - a.created)
      .map((s) => render(this.ctx, s))
  }

  // ——— the buyer ———

  /** Pays a session with a card, as the hosted page does (4242 4242 4242 4242 unless said otherwise). */
  pay(sessionId: string, entry: Partial<CardEntry> = {}): PayResult {
    return this.payments.pay(sessionId, { number: '4242424242424242', email: 'buyer@example.com', ...entry })
  }

  /** Saves a card on a `setup` session. */
  saveCard(sessionId: string, entry: Partial<CardEntry> = {}): PayResult {
    return this.payments.save(sessionId, { number: '4242424242424242', email: 'buyer@example.com', ...entry })
  }

  /** Passes or fails the 3-D Secure step of the session's pending attempt. */
  authenticate(sessionId: string, approve: boolean): PayResult {
    return this.payments.authenticate(sessionId, approve)
  }

  /** Pays by bank debit: complete but unpaid; `eventually` schedules the outcome (else `settleAsync`). */
  payAsync(sessionId: string, entry: { email?: string; eventually?: 'succeeded' | 'failed' } = {}) {
    return this.payments.payAsync(sessionId, { email: 'buyer@example.com', ...entry })
  }

  settleAsync(sessionId: string, outcome: 'succeeded' | 'failed'): void {
    this.payments.settleAsync(sessionId, outcome)
  }

  /** The buyer follows the page's cancel link: Stripe changes nothing, the buyer goes to `cancel_url`. */
  cancel(sessionId: string): string | null {
    return this.payments.get('checkout.session', sessionId).cancelUrl
  }

  // ——— Stripe itself ———

  /** Expires an open session as Stripe does once its `expires_at` passes (an event with no API request). */
  expireSession(sessionId: string): void {
    this.payments.expire(this.payments.get('checkout.session', sessionId), null)
  }

  /** Moves the double's clock forward and expires what is due; returns the sessions expired. */
  advanceClock(seconds: number): string[] {
    this.store.advanceClock(seconds)
    return this.payments.sweep()
  }

  private chargeOf(ref: ChargeRef): ChargeRecord {
    if (ref.charge) return this.payments.get('charge', ref.charge)
    if (!ref.paymentIntent) throw new DoubleError('payment_intent or charge: one of them is required', 400)
    const intent = this.payments.get('payment_intent', ref.paymentIntent)
    if (!intent.latestCharge) throw new DoubleError(`payment intent ${intent.id} has no charge`)
    return this.payments.get('charge', intent.latestCharge)
  }

  /** A refund made in Stripe's dashboard: paylinks hears of it only by events. */
  refundFromDashboard(
    ref: ChargeRef & { amount?: number; reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer' },
  ) {
    const refund = this.payments.refund({
      charge: this.chargeOf(ref),
      amount: ref.amount,
      reason: ref.reason ?? null,
      metadata: {},
      request: { id: objectId('req', 14), idempotency_key: null },
    })
    return render(this.ctx, refund)
  }

  failRefund(refundId: string): void {
    this.payments.failRefund(refundId)
  }

  completeRefund(refundId: string): void {
    this.payments.completeRefund(refundId)
  }

  openDispute(ref: ChargeRef & { reason?: string }): Json {
    return render(this.ctx, this.payments.openDispute(this.chargeOf(ref).id, ref.reason))
  }

  closeDispute(disputeId: string, outcome: 'won' | 'lost'): void {
    this.payments.closeDispute(disputeId, outcome)
  }

  /** Stripe's later steps still to come (bank debits, refund failures, disputes). */
  scheduled(): string[] {
    return this.payments.scheduled()
  }

  runScheduled(): string[] {
    return this.payments.runScheduled()
  }

  // ——— faults ———

  addFault(spec: FaultSpec): Fault {
    return this.api.addFault(spec)
  }

  /** Removes one fault, or all. */
  clearFaults(id?: string): void {
    this.api.removeFault(id)
  }

  faults(): Fault[] {
    return [...this.api.faults]
  }

  /** Drops the connections of requests a `hang` fault holds. */
  releaseHung(): number {
    return this.api.releaseHung()
  }

  // ——— events ———

  events(filter: { account?: string; type?: string } = {}): StripeEvent[] {
    return this.bus.events
      .filter(
        (e) =>
          (!filter.account || e.account === filter.account) && (!filter.type || e.event.type === filter.type),
      )
      .map((e) => e.event)
  }

  deliveries(filter: { eventId?: string; type?: string } = {}): Delivery[] {
    return this.bus.deliveries.filter(
      (d) => (!filter.eventId || d.eventId === filter.eventId) && (!filter.type || d.type === filter.type),
    )
  }

  holdEvents(accountId?: string): void {
    this.bus.hold(accountId)
  }

  releaseEvents(options: { account?: string; order?: 'original' | 'reverse' } = {}): number {
    return this.bus.release(options)
  }

  heldEvents(): StripeEvent[] {
    return this.bus.heldEvents()
  }

  resendEvent(eventId: string): void {
    if (!this.bus.resend(eventId)) throw new DoubleError(`no event ${eventId}`, 404)
  }

  /** Resolves once every event not held has been delivered or given up on. */
  eventsSettled(): Promise<void> {
    return this.bus.settled()
  }

  // ——— requests ———

  requests(filter: { account?: string; method?: string; path?: string } = {}): ApiRequestLog[] {
    return this.api.requests.filter(
      (r) =>
        (!filter.account || r.account === filter.account) &&
        (!filter.method || r.method === filter.method.toUpperCase()) &&
        (!filter.path || r.path === filter.path),
    )
  }

  clearRequests(): void {
    this.api.requests.splice(0)
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path.startsWith('/v1/')) return this.api.handle(req, res, body)
    if (path.startsWith('/_double/')) return handleControl(this, req, res, body)
    if (this.pages.handle(req, res, body)) return
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        error: {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${req.method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        },
      }),
    )
  }
}

const BODY_LIMIT = 1024 * 1024

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > BODY_LIMIT) {
        req.destroy()
        reject(new Error('request body too large'))
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

export async function startStripeDouble(options: StripeDoubleOptions = {}): Promise<StripeDouble> {
  return new StripeDouble(options).listen()
}
