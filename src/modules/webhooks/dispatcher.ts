// Delivers webhooks from the outbox. Every server process runs one: deliveries are claimed with
// FOR UPDATE SKIP LOCKED and a lease, so any number of processes deliver each event to each endpoint
// once per attempt, and a delivery held by a process that died is picked up when its lease runs out.
// Attempts run side by side in a bounded number of slots, a few at most per endpoint, so a slow
// receiver holds up only its own deliveries.
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { Webhook } from 'standardwebhooks'
import type { Config } from '../../lib/config.js'
import type { Db } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { WebhookDeliveryRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { postJson, type SendResult, storableText, TIMEOUT_MS } from './http.js'

/** Delays before attempts 2, 3, …: after that many failures the delivery has failed. */
export const RETRY_DELAYS_MS = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  20 * 3_600_000,
  24 * 3_600_000,
]
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1
const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/** Seconds or an HTTP date, as Retry-After allows; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now: Date): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (!raw) return undefined
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime())
}

/** The signatures of a message: one per live secret, so receivers on either side of a rotation verify. */
export function signatures(secrets: string[], msgId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(msgId, at, body)).join(' ')
}

export interface DispatcherOptions {
  /** Attempts in flight at once in this process. */
  concurrency?: number
  /** Attempts in flight at once to one endpoint from this process, so that one cannot take every slot. */
  perEndpoint?: number
  /** The whole of one attempt: DNS, connecting, sending, the headers and the body. */
  attemptTimeoutMs?: number
  /**
   * How long a claim holds a delivery. At least twice the attempt timeout, so an attempt always ends well
   * before its lease, with the rest left to record the outcome and to absorb clock skew between
   * instances: then no other process can claim and send the same event while an attempt is still open.
   */
  leaseMs?: number
  /** How often `start()` looks for due deliveries when no attempt finishing has made it look already. */
  pollMs?: number
}

interface Attempt {
  number: number
  startedAt: Date
  result: SendResult
  ok: boolean
}

interface Outcome {
  status: 'pending' | 'succeeded' | 'failed'
  attempt: Attempt | null
  nextAt?: Date
  reason?: string
  /** Why the endpoint is disabled along with this outcome. */
  disableEndpoint?: string
}

/**
 * A claimed delivery: its lease in clock time, and in monotonic time the latest its attempt may end,
 * one attempt timeout before the lease does.
 */
interface Claim {
  delivery: WebhookDeliveryRow
  lease: Date
  endBy: number
}

export class WebhookDispatcher {
  private readonly concurrency: number
  private readonly perEndpoint: number
  private readonly attemptTimeoutMs: number
  private readonly leaseMs: number
  private readonly pollMs: number
  private readonly inFlight = new Set<Promise<void>>()
  /** Attempts in flight per endpoint id. */
  private readonly endpointLoad = new Map<string, number>()
  /** Claims run one at a time, so two cannot both fill the same free slots. */
  private claiming: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private pumping: Promise<void> | undefined
  private pumpAgain = false
  private started = false

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'webhookAllowPrivateUrls'>,
    private readonly logger: Logger,
    options: DispatcherOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 16
    this.perEndpoint = Math.min(options.perEndpoint ?? 4, this.concurrency)
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? TIMEOUT_MS
    this.leaseMs = options.leaseMs ?? 4 * this.attemptTimeoutMs
    this.pollMs = options.pollMs ?? 500
    if (this.leaseMs < 2 * this.attemptTimeoutMs) {
      throw new Error(
        `webhook lease of ${this.leaseMs} ms must be at least twice the attempt timeout of ${this.attemptTimeoutMs} ms`,
      )
    }
  }

  /**
   * Claims due deliveries into the free slots, attempts each once and waits for them; answers how many it
   * attempted (0 when nothing was due or every slot was taken).
   */
  async runOnce(): Promise<number> {
    const attempts = await this.claimAndLaunch()
    await Promise.all(attempts)
    return attempts.length
  }

  /** Delivers in the background until stopped: a slot that frees up is filled at once. */
  start(): void {
    this.started = true
    this.timer = setInterval(() => void this.pump(), this.pollMs)
    this.timer.unref()
  }

  /** Stops claiming and waits for the attempts in flight, each bounded by the attempt timeout. */
  async stop(): Promise<void> {
    this.started = false
    if (this.timer) clearInterval(this.timer)
    await this.pumping
    await Promise.all(this.inFlight)
  }

  /** Claims until nothing more is due or the slots are full; one pump at a time, re-run if asked meanwhile. */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true
      return this.pumping
    }
    this.pumping = (async () => {
      try {
        for (;;) {
          this.pumpAgain = false
          const launched = await this.claimAndLaunch()
          if (!this.started) break
          if (launched.length === 0 && !this.pumpAgain) break
        }
      } catch (err) {
        this.logger.error({ err }, 'webhook dispatch failed')
      } finally {
        this.pumping = undefined
      }
    })()
    return this.pumping
  }

  private claimAndLaunch(): Promise<Promise<void>[]> {
    const next = this.claiming.then(async () => {
      const claims = await this.claim()
      return claims.map((claim) => this.launch(claim))
    })
    this.claiming = next.catch(() => {})
    return next
  }

  /** Leases as many due deliveries as there are free slots, at most `perEndpoint` in flight per endpoint. */
  private async claim(): Promise<Claim[]> {
    const free = this.concurrency - this.inFlight.size
    if (free <= 0) return []
    const full = [...this.endpointLoad].filter(([, n]) => n >= this.perEndpoint).map(([id]) => id)
    const now = this.clock.now()
    const lease = new Date(now.getTime() + this.leaseMs)
    const endBy = performance.now() + this.leaseMs - this.attemptTimeoutMs
    const claimed = await this.db.transaction().execute(async (tx) => {
      const due = await tx
        .selectFrom('webhook_deliveries')
        .select(['id', 'endpoint_id'])
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((w) => w.or([w('leased_until', 'is', null), w('leased_until', '<', now)]))
        .$if(full.length > 0, (q) => q.where('endpoint_id', 'not in', full))
        .orderBy('next_attempt_at')
        .limit(free)
        .forUpdate()
        .skipLocked()
        .execute()
      // One endpoint's backlog may fill the whole batch: take only what its limit leaves room for.
      const room = new Map<string, number>()
      const ids = due
        .filter((d) => {
          const left =
            room.get(d.endpoint_id) ?? this.perEndpoint - (this.endpointLoad.get(d.endpoint_id) ?? 0)
          room.set(d.endpoint_id, left - 1)
          return left > 0
        })
        .map((d) => d.id)
      if (ids.length === 0) return []
      return tx
        .updateTable('webhook_deliveries')
        .set({ leased_until: lease, updated_at: now })
        .where('id', 'in', ids)
        .returningAll()
        .execute()
    })
    return claimed.map((delivery) => ({ delivery, lease, endBy }))
  }

  /** Starts one attempt in a slot; when it ends, the slot is free and (in the background) filled again. */
  private launch(claim: Claim): Promise<void> {
    const endpointId = claim.delivery.endpoint_id
    this.endpointLoad.set(endpointId, (this.endpointLoad.get(endpointId) ?? 0) + 1)
    const running = this.attempt(claim)
      .catch((err) => {
        // The lease runs out and another attempt follows: nothing is lost.
        this.logger.error({ err, delivery: claim.delivery.id }, 'webhook attempt failed')
      })
      .finally(() => {
        this.inFlight.delete(running)
        const load = (this.endpointLoad.get(endpointId) ?? 1) - 1
        if (load > 0) this.endpointLoad.set(endpointId, load)
        else this.endpointLoad.delete(endpointId)
        if (this.started) void this.pump()
      })
    this.inFlight.add(running)
    return running
  }

  private async attempt({ delivery, lease, endBy }: Claim): Promise<void> {
    const target = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('events as e', 'e.id', 'd.event_id')
      .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
      .select([
        'e.id as event_id',
        sql<string>`e.payload::text`.as('body'),
        'w.url',
        'w.secret',
        'w.previous_secret',
        'w.previous_secret_expires_at',
        'w.enabled',
        'w.deleted_at',
      ])
      .where('d.id', '=', delivery.id)
      .executeTakeFirstOrThrow()
    const startedAt = this.clock.now()
    const attemptNumber = delivery.attempts + 1

    if (!target.enabled || target.deleted_at) {
      await this.finish(delivery, lease, {
        status: 'failed',
        attempt: null,
        reason: target.deleted_at ? 'endpoint deleted' : 'endpoint disabled',
      })
      return
    }
    // Normally the whole timeout; shorter only when the attempt starts late (a slow database), so that
    // it still ends one attempt timeout before its lease does.
    const timeoutMs = Math.min(this.attemptTimeoutMs, Math.floor(endBy - performance.now()))
    if (timeoutMs <= 0) {
      await this.release(delivery, lease)
      return
    }
    const secrets = [target.secret]
    if (
      target.previous_secret &&
      target.previous_secret_expires_at &&
      target.previous_secret_expires_at > startedAt
    ) {
      secrets.push(target.previous_secret)
    }
    const headers = {
      'webhook-id': target.event_id,
      'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
      'webhook-signature': signatures(secrets, target.event_id, startedAt, target.body),
    }
    const result = await postJson(target.url, target.body, headers, {
      allowPrivate: this.config.webhookAllowPrivateUrls,
      timeoutMs,
    })
    // A 2xx whose body the deadline cut short is no answer: the receiver may not have finished.
    const ok = result.error === null && result.status !== null && result.status >= 200 && result.status < 300
    const attempt = { number: attemptNumber, startedAt, result, ok }

    if (ok) return this.finish(delivery, lease, { status: 'succeeded', attempt })
    if (result.status === 410 && result.error === null) {
      return this.finish(delivery, lease, {
        status: 'failed',
        attempt,
        disableEndpoint: 'the receiver answered 410 Gone',
      })
    }
    if (attemptNumber >= MAX_ATTEMPTS) return this.finish(delivery, lease, { status: 'failed', attempt })
    let delay = RETRY_DELAYS_MS[attemptNumber - 1] as number
    if (result.status === 429 || result.status === 503) {
      const asked = retryAfterMs(result.headers['retry-after'], startedAt)
      if (asked !== undefined) delay = Math.min(Math.max(asked, 1000), MAX_RETRY_AFTER_MS)
    }
    return this.finish(delivery, lease, {
      status: 'pending',
      attempt,
      nextAt: new Date(startedAt.getTime() + delay),
    })
  }

  /** Gives a claimed delivery back without an attempt, for the next claim to take at once. */
  private async release(delivery: WebhookDeliveryRow, lease: Date): Promise<void> {
    this.logger.warn({ delivery: delivery.id }, 'webhook attempt not started in time to end within its lease')
    await this.db
      .updateTable('webhook_deliveries')
      .set({ leased_until: null })
      .where('id', '=', delivery.id)
      .where('leased_until', '=', lease)
      .execute()
  }

  /**
   * Records the attempt and the delivery's new state, only while this worker still holds the lease. A
   * lease that ran out is free for another worker to claim, or has been claimed already, and that worker
   * records its own attempt: recording this one as well would count an attempt twice, or put a second
   * outcome on one delivery. The attempt is then lost from the log, and its event sent again.
   */
  private async finish(delivery: WebhookDeliveryRow, lease: Date, outcome: Outcome): Promise<void> {
    const now = this.clock.now()
    await this.db.transaction().execute(async (tx) => {
      const held = await tx
        .updateTable('webhook_deliveries')
        .set({
          status: outcome.status,
          attempts: outcome.attempt ? outcome.attempt.number : delivery.attempts,
          next_attempt_at: outcome.status === 'pending' ? (outcome.nextAt ?? now) : null,
          leased_until: null,
          updated_at: now,
        })
        .where('id', '=', delivery.id)
        .where('status', '=', 'pending')
        .where('attempts', '=', delivery.attempts)
        .where('leased_until', '=', lease)
        .where('leased_until', '>', now)
        .returning('id')
        .executeTakeFirst()
      if (!held) {
        this.logger.warn({ delivery: delivery.id }, 'webhook lease lost: the attempt is not recorded')
        return
      }
      if (outcome.disableEndpoint) {
        await tx
          .updateTable('webhook_endpoints')
          .set({ enabled: false, disabled_reason: outcome.disableEndpoint, updated_at: now })
          .where('id', '=', delivery.endpoint_id)
          .execute()
      }
      const { attempt } = outcome
      const error = attempt ? attempt.result.error : (outcome.reason ?? null)
      await tx
        .insertInto('webhook_attempts')
        .values({
          delivery_id: delivery.id,
          attempt: attempt?.number ?? delivery.attempts,
          started_at: attempt?.startedAt ?? now,
          duration_ms: attempt?.result.durationMs ?? 0,
          response_status: attempt?.result.status ?? null,
          // Everything that came from the receiver is made storable here too, whoever produced it.
          response_excerpt: attempt?.result.excerpt ? storableText(attempt.result.excerpt) : null,
          error: error === null ? null : storableText(error),
          succeeded: attempt?.ok ?? false,
        })
        .execute()
    })
  }
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}
