// Reading the dashboard's urlencoded forms and list queries, and turning an API refusal into what a
// form shows.
import { type ApiError, fieldErrors } from './api.js'

/** A parsed form body: a repeated field arrives as a list. */
export type Form = Record<string, string | string[] | undefined>

/** A form field as one trimmed string ('' when absent). */
export function one(form: Form | undefined, name: string): string {
  const value = form?.[name]
  return (Array.isArray(value) ? (value[0] ?? '') : (value ?? '')).trim()
}

/** A repeated form field as a list. */
export function many(form: Form | undefined, name: string): string[] {
  const value = form?.[name]
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

/** The API's refusal as the form shows it: the message beside its field, and as the page's alert. */
export function failed(error: ApiError) {
  return { errors: fieldErrors(error), alert: error.message }
}

/** Rows of a table people page through. */
export const PAGE_SIZE = 25

/** Pagination links of a list: the offsets of the previous and next pages, when there are any. */
export function pager(total: number, offset: number, limit = PAGE_SIZE) {
  return {
    total,
    from: total ? offset + 1 : 0,
    to: Math.min(offset + limit, total),
    prev: offset > 0 ? Math.max(0, offset - limit) : undefined,
    next: offset + limit < total ? offset + limit : undefined,
  }
}

/** A page's offset from the query: a whole number, else the first page. */
export const offsetOf = (value: string | undefined) => {
  const n = Number(value)
  return Number.isInteger(n) && n >= 0 && n <= 1_000_000 ? n : 0
}
