// Paylinks: 1 to 6 products of one project with an expiry; the rules and error codes of the paylinks API.
import type { Config } from '../../lib/config.js'
import { type Db, type Executor, softDelete, type Tx } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newPaylinkId } from '../../lib/ids.js'
import { MAX_AMOUNT } from '../../lib/money.js'
import { addDays, type Clock } from '../../lib/time.js'
import { emptyFigures, lifetimeFigures, lifetimeFiguresOf } from '../analytics/service.js'
import * as productRepo from '../products/repo.js'
import type { ProjectService } from '../projects/service.js'
import { emitEvent } from '../webhooks/events.js'
import * as repo from './repo.js'
import {
  isExpired,
  MAX_PRODUCTS,
  type PaylinkBody,
  type PaylinkDetail,
  type PaylinkStat,
  type PaylinkUpdateBody,
  paylinkView,
  type UrlQuery,
} from './schemas.js'

/** UTM parameters a paylink URL carries, in the (sorted) order they appear in it. */
const UTM_KEYS = ['utm_campaign', 'utm_content', 'utm_medium', 'utm_source', 'utm_term'] as const

export class PaylinkService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'publicUrl' | 'paylinkLifeDays'>,
    private readonly projects: ProjectService,
    /** Counts queued visits before a link's lifetime figures are read. */
    private readonly counter?: { catchUp(): Promise<void> },
  ) {}

  async create(merchantId: string, body: PaylinkBody): Promise<PaylinkDetail> {
    this.checkLifeDays(body.life_days)
    return this.db.transaction().execute(async (tx) => {
      const project = await this.projects.get(merchantId, body.project_id, tx)
      await this.checkProducts(tx, merchantId, body.project_id, body.products)
      const now = this.clock.now()
      const inserted = await repo.insertPaylink(
        tx,
        {
          id: newPaylinkId(),
          merchant_id: merchantId,
          project_id: body.project_id,
          name: body.name ?? null,
          life_days: body.life_days,
          expires_at: addDays(now, body.life_days),
          created_at: now,
          updated_at: now,
        },
        body.products,
      )
      const [paylink] = await withFigures(tx, [{ ...inserted, default_currency: project.default_currency }])
      await this.announce(tx, 'paylink.created', paylink as PaylinkDetail)
      return paylink as PaylinkDetail
    })
  }

  /**
   * Replaces the products and restarts the link's life from now; the project cannot change. The body may
   * carry the link's own id (PaySuper's dashboard sends it), never another.
   */
  async update(merchantId: string, id: string, body: PaylinkUpdateBody): Promise<PaylinkDetail> {
    if (body.id !== undefined && body.id !== id) {
      throw invalid('id', 'const', `must be the id of the paylink in the path, ${id}`)
    }
    return this.db.transaction().execute(async (tx) => {
      const current = await repo.findPaylink(tx, merchantId, id, { forUpdate: true })
      if (!current) throw new AppError('pl000002')
      if (current.project_id !== body.project_id) {
        throw new AppError('pl000003', undefined, { field: 'project_id', expected: current.project_id })
      }
      this.checkLifeDays(body.life_days)
      await this.checkProducts(tx, merchantId, body.project_id, body.products)
      const now = this.clock.now()
      const row = await repo.updatePaylinkRow(tx, id, {
        life_days: body.life_days,
        expires_at: addDays(now, body.life_days),
        updated_at: now,
        ...(body.name !== undefined ? { name: body.name } : {}),
      })
      await repo.setProducts(tx, id, body.products)
      const [paylink] = await withFigures(tx, [
        { ...row, product_ids: body.products, default_currency: current.default_currency },
      ])
      await this.announce(tx, 'paylink.updated', paylink as PaylinkDetail)
      return paylink as PaylinkDetail
    })
  }

  /** A live link of the merchant without its figures, for callers that only need it to exist. */
  async find(merchantId: string, id: string): Promise<repo.PaylinkWithCurrency> {
    const paylink = await repo.findPaylink(this.db, merchantId, id)
    if (!paylink) throw new AppError('pl000002')
    return paylink
  }

  async get(merchantId: string, id: string): Promise<PaylinkDetail> {
    const paylink = await repo.findPaylink(this.db, merchantId, id)
    if (!paylink) throw new AppError('pl000002')
    return (await withFigures(this.db, [paylink]))[0] as PaylinkDetail
  }

  async delete(merchantId: string, id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const paylink = await repo.findPaylink(tx, merchantId, id, { forUpdate: true })
      if (!paylink) throw new AppError('pl000002')
      const now = this.clock.now()
      await softDelete(tx, 'paylinks', merchantId, id, now)
      const [deleted] = await withFigures(tx, [{ ...paylink, deleted_at: now, updated_at: now }])
      await this.announce(tx, 'paylink.deleted', deleted as PaylinkDetail)
    })
  }

  /** The paylink as the API shows it, written to the outbox in the transaction of the change. */
  private announce(
    tx: Tx,
    type: 'paylink.created' | 'paylink.updated' | 'paylink.deleted',
    paylink: PaylinkDetail,
  ) {
    const now = this.clock.now()
    const data = paylinkView(paylink, now, this.config.publicUrl)
    return emitEvent(tx, { merchantId: paylink.merchant_id, type, data, at: now })
  }

  /** A page of a project's links, or of all the merchant's links when no project is given. */
  async list(merchantId: string, projectId: string | undefined, offset: number, limit: number) {
    if (projectId !== undefined) await this.projects.get(merchantId, projectId)
    const { rows, total } = await repo.listPaylinks(this.db, merchantId, projectId, offset, limit)
    return { rows: await withFigures(this.db, rows), total }
  }

  async stat(merchantId: string, id: string): Promise<PaylinkStat> {
    const paylink = await this.find(merchantId, id)
    await this.counter?.catchUp()
    return lifetimeFigures(this.db, paylink.id)
  }

  /** Names of paylinks by id, deleted ones included (their statistics outlive them). */
  async names(ids: string[]): Promise<Map<string, { name: string | null; deleted: boolean }>> {
    if (ids.length === 0) return new Map()
    const rows = await this.db
      .selectFrom('paylinks')
      .select(['id', 'name', 'deleted_at'])
      .where('id', 'in', ids)
      .execute()
    return new Map(rows.map((r) => [r.id, { name: r.name, deleted: r.deleted_at !== null }]))
  }

  /** The public URL with the given UTM tags: only those given, keys sorted, each value encoded for its key. */
  async url(merchantId: string, id: string, query: UrlQuery): Promise<string> {
    const paylink = await this.get(merchantId, id)
    if (isExpired(paylink, this.clock.now())) throw new AppError('pl000001')
    const values: Partial<Record<(typeof UTM_KEYS)[number], string>> = {
      utm_campaign: query.utm_campaign ?? query.utm_campagin,
      utm_content: query.utm_content,
      utm_medium: query.utm_medium,
      utm_source: query.utm_source,
      utm_term: query.utm_term,
    }
    const pairs = UTM_KEYS.filter((key) => values[key] !== undefined).map(
      (key) => `${key}=${encodeURIComponent(values[key] as string)}`,
    )
    const base = `${this.config.publicUrl}/paylink/${paylink.id}`
    return pairs.length > 0 ? `${base}?${pairs.join('&')}` : base
  }

  private checkLifeDays(lifeDays: number): void {
    if (lifeDays <= 0) throw new AppError('pl000004', undefined, { field: 'life_days' })
    const allowed = this.config.paylinkLifeDays
    if (!allowed.includes(lifeDays))
      throw invalid('life_days', 'enum', `must be one of ${allowed.join(', ')}`)
  }

  /**
   * Every product must exist, be live and belong to the merchant and the project. Another merchant's
   * product answers pl000010 like a missing one (pl000007 would tell that the id exists elsewhere).
   */
  private async checkProducts(
    tx: Tx,
    merchantId: string,
    projectId: string,
    productIds: string[],
  ): Promise<void> {
    if (productIds.length < 1 || productIds.length > MAX_PRODUCTS) throw new AppError('pl000005')
    if (new Set(productIds).size !== productIds.length) {
      throw invalid('products', 'uniqueItems', 'must not contain duplicates')
    }
    // FOR SHARE keeps a concurrent archive or delete of these products from slipping past the check.
    const found = await productRepo.findProducts(tx, merchantId, productIds, { lock: 'share' })
    const byId = new Map(found.map((p) => [p.id, p]))
    const missing = productIds.filter((pid) => !byId.has(pid))
    if (missing.length > 0) throw new AppError('pl000010', undefined, { field: 'products', missing })
    const archived = productIds.filter((pid) => byId.get(pid)?.archived_at)
    if (archived.length > 0) {
      throw new AppError('pl000010', undefined, {
        field: 'products',
        archived,
      })
    }
    const elsewhere = productIds.filter((pid) => byId.get(pid)?.project_id !== projectId)
    if (elsewhere.length > 0)
      throw new AppError('pl000008', undefined, { field: 'products', products: elsewhere })
    checkTotals(productIds.map((pid) => byId.get(pid)?.prices ?? []))
  }
}

/** Adds each link's figures, read for all of them at once, to what its object shows. */
async function withFigures(db: Executor, rows: repo.PaylinkWithCurrency[]): Promise<PaylinkDetail[]> {
  const figures = await lifetimeFiguresOf(
    db,
    rows.map((row) => row.id),
  )
  return rows.map((row) => ({ ...row, figures: figures.get(row.id) ?? emptyFigures() }))
}

/**
 * A link is one order of one of each product: in every currency all its products are priced in, that
 * total must stay within the maximum amount, or it could never be paid. The product that brings it over
 * is named (the earliest such, then the first currency in order).
 */
function checkTotals(prices: { currency: string; amount: number }[][]): void {
  const shared = (prices[0] ?? [])
    .map((p) => p.currency)
    .filter((currency) => prices.every((list) => list.some((p) => p.currency === currency)))
    .sort()
  let worst: { index: number; currency: string } | undefined
  for (const currency of shared) {
    let total = 0
    for (const [index, list] of prices.entries()) {
      // At most 6 amounts of at most MAX_AMOUNT each: far within the safe integers.
      total += list.find((p) => p.currency === currency)?.amount ?? 0
      if (total > MAX_AMOUNT) {
        if (!worst || index < worst.index) worst = { index, currency }
        break
      }
    }
  }
  if (worst) {
    throw invalid(
      `products[${worst.index}]`,
      'maxTotal',
      `brings the link's total in ${worst.currency} over the maximum amount, ${MAX_AMOUNT} minor units`,
    )
  }
}
