import { type Static, Type } from 'typebox'
import {
  CurrencyCode,
  Email,
  errors,
  HttpUrl,
  IsoDateTime,
  ObjectId,
  PageOf,
  PaginationQuery,
  Text,
} from '../../lib/http.js'
import type { ProjectRow } from '../../lib/schema.js'

const Name = Text(200)

export const Project = Type.Object(
  {
    id: ObjectId(),
    object: Type.Literal('project'),
    merchant_id: ObjectId(),
    name: Type.String(),
    default_currency: Type.String({ description: 'ISO 4217 code of the currency buyers pay in by default' }),
    success_url: Type.Union([Type.String(), Type.Null()], { description: 'Where buyers go after paying' }),
    sales_email: Type.Union([Type.String(), Type.Null()], { description: 'Where sales requests are mailed' }),
    created_at: IsoDateTime,
    updated_at: IsoDateTime,
  },
  { $id: 'Project' },
)
export type Project = Static<typeof Project>

export const CreateProjectBody = Type.Object(
  {
    name: Name,
    default_currency: CurrencyCode,
    success_url: Type.Optional(HttpUrl()),
    sales_email: Type.Optional(Email),
  },
  { additionalProperties: false },
)
export type CreateProjectBody = Static<typeof CreateProjectBody>

export const UpdateProjectBody = Type.Object(
  {
    name: Type.Optional(Name),
    default_currency: Type.Optional(CurrencyCode),
    success_url: Type.Optional(Type.Union([HttpUrl(), Type.Null()])),
    sales_email: Type.Optional(Type.Union([Email, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type UpdateProjectBody = Static<typeof UpdateProjectBody>

export const ProjectParams = Type.Object({ project_id: ObjectId() })

export const ProjectList = PageOf('projects', Type.Ref('Project'))

export { errors, PaginationQuery }

export function projectView(row: ProjectRow): Project {
  return {
    id: row.id,
    object: 'project',
    merchant_id: row.merchant_id,
    name: row.name,
    default_currency: row.default_currency,
    success_url: row.success_url,
    sales_email: row.sales_email,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}
