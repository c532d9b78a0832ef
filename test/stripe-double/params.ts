// Request parameters as Stripe's v1 API takes them: form-encoded with bracketed paths
// (`line_items[0][price_data][currency]`, `metadata[order_id]`, `expand[]`), parsed by `qs`, and read with
// Stripe's checks and messages, each naming the parameter by its full bracketed path.
import qs from 'qs'
import { invalidRequest, missingParam, notImplemented, unknownParam } from './errors.js'

export type Params = Record<string, unknown>

export function parseForm(text: string): Params {
  return qs.parse(text, {
    // Checkout takes up to 100 line items; qs would turn indices past its default limit of 20 into keys.
    arrayLimit: 1000,
    depth: 10,
    parameterLimit: 10_000,
    allowPrototypes: false,
  }) as Params
}

/** `line_items[0]` + `price_data` → `line_items[0][price_data]`. */
export function child(path: string, key: string | number): string {
  return path ? `${path}[${key}]` : String(key)
}

/**
 * Refuses a key the endpoint does not take: one Stripe does not know at all as Stripe does
 * (`parameter_unknown`), and one of Stripe's own the double does not model with a message saying so.
 */
export function checkKeys(
  params: Params,
  path: string,
  modelled: readonly string[],
  unmodelled: readonly string[] = [],
): void {
  for (const key of Object.keys(params)) {
    if (modelled.includes(key)) continue
    if (unmodelled.includes(key)) throw notImplemented(child(path, key))
    throw unknownParam(child(path, key))
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

export function readString(
  value: unknown,
  param: string,
  options: { max?: number } = {},
): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidRequest(`Invalid string: ${show(value)}`, param)
  if (options.max !== undefined && value.length > options.max) {
    throw invalidRequest(
      `Invalid string: ${value.slice(0, 20)}...; must be at most ${options.max} characters`,
      param,
      'string_length_exceeds_maximum',
    )
  }
  return value
}

export function requireString(value: unknown, param: string, options: { max?: number } = {}): string {
  const text = readString(value, param, options)
  if (text === undefined || text === '') throw missingParam(param)
  return text
}

export function readInteger(value: unknown, param: string, options: { min?: number; max?: number } = {}) {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidRequest(`Invalid integer: ${show(value)}`, param, 'parameter_invalid_integer')
  }
  const number = Number(value)
  if (options.min !== undefined && number < options.min) {
    throw invalidRequest(
      `This value must be greater than or equal to ${options.min}.`,
      param,
      'parameter_invalid_integer',
    )
  }
  if (options.max !== undefined && number > options.max) {
    throw invalidRequest(
      `This value must be less than or equal to ${options.max}.`,
      param,
      'parameter_invalid_integer',
    )
  }
  return number
}

export function requireInteger(value: unknown, param: string, options: { min?: number; max?: number } = {}) {
  if (value === undefined || value === '') throw missingParam(param)
  return readInteger(value, param, options) as number
}

export function readBoolean(value: unknown, param: string): boolean | undefined {
  if (value === undefined) return undefined
  if (value === 'true') return true
  if (value === 'false') return false
  throw invalidRequest(`Invalid boolean: ${show(value)}`, param)
}

/** `Invalid mode: must be one of payment, setup, or subscription`. */
export function readEnum<T extends string>(
  value: unknown,
  param: string,
  values: readonly T[],
): T | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T
  const name = param.replace(/^.*\[/, '').replace(/\]$/, '')
  const list = values.length > 1 ? `${values.slice(0, -1).join(', ')}, or ${values.at(-1)}` : values.join('')
  throw invalidRequest(`Invalid ${name}: must be one of ${list}`, param)
}

export function readObject(value: unknown, param: string): Params | undefined {
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest('Invalid object', param)
  }
  return value as Params
}

export function readArray(value: unknown, param: string): unknown[] | undefined {
  if (value === undefined || value === '') return undefined
  if (Array.isArray(value)) return value
  throw invalidRequest('Invalid array', param)
}

export function readStringArray(value: unknown, param: string): string[] | undefined {
  const items = readArray(value, param)
  return items?.map((item, i) => readString(item, child(param, i)) ?? '')
}

/**
 * Metadata: string values, at most 50 keys of at most 40 characters, values of at most 500; an empty value
 * leaves the key out (Stripe's way of unsetting one).
 */
export function readMetadata(value: unknown, param: string): Record<string, string> | undefined {
  const object = readObject(value, param)
  if (!object) return undefined
  const entries = Object.entries(object)
  if (entries.length > 50) {
    throw invalidRequest(
      `Invalid ${param}: metadata can have at most 50 keys, but ${entries.length} were given`,
      param,
    )
  }
  const out: Record<string, string> = {}
  for (const [key, item] of entries) {
    const itemParam = child(param, key)
    if (key.length > 40) {
      throw invalidRequest(
        `Metadata keys can be at most 40 characters long; ${key} is ${key.length}`,
        itemParam,
      )
    }
    if (typeof item !== 'string') throw invalidRequest('Metadata values must be strings', itemParam)
    if (item.length > 500) {
      throw invalidRequest(`Metadata values can be at most 500 characters long`, itemParam)
    }
    if (item !== '') out[key] = item
  }
  return out
}

export function readUrl(value: unknown, param: string): string | undefined {
  const text = readString(value, param, { max: 5000 })
  if (text === undefined) return undefined
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalidRequest('Not a valid URL', param, 'url_invalid')
  }
  return text
}

export function readEmail(value: unknown, param: string): string | undefined {
  const text = readString(value, param, { max: 800 })
  if (text === undefined) return undefined
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text)) {
    throw invalidRequest(`Invalid email address: ${text}`, param, 'email_invalid')
  }
  return text
}

/** `expand[]`: the paths to expand, each checked when the answer is built. */
export function readExpand(params: Params): string[] {
  return readStringArray(params.expand, 'expand') ?? []
}
