// The error model of the admin API: services throw AppError with a stable code; one handler turns any
// error into `{code, message, details}` with the code's HTTP status.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isConnectionError } from './pg-errors.js'

const STATUS = {
  // Paylink codes, fixed by the paylinks API this server is wire-compatible with.
  pl000001: 410,
  pl000002: 404,
  pl000003: 400,
  pl000004: 400,
  pl000005: 400,
  pl000007: 400,
  pl000008: 400,
  pl000010: 404,
  validation_failed: 400,
  invalid_body: 400,
  invalid_signature: 400,
  unauthorized: 401,
  forbidden: 403,
  route_not_found: 404,
  merchant_not_found: 404,
  project_not_found: 404,
  product_not_found: 404,
  api_key_not_found: 404,
  order_not_found: 404,
  portal_not_found: 404,
  payment_method_not_found: 404,
  webhook_not_found: 404,
  delivery_not_found: 404,
  sku_taken: 409,
  order_not_paid: 409,
  idempotency_conflict: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, number>

export type ErrorCode = keyof typeof STATUS

/** Messages of the codes whose wording is part of a contract. */
const FIXED_MESSAGES: Partial<Record<ErrorCode, string>> = {
  pl000001: 'payment link expired',
  pl000002: 'paylink not found',
  pl000003: 'projectId mismatch for existing paylink',
  pl000004: 'paylink expiry date in past',
  pl000005: 'paylink products length invalid',
  pl000007: 'at least one of paylink products is not belongs to merchant',
  pl000008: 'at least one of paylink products is not belongs to project',
  pl000010: 'at least one of paylink products is not found',
  order_not_found: 'order not found',
  invalid_signature: 'the event signature does not verify',
  portal_not_found: 'portal not found',
  webhook_not_found: 'webhook endpoint not found',
  delivery_not_found: 'delivery not found',
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code]
}

export class AppError extends Error {
  readonly status: number
  /** The status again, by Fastify's name for it, which the pages' error handlers read from any error. */
  readonly statusCode: number
  /** When the client may try again (a 503 of an overloaded path), sent as Retry-After. */
  retryAfterSeconds?: number
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message ?? FIXED_MESSAGES[code] ?? code)
    this.name = 'AppError'
    this.status = STATUS[code]
    this.statusCode = this.status
  }
}

/** A validation failure outside the request schema (a rule the service checks). */
export function invalid(field: string, rule: string, message: string): AppError {
  return new AppError('validation_failed', `${field}: ${message}`, { field, rule })
}

export interface ErrorBody {
  code: string
  message: string
  details?: unknown
}

/** A route may give some schema rules a code of their own, e.g. the paylink's product count is pl000005. */
export interface ValidationCodeRule {
  field: string
  rules: string[]
  code: ErrorCode
}

declare module 'fastify' {
  interface FastifyContextConfig {
    validationCodes?: ValidationCodeRule[]
  }
}

interface AjvError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
  parentSchema?: Record<string, unknown>
}

/** `/prices/0/currency` → `prices[0].currency`. */
function fieldName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean)
  if (extra) parts.push(extra)
  return parts
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '')
}

function describeType(type: unknown): string {
  const names: Record<string, string> = {
    integer: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'a boolean',
    array: 'an array',
    object: 'an object',
    null: 'null',
  }
  const types = Array.isArray(type) ? type : [type]
  return types.map((t) => names[String(t)] ?? String(t)).join(' or ')
}

/** One precise sentence for a JSON-schema failure, e.g. `products: must contain 1 to 6 items`. */
export function describeValidationError(
  error: AjvError,
  location: string,
): { field: string; rule: string; message: string } {
  const schema = error.parentSchema ?? {}
  const custom = typeof schema['x-error'] === 'string' ? schema['x-error'] : undefined
  let field = fieldName(error.instancePath)
  let rule: string = error.keyword
  let sentence: string
  const p = error.params
  switch (error.keyword) {
    case 'required':
      field = fieldName(error.instancePath, String(p.missingProperty))
      sentence = 'is required'
      break
    case 'additionalProperties':
      field = fieldName(error.instancePath, String(p.additionalProperty))
      rule = 'unknown'
      sentence = 'is not a known field'
      break
    case 'type':
      sentence = `must be ${describeType(p.type)}`
      break
    case 'minLength':
      sentence = p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters`
      break
    case 'maxLength':
      sentence = `must be at most ${p.limit} characters`
      break
    case 'minimum':
      sentence = `must be at least ${p.limit}`
      break
    case 'maximum':
      sentence = `must be at most ${p.limit}`
      break
    case 'exclusiveMinimum':
      sentence = `must be greater than ${p.limit}`
      break
    case 'minItems':
    case 'maxItems':
      sentence =
        typeof schema.minItems === 'number' && typeof schema.maxItems === 'number'
          ? `must contain ${schema.minItems} to ${schema.maxItems} items`
          : error.keyword === 'minItems'
            ? `must contain at least ${p.limit} item${p.limit === 1 ? '' : 's'}`
            : `must contain at most ${p.limit} items`
      break
    case 'uniqueItems':
      sentence = 'must not contain duplicates'
      break
    case 'minProperties':
      sentence = `must have at least ${p.limit} entr${p.limit === 1 ? 'y' : 'ies'}`
      break
    case 'maxProperties':
      sentence = `must have at most ${p.limit} entries`
      break
    case 'enum':
      sentence = `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`
      break
    case 'const':
      sentence = `must be ${JSON.stringify(p.allowedValue)}`
      break
    case 'format':
      sentence = `must be a valid ${p.format}`
      break
    case 'pattern':
      sentence = 'has an invalid format'
      break
    case 'x-trim':
      rule = 'blank'
      sentence = 'must not be blank'
      break
    case 'propertyNames':
      field = fieldName(error.instancePath, String(p.propertyName))
      sentence = 'is not an allowed key'
      break
    default:
      sentence = error.message ?? 'is invalid'
  }
  // A schema's own wording (x-error) explains its format; length, range and type rules keep theirs.
  if (custom && (error.keyword === 'pattern' || error.keyword === 'format')) sentence = custom
  if (!field) field = location
  return { field, rule, message: `${field}: ${sentence}` }
}

/** How long a client is asked to wait when the database could not be reached. */
const DATABASE_RETRY_AFTER_SECONDS = 5

/**
 * The database could not be reached, went away during the request, or the pool had no connection to give
 * in time: a 503 with Retry-After, since the request itself was fine and may succeed in a few seconds.
 * The error of the connection stays in `cause`, for the log.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('service_unavailable', 'the database is unavailable for a moment; try again in a few seconds', {
      retry_after_seconds: DATABASE_RETRY_AFTER_SECONDS,
    })
    this.cause = cause
    this.retryAfterSeconds = DATABASE_RETRY_AFTER_SECONDS
  }
}

/**
 * A failed database connection as the DatabaseUnavailableError it is; any other error as it was. An error
 * that carries a 4xx is the client's, whatever its code: a buyer who drops the connection mid-body reaches
 * the handler as ECONNRESET with status 400.
 */
export function withUnavailable(error: unknown): unknown {
  if (error instanceof AppError) return error
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) return error
  return isConnectionError(error) ? new DatabaseUnavailableError(error) : error
}

/** Turns any error into the status and body the admin API answers with. */
export function toErrorResponse(
  error: unknown,
  request: FastifyRequest,
): { status: number; body: ErrorBody } {
  if (error instanceof AppError) {
    return {
      status: error.status,
      body: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
    }
  }
  const fastifyError = error as FastifyError & { validation?: AjvError[] }
  if (fastifyError.validation && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0] as AjvError
    const location = fastifyError.validationContext ?? 'body'
    const described = describeValidationError(first, location)
    const special = request.routeOptions.config?.validationCodes?.find(
      (r) => r.field === described.field && r.rules.includes(described.rule),
    )
    // The mapped code answers exactly as the service would, so a malformed id is a plain unknown one.
    if (special) return toErrorResponse(new AppError(special.code), request)
    return {
      status: 400,
      body: {
        code: 'validation_failed',
        message: described.message,
        details: { field: described.field, rule: described.rule, location },
      },
    }
  }
  const status = fastifyError.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 413
        ? 'payload_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : status === 429
            ? 'rate_limited'
            : status === 404
              ? 'route_not_found'
              : status === 401
                ? 'unauthorized'
                : 'invalid_body'
    return { status, body: { code, message: fastifyError.message } }
  }
  return {
    status: 500,
    body: { code: 'internal_error', message: 'internal server error', details: { request_id: request.id } },
  }
}

/**
 * For an error that asks the client to come back later (the 503 of an overloaded path): sends Retry-After
 * and logs a warning, and answers true. Overload is not a fault of this request, and one error line per
 * refused request would flood the log.
 */
export function askToRetry(
  error: unknown,
  status: number,
  request: FastifyRequest,
  reply: FastifyReply,
): boolean {
  if (!(error instanceof AppError) || error.retryAfterSeconds === undefined) return false
  request.log.warn(
    { code: error.code, status, ...(error.cause ? { err: error.cause } : {}) },
    `request refused for now: ${error.message}`,
  )
  reply.header('retry-after', String(error.retryAfterSeconds))
  return true
}

export function sendError(thrown: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = withUnavailable(thrown)
  const { status, body } = toErrorResponse(error, request)
  if (!askToRetry(error, status, request, reply)) {
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: body.code, status }, 'request rejected')
  }
  return reply.status(status).send(body)
}
