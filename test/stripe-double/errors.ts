// Stripe's error answer: `{"error": {type, code, message, param, doc_url, …}}` with the HTTP status Stripe
// uses for it. The messages follow the wording Stripe's API sends where it is known.

export type StripeErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | 'rate_limit_error'

export interface StripeErrorBody {
  type: StripeErrorType
  message: string
  code?: string
  decline_code?: string
  param?: string
  doc_url?: string
  charge?: string
  payment_intent?: unknown
  payment_method?: unknown
  request_log_url?: string
}

export class StripeApiError extends Error {
  readonly body: StripeErrorBody

  constructor(
    readonly status: number,
    body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message)
    this.body = body.code && !body.doc_url ? { ...body, doc_url: docUrl(body.code) } : body
  }
}

export function docUrl(code: string): string {
  return `https://docs.stripe.com/error-codes/${code.replaceAll('_', '-')}`
}

export function invalidRequest(message: string, param?: string, code?: string, status = 400): StripeApiError {
  return new StripeApiError(status, {
    type: 'invalid_request_error',
    message,
    ...(code ? { code } : {}),
    ...(param ? { param } : {}),
  })
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing')
}

export function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, param, 'parameter_unknown')
}

/** A parameter of Stripe's API that this double does not model: refused so that no test passes by accident. */
export function notImplemented(param: string): StripeApiError {
  return invalidRequest(
    `The Stripe double does not implement the parameter ${param}; it is part of Stripe's API, so add it to the double if paylinks needs it.`,
    param,
  )
}

/** `No such payment_intent: 'pi_…'`; the same object in the other mode says so, as Stripe does. */
export function noSuchObject(
  kind: string,
  id: string,
  param: string,
  inOtherMode?: 'test' | 'live',
): StripeApiError {
  const hint = inOtherMode
    ? `; a similar object exists in ${inOtherMode} mode, but a ${inOtherMode === 'test' ? 'live' : 'test'} mode key was used to make this request.`
    : ''
  return invalidRequest(`No such ${kind}: '${id}'${hint}`, param, 'resource_missing', 404)
}

/** Keys are shown with the middle hidden: `sk_test_****************abcd`. */
export function redactKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? ''
  if (key.length <= prefix.length + 4)
    return `${prefix}${'*'.repeat(Math.max(key.length - prefix.length, 0))}`
  return `${prefix}${'*'.repeat(key.length - prefix.length - 4)}${key.slice(-4)}`
}

export function invalidApiKey(key: string): StripeApiError {
  return invalidRequest(`Invalid API Key provided: ${redactKey(key)}`, undefined, undefined, 401)
}

export function missingApiKey(): StripeApiError {
  return invalidRequest(
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    undefined,
    undefined,
    401,
  )
}

export function apiError(status = 500, message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(status, { type: 'api_error', message })
}

export interface CardDecline {
  code: string
  decline_code?: string
  message: string
}

export const DECLINES = {
  generic: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  insufficientFunds: {
    code: 'card_declined',
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
} satisfies Record<string, CardDecline>

export function cardError(decline: CardDecline, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  return new StripeApiError(402, { type: 'card_error', ...decline, ...extra })
}
