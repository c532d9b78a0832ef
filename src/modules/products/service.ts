import type { Db, Executor } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import type { Page } from '../../lib/http.js'
import { newObjectId } from '../../lib/ids.js'
import { isUniqueViolation } from '../../lib/pg-errors.js'
import type { Clock } from '../../lib/time.js'
import type { ProjectService } from '../projects/service.js'
import { assertCurrency } from '../projects/service.js'
import * as repo from './repo.js'
import type {
  CreateProductBody,
  ListProductsQuery,
  Price,
  ProductWithPrices,
  UpdateProductBody,
} from './schemas.js'

export class ProductService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly projects: ProjectService,
  ) {}

  async create(merchantId: string, input: CreateProductBody): Promise<ProductWithPrices> {
    checkPrices(input.prices)
    return this.db.transaction().execute(async (tx) => {
      const project = await this.projects.get(merchantId, input.project_id, tx)
      if (input.sku !== undefined) await this.assertSkuFree(tx, project.id, input.sku)
      const now = this.clock.now()
      return this.translateSkuConflict(input.sku, () =>
        repo.insertProduct(
          tx,
          {
            id: newObjectId(now),
            merchant_id: merchantId,
            project_id: project.id,
            name: input.name.trim(),
            description: input.description ?? null,
            sku: input.sku ?? null,
            created_at: now,
            updated_at: now,
          },
          input.prices,
        ),
      )
    })
  }

  async get(merchantId: string, id: string): Promise<ProductWithPrices> {
    const product = await repo.findProduct(this.db, merchantId, id)
    if (!product) throw notFound(id)
    return product
  }

  list(merchantId: string, query: ListProductsQuery & Page) {
    return repo.listProducts(this.db, merchantId, {
      projectId: query.project_id,
      includeArchived: query.include_archived ?? false,
      offset: query.offset,
      limit: query.limit,
    })
  }

  async update(merchantId: string, id: string, input: UpdateProductBody): Promise<ProductWithPrices> {
    if (input.prices) checkPrices(input.prices)
    return this.db.transaction().execute(async (tx) => {
      const current = await repo.lockProduct(tx, merchantId, id)
      if (!current) throw notFound(id)
      const now = this.clock.now()
      const archivedAt =
        input.archived === undefined
          ? current.archived_at
          : input.archived
            ? (current.archived_at ?? now)
            : null
      const sku = input.sku === undefined ? current.sku : input.sku
      // A SKU must be free among live products whenever this product is (or becomes) live with it.
      if (sku !== null && archivedAt === null && (sku !== current.sku || current.archived_at !== null)) {
        await this.assertSkuFree(tx, current.project_id, sku, id)
      }
      return this.translateSkuConflict(sku ?? undefined, async () => {
        await repo.updateProductRow(tx, id, {
          ...(input.name !== undefined ? { name: input.name.trim() } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          sku,
          archived_at: archivedAt,
          updated_at: now,
        })
        if (input.prices) await repo.replacePrices(tx, id, input.prices)
        const updated = await repo.findProduct(tx, merchantId, id)
        if (!updated) throw notFound(id)
        return updated
      })
    })
  }

  /** Deletes the product, or archives it when a paylink or an order refers to it. */
  async delete(merchantId: string, id: string): Promise<'deleted' | 'archived'> {
    return this.db.transaction().execute(async (tx) => {
      const current = await repo.lockProduct(tx, merchantId, id)
      if (!current) throw notFound(id)
      if (await repo.isReferenced(tx, id)) {
        const now = this.clock.now()
        await repo.updateProductRow(tx, id, { archived_at: current.archived_at ?? now, updated_at: now })
        return 'archived'
      }
      await repo.deleteProduct(tx, id)
      return 'deleted'
    })
  }

  private async assertSkuFree(
    db: Executor,
    projectId: string,
    sku: string,
    exceptId?: string,
  ): Promise<void> {
    if (await repo.skuTaken(db, projectId, sku, exceptId)) throw skuTaken(sku)
  }

  /** The unique index settles a race between two writers of the same SKU; report it like the check does. */
  private async translateSkuConflict<T>(sku: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      if (sku !== undefined && isUniqueViolation(error, 'products_project_sku_key')) throw skuTaken(sku)
      throw error
    }
  }
}

function notFound(id: string): AppError {
  return new AppError('product_not_found', `product ${id} not found`, { field: 'product_id' })
}

function skuTaken(sku: string): AppError {
  return new AppError('sku_taken', `sku: ${sku} is already used by another product of this project`, {
    field: 'sku',
    rule: 'unique',
  })
}

function checkPrices(prices: Price[]): void {
  const seen = new Set<string>()
  prices.forEach((price, i) => {
    assertCurrency(`prices[${i}].currency`, price.currency)
    if (seen.has(price.currency)) {
      throw invalid(
        `prices[${i}].currency`,
        'unique',
        `${price.currency} appears twice; a product has one price per currency`,
      )
    }
    seen.add(price.currency)
  })
}
