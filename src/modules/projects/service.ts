import type { Db, Executor } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newObjectId } from '../../lib/ids.js'
import { isCurrency } from '../../lib/money.js'
import type { ProjectRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import * as repo from './repo.js'
import type { CreateProjectBody, UpdateProjectBody } from './schemas.js'

export class ProjectService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(merchantId: string, input: CreateProjectBody): Promise<ProjectRow> {
    assertCurrency('default_currency', input.default_currency)
    const now = this.clock.now()
    return repo.insertProject(this.db, {
      id: newObjectId(now),
      merchant_id: merchantId,
      name: input.name.trim(),
      default_currency: input.default_currency,
      success_url: input.success_url ?? null,
      sales_email: input.sales_email ?? null,
      created_at: now,
      updated_at: now,
    })
  }

  /** The merchant's live project, or a project_not_found error. */
  async get(merchantId: string, id: string, db: Executor = this.db): Promise<ProjectRow> {
    const project = await repo.findProject(db, merchantId, id)
    if (!project) throw notFound(id)
    return project
  }

  list(merchantId: string, offset: number, limit: number) {
    return repo.listProjects(this.db, merchantId, offset, limit)
  }

  async update(merchantId: string, id: string, input: UpdateProjectBody): Promise<ProjectRow> {
    if (input.default_currency !== undefined) assertCurrency('default_currency', input.default_currency)
    const updated = await repo.updateProject(this.db, merchantId, id, {
      ...(input.name !== undefined ? { name: input.name.trim() } : {}),
      ...(input.default_currency !== undefined ? { default_currency: input.default_currency } : {}),
      ...(input.success_url !== undefined ? { success_url: input.success_url } : {}),
      ...(input.sales_email !== undefined ? { sales_email: input.sales_email } : {}),
      updated_at: this.clock.now(),
    })
    if (!updated) throw notFound(id)
    return updated
  }

  async delete(merchantId: string, id: string): Promise<void> {
    const deleted = await this.db
      .transaction()
      .execute((tx) => repo.softDeleteProject(tx, merchantId, id, this.clock.now()))
    if (!deleted) throw notFound(id)
  }
}

function notFound(id: string): AppError {
  return new AppError('project_not_found', `project ${id} not found`, { field: 'project_id' })
}

export function assertCurrency(field: string, code: string): void {
  if (!isCurrency(code)) throw invalid(field, 'currency', `${code} is not a supported ISO 4217 currency`)
}
