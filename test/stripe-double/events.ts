// Stripe events: built as Stripe's `event` objects and POSTed to the account's webhook endpoint, signed with
// its `whsec_` secret by the `stripe` package's own `generateTestHeaderString` (the `Stripe-Signature`
// header `constructEvent` checks), retried on a non-2xx answer. Tests can hold events and release them late
// or in reverse order, send one again, and read every attempt and the answer it got.
import Stripe from 'stripe'
import { objectId } from './ids.js'
import type { Account } from './model.js'
import type { Json } from './render.js'

export interface EventRequest {
  id: string | null
  idempotency_key: string | null
}

export interface StripeEvent {
  id: string
  object: 'event'
  api_version: string
  created: number
  data: { object: Json; previous_attributes?: Json }
  livemode: boolean
  pending_webhooks: number
  request: EventRequest
  type: string
}

export interface SentEvent {
  account: string
  event: StripeEvent
}

export interface Delivery {
  eventId: string
  type: string
  attempt: number
  url: string
  /** The endpoint's HTTP status, or null when the request failed (refused, timed out). */
  status: number | null
  body: string
  error: string | null
  signature: string
  at: Date
}

export interface DeliveryOptions {
  /** Attempts per event before the double gives up (Stripe retries for days; a test cannot wait that long). */
  attempts: number
  /** The pause before the second attempt, doubled for each one after. */
  retryDelayMs: number
  /** How long an endpoint may take to answer. */
  timeoutMs: number
}

export const DEFAULT_DELIVERY: DeliveryOptions = { attempts: 4, retryDelayMs: 50, timeoutMs: 10_000 }

interface Queue {
  pending: SentEvent[]
  running: boolean
}

export class EventBus {
  readonly events: SentEvent[] = []
  readonly deliveries: Delivery[] = []
  private readonly queues = new Map<string, Queue>()
  private readonly held: SentEvent[] = []
  /** Accounts whose events are held; `*` holds every account's. */
  private readonly holding = new Set<string>()
  private readonly idleWaiters: (() => void)[] = []
  private readonly aborts = new Set<AbortController>()
  private closed = false

  constructor(
    private readonly accounts: Map<string, Account>,
    private readonly options: DeliveryOptions,
  ) {}

  emit(
    account: Account,
    livemode: boolean,
    type: string,
    object: Json,
    created: number,
    request: EventRequest | null,
    previousAttributes?: Json,
  ): StripeEvent {
    const event: StripeEvent = {
      id: objectId('evt'),
      object: 'event',
      api_version: account.apiVersion,
      created,
      data: previousAttributes ? { object, previous_attributes: previousAttributes } : { object },
      livemode,
      pending_webhooks: account.webhook && subscribed(account, type) ? 1 : 0,
      request: request ?? { id: null, idempotency_key: null },
      type,
    }
    const sent = { account: account.id, event }
    this.events.push(sent)
    this.dispatch(sent)
    return event
  }

  /** Holds events from now on (one account's, or all) until `release`. */
  hold(accountId?: string): void {
    this.holding.add(accountId ?? '*')
  }

  /** Sends the held events, in the order they happened or the reverse, and stops holding. */
  release(options: { account?: string; order?: 'original' | 'reverse' } = {}): number {
    const matching = this.held.filter((e) => !options.account || e.account === options.account)
    for (const e of matching) this.held.splice(this.held.indexOf(e), 1)
    if (options.account) this.holding.delete(options.account)
    else this.holding.clear()
    const ordered = options.order === 'reverse' ? [...matching].reverse() : matching
    for (const e of ordered) this.enqueue(e)
    return ordered.length
  }

  heldEvents(): StripeEvent[] {
    return this.held.map((e) => e.event)
  }

  /** Delivers an event once more, as Stripe may: the same event, id and body, with a fresh signature. */
  resend(eventId: string): boolean {
    const sent = this.events.find((e) => e.event.id === eventId)
    if (!sent) return false
    this.dispatch(sent)
    return true
  }

  /** Resolves once nothing is queued or being delivered (held events excepted). */
  settled(): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  close(): void {
    this.closed = true
    for (const abort of this.aborts) abort.abort()
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  private isIdle(): boolean {
    return [...this.queues.values()].every((q) => !q.running && q.pending.length === 0)
  }

  private dispatch(sent: SentEvent): void {
    if (this.holding.has('*') || this.holding.has(sent.account)) this.held.push(sent)
    else this.enqueue(sent)
  }

  private enqueue(sent: SentEvent): void {
    let queue = this.queues.get(sent.account)
    if (!queue) {
      queue = { pending: [], running: false }
      this.queues.set(sent.account, queue)
    }
    queue.pending.push(sent)
    void this.pump(queue)
  }

  // One account's events go out one at a time, in order, so that a test reads a definite sequence; held and
  // reversed releases are how tests get the disorder Stripe does not rule out.
  private async pump(queue: Queue): Promise<void> {
    if (queue.running) return
    queue.running = true
    try {
      for (let next = queue.pending.shift(); next && !this.closed; next = queue.pending.shift()) {
        await this.deliver(next)
      }
    } finally {
      queue.running = false
      if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }

  private async deliver(sent: SentEvent): Promise<void> {
    const account = this.accounts.get(sent.account)
    const endpoint = account?.webhook
    if (!account || !endpoint || !subscribed(account, sent.event.type)) return
    // Stripe sends pretty-printed JSON; receivers must verify these exact bytes.
    const payload = JSON.stringify(sent.event, null, 2)
    for (let attempt = 1; attempt <= this.options.attempts && !this.closed; attempt++) {
      const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: account.webhookSecret })
      const delivery = await this.post(endpoint.url, payload, signature)
      this.deliveries.push({ eventId: sent.event.id, type: sent.event.type, attempt, signature, ...delivery })
      if (delivery.status !== null && delivery.status >= 200 && delivery.status < 300) return
      if (attempt < this.options.attempts) {
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs * 2 ** (attempt - 1)))
      }
    }
  }

  private async post(url: string, payload: string, signature: string) {
    const abort = new AbortController()
    this.aborts.add(abort)
    const timer = setTimeout(() => abort.abort(new Error('timed out')), this.options.timeoutMs)
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signature,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
        signal: abort.signal,
      })
      const body = (await response.text()).slice(0, 2000)
      return { url, status: response.status, body, error: null, at: new Date() }
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message
      return { url, status: null, body: '', error: cause ?? (error as Error).message, at: new Date() }
    } finally {
      clearTimeout(timer)
      this.aborts.delete(abort)
    }
  }
}

function subscribed(account: Account, type: string): boolean {
  const events = account.webhook?.enabledEvents ?? []
  return events.includes('*') || events.includes(type)
}
