// Webhook endpoints of a merchant, their secrets, and the record of their deliveries.
import type { Config } from '../../lib/config.js'
import { type Db, pageWithTotal } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import type { WebhookEndpointRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { newWebhookSecret } from './dispatcher.js'
import { ALL_EVENTS, EVENT_TYPES } from './events.js'
import { checkWebhookUrl } from './http.js'

/** After a rotation the previous secret keeps signing this long, so receivers can switch over. */
export const ROTATION_GRACE_MS = 24 * 3_600_000

export interface EndpointInput {
  url?: string | undefined
  events?: string[] | undefined
  description?: string | null | undefined
  enabled?: boolean | undefined
}

export class WebhookService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'webhookAllowPrivateUrls'>,
  ) {}

  private async checkInput(input: EndpointInput): Promise<void> {
    if (input.url !== undefined) {
      const problem = await checkWebhookUrl(input.url, this.config.webhookAllowPrivateUrls)
      if (problem) throw invalid('url', 'url', problem)
    }
    input.events?.forEach((type, i) => {
      if (type !== ALL_EVENTS && !(EVENT_TYPES as readonly string[]).includes(type)) {
        throw invalid(
          `events[${i}]`,
          'enum',
          `${type} is not an event type; use one of ${EVENT_TYPES.join(', ')} or *`,
        )
      }
    })
  }

  async create(merchantId: string, input: Required<Pick<EndpointInput, 'url' | 'events'>> & EndpointInput) {
    await this.checkInput(input)
    const now = this.clock.now()
    return this.db
      .insertInto('webhook_endpoints')
      .values({
        id: newPrefixedId('we'),
        merchant_id: merchantId,
        url: input.url,
        description: input.description ?? null,
        events: input.events,
        secret: newWebhookSecret(),
        previous_secret: null,
        previous_secret_expires_at: null,
        disabled_reason: null,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  list(merchantId: string): Promise<WebhookEndpointRow[]> {
    return this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute()
  }

  async get(merchantId: string, id: string): Promise<WebhookEndpointRow> {
    const row = await this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', id)
      .where('merchant_id', '=', merchantId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst()
    if (!row) throw new AppError('webhook_not_found')
    return row
  }

  async update(merchantId: string, id: string, input: EndpointInput): Promise<WebhookEndpointRow> {
    await this.get(merchantId, id)
    await this.checkInput(input)
    return this.db
      .updateTable('webhook_endpoints')
      .set({
        ...(input.url !== undefined ? { url: input.url } : {}),
        ...(input.events !== undefined ? { events: input.events } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.enabled !== undefined
          ? { enabled: input.enabled, disabled_reason: input.enabled ? null : 'disabled by the merchant' }
          : {}),
        updated_at: this.clock.now(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  async delete(merchantId: string, id: string): Promise<void> {
    await this.get(merchantId, id)
    const now = this.clock.now()
    await this.db
      .updateTable('webhook_endpoints')
      .set({ deleted_at: now, updated_at: now })
      .where('id', '=', id)
      .execute()
  }

  /** A new secret; the previous one keeps signing alongside it for the grace period. */
  async rotateSecret(merchantId: string, id: string): Promise<WebhookEndpointRow> {
    const current = await this.get(merchantId, id)
    const now = this.clock.now()
    return this.db
      .updateTable('webhook_endpoints')
      .set({
        secret: newWebhookSecret(),
        previous_secret: current.secret,
        previous_secret_expires_at: new Date(now.getTime() + ROTATION_GRACE_MS),
        updated_at: now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  async deliveries(
    merchantId: string,
    endpointId: string,
    filter: { status?: string; offset: number; limit: number },
  ) {
    await this.get(merchantId, endpointId)
    let base = this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('events as e', 'e.id', 'd.event_id')
      .where('d.endpoint_id', '=', endpointId)
    if (filter.status) base = base.where('d.status', '=', filter.status as 'pending')
    const { rows, total } = await pageWithTotal(base, (q) =>
      q
        .selectAll('d')
        .select(['e.type as event_type'])
        .orderBy('d.created_at', 'desc')
        .orderBy('d.id', 'desc')
        .offset(filter.offset)
        .limit(filter.limit)
        .execute(),
    )
    const attempts =
      rows.length === 0
        ? []
        : await this.db
            .selectFrom('webhook_attempts')
            .selectAll()
            .where(
              'delivery_id',
              'in',
              rows.map((r) => r.id),
            )
            .orderBy('id')
            .execute()
    return {
      total,
      rows: rows.map((r) => ({ ...r, attempt_log: attempts.filter((a) => a.delivery_id === r.id) })),
    }
  }

  /** Sends a delivery again by hand: it gets a fresh schedule starting now. */
  async resend(merchantId: string, endpointId: string, deliveryId: string) {
    const endpoint = await this.get(merchantId, endpointId)
    if (!endpoint.enabled) {
      throw new AppError('conflict', 'the endpoint is disabled: enable it before resending', {
        field: 'enabled',
      })
    }
    const now = this.clock.now()
    const row = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, leased_until: null, updated_at: now })
      .where('id', '=', deliveryId)
      .where('endpoint_id', '=', endpointId)
      .where('status', '!=', 'pending')
      .returning('id')
      .executeTakeFirst()
    if (row) return
    const exists = await this.db
      .selectFrom('webhook_deliveries')
      .select('status')
      .where('id', '=', deliveryId)
      .where('endpoint_id', '=', endpointId)
      .executeTakeFirst()
    if (!exists) throw new AppError('delivery_not_found')
    throw new AppError('conflict', 'the delivery is already waiting for its next attempt', {
      field: 'status',
    })
  }
}
