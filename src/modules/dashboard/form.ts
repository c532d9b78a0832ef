// Reading the dashboard's urlencoded forms, and turning an API refusal into what a form shows.
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
