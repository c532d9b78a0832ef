// The dashboard is a client of the admin API, called in-process (app.inject) for the signed-in user's
// merchant. Every rule, ownership check and error message is the API's own, so a page can never do
// what the API refuses, and a form shows the same message a developer would get.
import type { FastifyInstance, HTTPMethods } from 'fastify'
import { ADMIN_PREFIX } from '../../app-prefix.js'
import type { InternalCredential } from '../merchants/auth.js'

export interface ApiError {
  code: string
  message: string
  details?: { field?: string; rule?: string; location?: string }
}

export type ApiResult<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: ApiError }

/** A GET that found nothing the user may see: the page answers 404. */
export class NotFoundError extends Error {}

/** An API answer the page cannot turn into a form message (a 5xx, or a 4xx on a read). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiError,
  ) {
    super(`${status} ${error.code}: ${error.message}`)
  }
}

export interface ProjectJson {
  id: string
  name: string
  default_currency: string
  success_url: string | null
  sales_email: string | null
}
export interface ProductJson {
  id: string
  project_id: string
  name: string
  description: string | null
  sku: string | null
  prices: { currency: string; amount: number }[]
  archived: boolean
}
export interface PaylinkJson {
  id: string
  project_id: string
  name: string | null
  products: string[]
  url: string
  is_expired: boolean
}
export type List<K extends string, T> = { total: number; offset: number; limit: number } & Record<K, T[]>

export type Query = Record<string, string | number | boolean | undefined | null>

export class AdminClient {
  constructor(
    private readonly app: FastifyInstance,
    private readonly credential: InternalCredential,
    private readonly merchantId: string,
    private readonly requestId: string,
  ) {}

  async call<T>(
    method: HTTPMethods,
    path: string,
    options: { query?: Query; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const response = await this.app.inject({
      method,
      url: ADMIN_PREFIX + path,
      query: compact(options.query),
      headers: {
        ...options.headers,
        ...this.credential.header(this.merchantId),
        'x-request-id': this.requestId,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
    })
    const body = response.body ? JSON.parse(response.body) : undefined
    if (response.statusCode < 400) return { ok: true, status: response.statusCode, body: body as T } as const
    if (response.statusCode >= 500) throw new ApiFailure(response.statusCode, body as ApiError)
    return { ok: false, status: response.statusCode, error: body as ApiError } as const
  }

  /**
   * A read that must succeed: 404 (or a malformed id in the path, which cannot name anything) becomes
   * the page's 404, any other failure an error page.
   */
  async get<T>(path: string, query?: Query): Promise<T> {
    const result = await this.call<T>('GET', path, { query })
    if (result.ok) return result.body
    if (result.status === 404 || result.error.details?.location === 'params') {
      throw new NotFoundError(result.error.message)
    }
    throw new ApiFailure(result.status, result.error)
  }
}

function compact(query: Query | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') out[key] = String(value)
  }
  return out
}

/** Field → message of a failed form submission, for the fields the page shows. */
export function fieldErrors(error: ApiError): Record<string, string> {
  const field = error.details?.field
  if (!field) return {}
  const message = error.message.startsWith(`${field}: `)
    ? error.message.slice(field.length + 2)
    : error.message
  // prices[1].amount → prices, so the message lands next to the field group it belongs to.
  const root = field.replace(/[[.].*$/, '')
  return { [field]: message, ...(root !== field ? { [root]: error.message } : {}) }
}

export const projectOf = (admin: AdminClient, id: string) =>
  admin.get<ProjectJson>(`/projects/${encodeURIComponent(id)}`)

/** What a read gives, or `fallback` when what it reads is not there; any other failure throws. */
export async function unlessNotFound<T, F>(read: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await read
  } catch (error) {
    if (error instanceof NotFoundError) return fallback
    throw error
  }
}

/** The project, or undefined when it was deleted since (orders and portals outlive it). */
export const projectIfAny = (admin: AdminClient, id: string) =>
  unlessNotFound(projectOf(admin, id), undefined)

/** The API's largest page. */
const API_PAGE = 100
/** What `allOf` reads at most: a select or a lookup table of more would not serve anyone. */
export const ALL_OF_MAX = 5000

/**
 * Every item of a list the API pages (up to ALL_OF_MAX), read a page at a time, for selects, pickers and
 * name lookups; a table that people page through asks for one page instead.
 */
export async function allOf<K extends string, T>(
  admin: AdminClient,
  path: string,
  key: K,
  query: Query = {},
): Promise<List<K, T>> {
  const items: T[] = []
  for (let offset = 0; ; offset += API_PAGE) {
    const page = await admin.get<List<K, T>>(path, { ...query, offset, limit: API_PAGE })
    items.push(...page[key])
    if (page[key].length < API_PAGE || items.length >= page.total || items.length >= ALL_OF_MAX) {
      return { total: page.total, offset: 0, limit: items.length, [key]: items } as List<K, T>
    }
  }
}

/** The merchant's projects, for lists and selects. */
export const listProjects = (admin: AdminClient) =>
  allOf<'projects', ProjectJson>(admin, '/projects', 'projects')
