// Delivers webhooks from the outbox. Every server process runs one: deliveries are claimed with
// FOR UPDATE SKIP LOCKED and a lease, so any number of processes deliver each event to each endpoint
// once per attempt, and a delivery held by a process that died is picked up when its lease runs out.
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { Webhook } from 'standardwebhooks'
import type { Config } from '../../lib/config.js'
import type { Db } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { WebhookDeliveryRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { EXCERPT_BYTES, postJson, type SendResult, TIMEOUT_MS } from './http.js'

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
const LEASE_MS = TIMEOUT_MS + 45_000
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

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'webhookAllowPrivateUrls'>,
    private readonly logger: Logger,
    private readonly batchSize = 16,
  ) {}

  /** Claims the deliveries that are due and attempts each once; answers how many it attempted. */
  async runOnce(): Promise<number> {
    const now = this.clock.now()
    const lease = new Date(now.getTime() + LEASE_MS)
    const claimed = await this.db
      .updateTable('webhook_deliveries')
      .set({ leased_until: lease, updated_at: now })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((w) => w.or([w('leased_until', 'is', null), w('leased_until', '<', now)]))
          .orderBy('next_attempt_at')
          .limit(this.batchSize)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute()
    await Promise.all(claimed.map((delivery) => this.attempt(delivery, lease)))
    return claimed.length
  }

  /** Polls for due deliveries until stopped; a full batch is followed at once by the next. */
  start(intervalMs = 500): void {
    const tick = async () => {
      try {
        while ((await this.runOnce()) === this.batchSize) {}
      } catch (err) {
        this.logger.error({ err }, 'webhook dispatch failed')
      }
    }
    this.timer = setInterval(() => {
      this.running = this.running.then(tick)
    }, intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.running
  }

  private async attempt(delivery: WebhookDeliveryRow, lease: Date): Promise<void> {
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
    })
    const ok = result.status !== null && result.status >= 200 && result.status < 300
    const attempt = { number: attemptNumber, startedAt, result, ok }

    if (ok) return this.finish(delivery, lease, { status: 'succeeded', attempt })
    if (result.status === 410) {
      await this.db
        .updateTable('webhook_endpoints')
        .set({
          enabled: false,
          disabled_reason: 'the receiver answered 410 Gone',
          updated_at: this.clock.now(),
        })
        .where('id', '=', delivery.endpoint_id)
        .execute()
      return this.finish(delivery, lease, { status: 'failed', attempt })
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

  /** Records the attempt and the delivery's new state, if this worker still holds the lease. */
  private async finish(
    delivery: WebhookDeliveryRow,
    lease: Date,
    outcome: {
      status: 'pending' | 'succeeded' | 'failed'
      attempt: { number: number; startedAt: Date; result: SendResult; ok: boolean } | null
      nextAt?: Date
      reason?: string
    },
  ): Promise<void> {
    const now = this.clock.now()
    await this.db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('webhook_deliveries')
        .set({
          status: outcome.status,
          attempts: outcome.attempt ? outcome.attempt.number : delivery.attempts,
          next_attempt_at: outcome.status === 'pending' ? (outcome.nextAt ?? now) : null,
          leased_until: null,
          updated_at: now,
        })
        .where('id', '=', delivery.id)
        .where('leased_until', '=', lease)
        .returning('id')
        .executeTakeFirst()
      if (!updated) {
        this.logger.warn({ delivery: delivery.id }, 'webhook lease lost before the attempt was recorded')
      }
      const { attempt } = outcome
      await tx
        .insertInto('webhook_attempts')
        .values({
          delivery_id: delivery.id,
          attempt: attempt?.number ?? delivery.attempts,
          started_at: attempt?.startedAt ?? now,
          duration_ms: attempt?.result.durationMs ?? 0,
          response_status: attempt?.result.status ?? null,
          response_excerpt: attempt?.result.excerpt?.slice(0, EXCERPT_BYTES) ?? null,
          error: attempt ? attempt.result.error : (outcome.reason ?? null),
          succeeded: attempt?.ok ?? false,
        })
        .execute()
    })
  }
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}
