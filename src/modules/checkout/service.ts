// The buyer's side: opening a public paylink (a visit and an order), and the order as its pages show it.

import { type Insertable, sql } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Database, Db } from '../../lib/db.js'
import { GroupCommitter } from '../../lib/group-commit.js'
import { MAX_AMOUNT, sumAmounts } from '../../lib/money.js'
import type { OrderItemRow, OrderRow, VisitsTable } from '../../lib/schema.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Clock } from '../../lib/time.js'
import { type VisitFacts, type VisitSource, visitFacts } from '../analytics/visits.js'
import type { OrderDetail } from '../orders/schemas.js'
import type { OrderService } from '../orders/service.js'
import { isExpired } from '../paylinks/schemas.js'
import type { ProjectDescription, ProviderAccounts } from '../payments/accounts.js'
import { EVENTS_LEFT_OUT, type NewEvent, outboxWrites, SubscriberCache } from '../webhooks/events.js'

/** What the public paylink path needs of a link, cached briefly in process. */
interface PublicLink {
  id: string
  merchantId: string
  projectId: string
  expiresAt: Date
  defaultCurrency: string
  projectName: string
  merchantName: string
  /** Whether the project's provider account takes real money, for the orders made from the link. */
  livemode: boolean
  products: { id: string; name: string; archived: boolean; prices: Record<string, number> }[]
}

interface VisitWrite {
  visit: Insertable<VisitsTable> & VisitFacts & { visited_at: Date }
  projectId: string
  order?: { order: OrderRow; items: OrderItemRow[] }
}

export interface Storefront {
  merchantName: string
  projectName: string
}

export type OpenResult =
  | { kind: 'order'; orderId: string }
  | ({
      kind: 'preview'
      currency: string
      lines: { name: string; amount: number }[]
      total: number
    } & Storefront)
  | { kind: 'not_found' }
  | ({ kind: 'expired' } & Storefront)
  | ({ kind: 'unavailable'; reason: 'archived' | 'no_price' | 'over_max'; currency: string } & Storefront)
  | ({ kind: 'bad_currency'; currency: string } & Storefront)

export interface OrderPage extends Storefront {
  order: OrderDetail
  successUrl: string | null
  provider: ProjectDescription
}

const ORDER_ID = /^ord_[0-9a-f]{24}$/

export class CheckoutService {
  private visitorSecret: Promise<string> | undefined
  private readonly links = new LRUCache<string, PublicLink | 'none'>({ max: 10_000, ttl: 1000 })
  private readonly writer: GroupCommitter<VisitWrite>
  private readonly db: Db
  private readonly subscribers = new SubscriberCache('order.created')

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly orders: OrderService,
    private readonly accounts: ProviderAccounts,
    writes: {
      /** Batches written at once (1); each takes a connection of the pool while it is written. */
      concurrency?: number
      /** Visits waiting to be written at most; more are refused (503) until the database catches up. */
      maxQueue?: number
    } = {},
  ) {
    this.db = database.db
    this.writer = new GroupCommitter((batch) => this.writeVisits(batch), {
      maxBatch: 200,
      maxInFlight: writes.concurrency ?? 1,
      maxQueue: writes.maxQueue ?? 5000,
    })
  }

  /**
   * Records a visit of a public paylink and, when the link can be paid, creates its order in the same
   * transaction. Unknown and deleted links record nothing. A bot (a link preview, a crawler, a HEAD
   * request) gets what the link is instead of an order, and its visit is recorded as a bot's.
   */
  async openPaylink(
    paylinkId: string,
    source: VisitSource,
    options: { currency?: string | undefined; bot?: boolean } = {},
  ): Promise<OpenResult> {
    const { currency: requestedCurrency, bot = false } = options
    const link = await this.publicLink(paylinkId)
    if (!link) return { kind: 'not_found' }
    const storefront = { merchantName: link.merchantName, projectName: link.projectName }
    const now = this.clock.now()
    const facts = visitFacts(source, await this.secret(), now)
    const visit = { paylink_id: link.id, project_id: link.projectId, visited_at: now, bot, ...facts }

    const recordOnly = async <T>(result: T): Promise<T> => {
      await this.writer.submit({ visit: { ...visit, order_id: null }, projectId: link.projectId })
      return result
    }
    // Expiry is decided on every request, from the (possibly cached) expiry instant.
    if (isExpired({ expires_at: link.expiresAt }, now)) return recordOnly({ kind: 'expired', ...storefront })

    const currency = requestedCurrency ?? link.defaultCurrency
    if (link.products.some((p) => p.archived)) {
      return recordOnly({ kind: 'unavailable', reason: 'archived', currency, ...storefront })
    }
    if (link.products.some((p) => p.prices[currency] === undefined)) {
      return recordOnly(
        requestedCurrency
          ? { kind: 'bad_currency', currency, ...storefront }
          : { kind: 'unavailable', reason: 'no_price', currency, ...storefront },
      )
    }

    // Creating and updating a link refuse totals over the maximum; a later price change can still get there.
    const total = sumAmounts(link.products.map((p) => p.prices[currency] as number))
    if (total > MAX_AMOUNT) {
      return recordOnly({ kind: 'unavailable', reason: 'over_max', currency, ...storefront })
    }
    // A preview shows the link to people who have not opened it yet; an order made for it would never be paid.
    if (bot) {
      const lines = link.products.map((p) => ({ name: p.name, amount: p.prices[currency] as number }))
      return recordOnly({ kind: 'preview', currency, lines, total, ...storefront })
    }

    const { order, items } = this.orders.build(
      {
        merchantId: link.merchantId,
        projectId: link.projectId,
        currency,
        lines: link.products.map((p) => ({
          productId: p.id,
          name: p.name,
          quantity: 1,
          unitAmount: p.prices[currency] as number,
        })),
        source: { paylinkId: link.id, ...facts },
        livemode: link.livemode,
      },
      now,
    )
    // The redirect is answered only after the visit and the order are committed (group commit): an
    // acknowledged visit is never lost.
    await this.writer.submit({
      visit: { ...visit, order_id: order.id },
      projectId: link.projectId,
      order: { order, items },
    })
    return { kind: 'order', orderId: order.id }
  }

  /**
   * Writes a batch of visits, their orders and items, the orders' events and deliveries, and queues the
   * visits (bots' excepted) for the statistics counter, in one statement: one round trip, committed as
   * one, touching no row another batch shares. Columns travel as arrays, so the statement's text is the
   * same whatever the batch: it is prepared once per connection.
   *
   * The order.created events of merchants that no endpoint is known to want are not built (most
   * merchants of a busy link have none, and building them was a tenth of the work); the statement checks
   * that none does, and when one has subscribed meanwhile, it is written again with every event.
   */
  private async writeVisits(batch: VisitWrite[]): Promise<void> {
    const orders = batch.flatMap((b) => (b.order ? [b.order] : []))
    const merchants = [...new Set(orders.map((o) => o.order.merchant_id))]
    const wanted = await this.subscribers.subscribed(this.db, merchants)
    try {
      await this.writeStatement(batch, (merchantId) => wanted.has(merchantId))
    } catch (error) {
      if ((error as { code?: unknown }).code !== EVENTS_LEFT_OUT) throw error
      this.subscribers.forget(merchants)
      await this.writeStatement(batch, () => true)
    }
  }

  private async writeStatement(
    batch: VisitWrite[],
    announce: (merchantId: string) => boolean,
  ): Promise<void> {
    const orders = batch.flatMap((b) => (b.order ? [b.order.order] : []))
    const items = batch.flatMap((b) => b.order?.items ?? [])
    const visits = batch.map((b) => b.visit)
    const events: NewEvent[] = []
    const leftOut = new Set<string>()
    for (const b of batch) {
      if (!b.order) continue
      if (announce(b.order.order.merchant_id))
        events.push(this.orders.createdEvent(b.order.order, b.order.items))
      else leftOut.add(b.order.order.merchant_id)
    }
    const outbox = outboxWrites(events, { type: this.subscribers.type, merchantIds: [...leftOut] })
    const of = <R, T>(rows: R[], pick: (row: R) => T) => rows.map(pick)
    const at = (d: Date) => d.toISOString()
    // A paylink's order sets these columns; the rest (buyer, payment, portal, refunds) keep their defaults.
    const statement = sql`
      with new_orders as (
        insert into orders (id, merchant_id, project_id, paylink_id, status, currency, total_amount, utm_source,
                            utm_medium, utm_campaign, referrer_host, country, created_at, updated_at, expires_at,
                            livemode)
        select * from unnest(
          ${of(orders, (o) => o.id)}::text[], ${of(orders, (o) => o.merchant_id)}::text[],
          ${of(orders, (o) => o.project_id)}::text[], ${of(orders, (o) => o.paylink_id)}::text[],
          ${of(orders, (o) => o.status)}::text[], ${of(orders, (o) => o.currency)}::text[],
          ${of(orders, (o) => o.total_amount)}::bigint[], ${of(orders, (o) => o.utm_source)}::text[],
          ${of(orders, (o) => o.utm_medium)}::text[], ${of(orders, (o) => o.utm_campaign)}::text[],
          ${of(orders, (o) => o.referrer_host)}::text[], ${of(orders, (o) => o.country)}::text[],
          ${of(orders, (o) => at(o.created_at))}::timestamptz[], ${of(orders, (o) => at(o.updated_at))}::timestamptz[],
          ${of(orders, (o) => at(o.expires_at))}::timestamptz[], ${of(orders, (o) => o.livemode)}::boolean[])
      ),
      new_items as (
        insert into order_items (order_id, position, product_id, name, quantity, unit_amount)
        select * from unnest(
          ${of(items, (i) => i.order_id)}::text[], ${of(items, (i) => i.position)}::integer[],
          ${of(items, (i) => i.product_id)}::text[], ${of(items, (i) => i.name)}::text[],
          ${of(items, (i) => i.quantity)}::integer[], ${of(items, (i) => i.unit_amount)}::bigint[])
      ),
      new_visits as (
        insert into visits (paylink_id, project_id, visited_at, visitor_hash, utm_source, utm_medium,
                            utm_campaign, referrer_host, country, order_id, bot)
        select * from unnest(
          ${of(visits, (v) => v.paylink_id)}::text[], ${of(visits, (v) => v.project_id)}::text[],
          ${of(visits, (v) => at(v.visited_at))}::timestamptz[], ${of(visits, (v) => v.visitor_hash)}::text[],
          ${of(visits, (v) => v.utm_source)}::text[], ${of(visits, (v) => v.utm_medium)}::text[],
          ${of(visits, (v) => v.utm_campaign)}::text[], ${of(visits, (v) => v.referrer_host)}::text[],
          ${of(visits, (v) => v.country)}::text[], ${of(visits, (v) => v.order_id ?? null)}::text[],
          ${of(visits, (v) => v.bot ?? false)}::boolean[])
        returning id, visited_at, bot
      ),
      queued as (
        insert into stat_queue (visit_id, visited_at) select id, visited_at from new_visits where not bot
      ),
      ${outbox.ctes}
      select ${outbox.check}`
    await this.database.prepared(statement.compile(this.db))
  }

  /**
   * A live paylink with what its public page needs, cached in process for a second: deleting a link or
   * changing its products takes effect everywhere within that second.
   */
  private async publicLink(id: string): Promise<PublicLink | null> {
    const cached = this.links.get(id)
    if (cached !== undefined) return cached === 'none' ? null : cached
    const link = await this.loadPublicLink(id)
    this.links.set(id, link ?? 'none')
    return link
  }

  private async loadPublicLink(id: string): Promise<PublicLink | null> {
    const row = await this.db
      .selectFrom('paylinks')
      .innerJoin('projects', 'projects.id', 'paylinks.project_id')
      .innerJoin('merchants', 'merchants.id', 'paylinks.merchant_id')
      .leftJoin('provider_accounts', 'provider_accounts.id', 'projects.provider_account_id')
      .select([
        'provider_accounts.livemode',
        'paylinks.id',
        'paylinks.merchant_id',
        'paylinks.project_id',
        'paylinks.expires_at',
        'projects.default_currency',
        'projects.name as project_name',
        'merchants.name as merchant_name',
      ])
      .where('paylinks.id', '=', id)
      .where('paylinks.deleted_at', 'is', null)
      .where('projects.deleted_at', 'is', null)
      .executeTakeFirst()
    if (!row) return null
    const lines = await this.db
      .selectFrom('paylink_products')
      .innerJoin('products', 'products.id', 'paylink_products.product_id')
      .leftJoin('product_prices', 'product_prices.product_id', 'products.id')
      .select([
        'products.id',
        'products.name',
        'products.archived_at',
        'product_prices.currency',
        'product_prices.amount',
      ])
      .where('paylink_products.paylink_id', '=', id)
      .orderBy('paylink_products.position')
      .execute()
    const products: PublicLink['products'] = []
    for (const line of lines) {
      let product = products.find((p) => p.id === line.id)
      if (!product) {
        product = { id: line.id, name: line.name, archived: line.archived_at !== null, prices: {} }
        products.push(product)
      }
      if (line.currency !== null && line.amount !== null) product.prices[line.currency] = Number(line.amount)
    }
    return {
      id: row.id,
      merchantId: row.merchant_id,
      projectId: row.project_id,
      expiresAt: row.expires_at,
      defaultCurrency: row.default_currency,
      projectName: row.project_name,
      merchantName: row.merchant_name,
      livemode: row.livemode ?? false,
      products,
    }
  }

  /** The order with what its pages show; expires it first when its time is up and no payment holds it. */
  async orderPage(orderId: string): Promise<OrderPage | undefined> {
    if (!ORDER_ID.test(orderId)) return undefined
    let order = await this.orders.detail(this.db, orderId)
    if (!order) return undefined
    const now = this.clock.now()
    if (order.status === 'created' && order.expires_at.getTime() <= now.getTime()) {
      // Only this order: sweeping everyone's due orders is the sweeper's work, not a page view's.
      await this.db.transaction().execute((tx) => this.orders.expireOrder(tx, orderId, now))
      order = (await this.orders.detail(this.db, orderId)) as OrderDetail
    }
    const names = await this.db
      .selectFrom('projects')
      .innerJoin('merchants', 'merchants.id', 'projects.merchant_id')
      .select(['projects.name as project_name', 'projects.success_url', 'merchants.name as merchant_name'])
      .where('projects.id', '=', order.project_id)
      .executeTakeFirstOrThrow()
    return {
      order,
      merchantName: names.merchant_name,
      projectName: names.project_name,
      successUrl: names.success_url,
      provider: await this.accounts.describeProject(order.project_id),
    }
  }

  private secret(): Promise<string> {
    this.visitorSecret ??= installationSecret(this.db, 'visitor')
    return this.visitorSecret
  }
}
