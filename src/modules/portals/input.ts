// How the portal payment API reads its input: as DocSpace's own server reads it (body keys in any letter
// case, counts given as strings of digits), and return URLs exactly as they were given.
import type { FastifyRequest } from 'fastify'
import { invalid } from '../../lib/errors.js'

const MAX_QUANTITY = 100_000

/**
 * A return URL exactly as the caller gave it, or a 400 naming the field. It is validated, never
 * normalised: clients find their own markers in the URL they come back to (DocSpace's web client appends
 * `?complete=true` to a URL that may have a query already and searches for it), so what they sent must
 * come back byte for byte, with only our parameters appended. Spaces, control and non-ASCII characters
 * could not travel unchanged in a Location header, so they are refused rather than encoded.
 */
export function checkReturnUrl(field: string, value: unknown): string {
  if (value === undefined || value === null || value === '') throw invalid(field, 'required', 'is required')
  if (typeof value !== 'string') throw invalid(field, 'type', 'must be a string')
  if (value.length > 2048) throw invalid(field, 'maxLength', 'must be at most 2048 characters')
  if (/[^\x21-\x7e]/.test(value)) {
    throw invalid(field, 'url', 'must not contain spaces, control characters or non-ASCII characters')
  }
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw invalid(field, 'url', 'must be an absolute http:// or https:// URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(field, 'url', `must be an absolute http:// or https:// URL, not ${parsed.protocol}`)
  }
  // `https:host/path` parses, but only as a guess at what was meant.
  if (!/^https?:\/\//i.test(value)) throw invalid(field, 'url', 'must be an absolute http:// or https:// URL')
  return value
}

/**
 * Renames a JSON body's keys to the route's own names, matched in any letter case (`BackUrl`, `backurl`
 * for `backUrl`), before validation: DocSpace's own server binds bodies case-insensitively (ASP.NET Core
 * with PropertyNameCaseInsensitive), and its clients rely on it. A name given twice is a 400.
 */
export function caseInsensitiveBody(names: string[]) {
  const canonical = new Map(names.map((name) => [name.toLowerCase(), name]))
  return async (request: FastifyRequest) => {
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return
    const renamed: Record<string, unknown> = {}
    const givenAs = new Map<string, string>()
    for (const [key, value] of Object.entries(body)) {
      const name = canonical.get(key.toLowerCase()) ?? key
      const earlier = givenAs.get(name)
      if (earlier !== undefined) {
        throw invalid(name, 'duplicate', `is given more than once, as ${earlier} and ${key}`)
      }
      givenAs.set(name, key)
      renamed[name] = value
    }
    request.body = renamed
  }
}

/** `quantity`: an object of 1 to 50 item identifiers, each with its count. */
export function readQuantities(value: unknown): (readonly [string, number])[] {
  if (value === undefined || value === null) throw invalid('quantity', 'required', 'is required')
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('quantity', 'type', 'must be an object mapping item identifiers to counts')
  }
  const given = Object.entries(value as Record<string, unknown>)
  if (given.length === 0) throw invalid('quantity', 'minProperties', 'must name at least one item')
  if (given.length > 50) throw invalid('quantity', 'maxProperties', 'must name at most 50 items')
  return given.map(([item, count]) => [item, quantityOf(item, count)] as const)
}

/**
 * A count of `quantity`: a positive whole number, also given as a string of digits (`"3"`), as DocSpace's
 * own server reads it (System.Text.Json with AllowReadingFromString).
 */
function quantityOf(item: string, raw: unknown): number {
  const field = `quantity.${item}`
  let value = raw
  if (typeof raw === 'string' && /^\d+$/.test(raw)) {
    // More digits than MAX_QUANTITY has (leading zeros aside) is over it, whatever Number() makes of them.
    const digits = raw.replace(/^0+(?=\d)/, '')
    if (digits.length > String(MAX_QUANTITY).length)
      throw invalid(field, 'maximum', `must be at most ${MAX_QUANTITY}`)
    value = Number(digits)
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid(field, 'minimum', `must be a positive whole number, not ${shown(raw)}`)
  }
  if (value > MAX_QUANTITY) throw invalid(field, 'maximum', `must be at most ${MAX_QUANTITY}`)
  return value
}

/** A value as JSON for an error message, a long string cut short. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  const json = JSON.stringify(value) ?? String(value)
  return json.length > 40 ? `${json.slice(0, 40)}…` : json
}
