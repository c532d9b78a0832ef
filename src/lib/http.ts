// TypeBox pieces shared by every route declaration: ids, the error body, pagination.
import { type Static, type TArray, type TProperties, type TSchema, type TStringOptions, Type } from 'typebox'
import { OBJECT_ID_PATTERN, PAYLINK_ID_PATTERN } from './ids.js'
import { CURRENCY_PATTERN, MAX_AMOUNT } from './money.js'

export const ObjectId = (description?: string) =>
  Type.String({
    pattern: OBJECT_ID_PATTERN,
    'x-error': 'must be a 24-character lowercase hex id',
    examples: ['5ca50e3868add4353c4815d2'],
    ...(description ? { description } : {}),
  })

export const PaylinkId = Type.String({
  pattern: PAYLINK_ID_PATTERN,
  'x-error': 'must be a 32-character lowercase hex id',
  examples: ['6d3d86a9664b4aa5b4e6df53b3c47d46'],
})

export const CurrencyCode = Type.String({
  pattern: CURRENCY_PATTERN,
  'x-error': 'must be a three-letter ISO 4217 code in capitals, e.g. USD',
  examples: ['USD'],
})

export const Amount = Type.Integer({
  minimum: 1,
  maximum: MAX_AMOUNT,
  description: "In the currency's minor units: 1999 is 19.99 USD, 1999 JPY is ¥1,999, 1999 KWD is 1.999 KWD",
})

export const Money = Type.Object({ currency: CurrencyCode, amount: Amount }, { additionalProperties: false })

export const HttpUrl = (maxLength = 2048) =>
  Type.String({
    format: 'uri',
    pattern: '^https?://',
    maxLength,
    'x-error': 'must be an absolute http:// or https:// URL',
  })

/** The plain check for an address a person typed: something@domain.tld, no spaces. */
export function isEmailAddress(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)
}

export const Email = Type.String({
  format: 'email',
  maxLength: 254,
  'x-error': 'must be a valid email address',
})

export const IsoDateTime = Type.String({ format: 'date-time' })

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'Stable machine-readable code' }),
    message: Type.String({ description: 'One sentence for people; names the field and the rule' }),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'ErrorBody', description: 'Error' },
)

/** Error responses of a route, by status: `errors(400, 401, 404)`. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('ErrorBody')]))
}

/**
 * Text that people read back (a name, a label, a message): kept without its surrounding whitespace and
 * never blank (`name: must not be blank`). An optional one is left out (or null, where allowed) to have none.
 */
export const Text = (maxLength: number, options: TStringOptions = {}) =>
  Type.String({ minLength: 1, maxLength, 'x-trim': true, ...options })

export const DEFAULT_LIMIT = 10
export const MAX_LIMIT = 100
/** Deeper pages are better reached with filters; this also keeps the value far inside PostgreSQL's bigint. */
export const MAX_OFFSET = 1_000_000

const Paging = {
  offset: Type.Optional(
    Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description: 'Items to skip' }),
  ),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Items per page' }),
  ),
}

/** The query string of a list route: its own filters and the paging every list takes. */
export function PagedQuery<P extends TProperties>(filters: P) {
  return Type.Object({ ...filters, ...Paging })
}

export const PaginationQuery = Type.Object(Paging)
export type PaginationQuery = Static<typeof PaginationQuery>

export interface Page {
  offset: number
  limit: number
}

/**
 * What every list route answers: the page the query asks for (defaults applied here, once), its rows as
 * `view` shows them under `key`, and the total. Routes add their scope (`merchant_id`, filters).
 */
export async function listPage<K extends string, R, V>(
  query: PaginationQuery,
  key: K,
  load: (page: Page) => Promise<{ rows: R[]; total: number }>,
  view: (row: R) => V,
): Promise<Page & { total: number } & { [P in K]: V[] }> {
  const page = { offset: query.offset ?? 0, limit: query.limit ?? DEFAULT_LIMIT }
  const { rows, total } = await load(page)
  return { ...page, total, ...({ [key]: rows.map(view) } as { [P in K]: V[] }) }
}

export const NoContent = Type.Null({ description: 'No content' })

/** A page of a list, as every list of the admin API answers: the scope, the paging and a total. */
export function PageOf<K extends string, T extends TSchema, S extends TProperties = Record<never, TSchema>>(
  key: K,
  item: T,
  scope?: S,
) {
  return Type.Object({
    merchant_id: ObjectId(),
    ...(scope ?? ({} as S)),
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer(),
    ...({ [key]: Type.Array(item) } as { [P in K]: TArray<T> }),
  })
}
