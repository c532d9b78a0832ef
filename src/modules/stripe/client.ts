// The `stripe` package as paylinks uses it: one client per secret key, pinned to STRIPE_API_VERSION, sent to
// STRIPE_API_URL when set (a Stripe double) and to Stripe otherwise; and Stripe's errors turned into the
// provider port's, with messages a merchant (or, on a payment page, a buyer) understands.
import type Stripe from 'stripe'
import { STRIPE_API_VERSION } from '../../lib/stripe-version.js'
import { ProviderError } from '../payments/provider.js'

export interface StripeEndpoint {
  host: string
  port: number
  protocol: 'http' | 'https'
}

/** The client's host, port and protocol for an API base URL (`http://127.0.0.1:4242`). */
export function endpointOf(apiUrl: string): StripeEndpoint {
  const url = new URL(apiUrl)
  const protocol = url.protocol === 'http:' ? 'http' : 'https'
  return { host: url.hostname, port: Number(url.port || (protocol === 'http' ? 80 : 443)), protocol }
}

export interface ClientOptions {
  /** Unset: Stripe's own API. */
  apiUrl?: string | undefined
  /** How long one API call may take before it counts as unanswered. */
  timeoutMs: number
}

// The package is loaded on first use: an installation without a Stripe account never pays for it (about
// 20 MB of the server's memory).
let stripePackage: typeof Stripe | undefined

async function loadStripe(): Promise<typeof Stripe> {
  stripePackage ??= (await import('stripe')).default
  return stripePackage
}

/** Stripe's webhook signature check, from the package (loaded if it was not yet). */
export async function stripeWebhooks(): Promise<{
  webhooks: Stripe['webhooks']
  SignatureError: typeof Stripe.errors.StripeSignatureVerificationError
}> {
  const stripe = await loadStripe()
  return { webhooks: stripe.webhooks, SignatureError: stripe.errors.StripeSignatureVerificationError }
}

/** Clients by secret key: each keeps its connections alive between calls of its account. */
export class StripeClients {
  private readonly clients = new Map<string, Stripe>()
  private readonly endpoint: StripeEndpoint | undefined

  constructor(private readonly options: ClientOptions) {
    this.endpoint = options.apiUrl ? endpointOf(options.apiUrl) : undefined
  }

  async for(secretKey: string): Promise<Stripe> {
    let client = this.clients.get(secretKey)
    if (!client) {
      const Stripe = await loadStripe()
      // A handful of accounts per installation; should the map grow past reason, start it afresh.
      if (this.clients.size >= 1000) this.clients.clear()
      client = new Stripe(secretKey, {
        apiVersion: STRIPE_API_VERSION,
        // paylinks retries itself (the reconciler, the refund sweep), always with the same idempotency key.
        maxNetworkRetries: 0,
        timeout: this.options.timeoutMs,
        telemetry: false,
        appInfo: { name: 'paylinks' },
        ...this.endpoint,
      })
      this.clients.set(secretKey, client)
    }
    return client
  }
}

/**
 * Runs one call to Stripe; its failure becomes a ProviderError: `unavailable` when Stripe did not answer
 * or could not (connection errors, timeouts, 5xx, 429), `unauthorized` for a key it refuses (401, 403),
 * `refused` for a card error or a request it will not carry out. Errors that are not Stripe's pass on.
 */
export async function stripeCall<T>(doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw toProviderError(error, doing)
  }
}

export function toProviderError(error: unknown, doing: string): unknown {
  // Not loaded yet: no call to Stripe was made, so the error is not Stripe's.
  const Stripe = stripePackage
  if (!Stripe || !(error instanceof Stripe.errors.StripeError)) return error
  const status = error.statusCode
  if (error instanceof Stripe.errors.StripeConnectionError) {
    const timedOut = /timeout/i.test(error.message)
    return new ProviderError(
      'unavailable',
      `Stripe ${timedOut ? 'did not answer in time' : 'could not be reached'} while ${doing}.`,
      timedOut ? 'timeout' : 'connection_error',
    )
  }
  if (error instanceof Stripe.errors.StripeRateLimitError)
    return new ProviderError('unavailable', `Stripe asked to slow down (429) while ${doing}.`, 'rate_limit')
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return new ProviderError(
      'unauthorized',
      `Stripe refused the shop's API key while ${doing}: the key is wrong or was rolled; save a current one.`,
      'invalid_api_key',
    )
  }
  if (error instanceof Stripe.errors.StripePermissionError) {
    return new ProviderError(
      'unauthorized',
      `The shop's Stripe key is not allowed to do this (${doing}); a restricted key needs write access to Checkout Sessions and Refunds and read access to the rest.`,
      'permission_denied',
    )
  }
  if (error instanceof Stripe.errors.StripeCardError)
    return new ProviderError('refused', error.message, error.decline_code ?? error.code ?? 'card_declined')
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new ProviderError(
      'refused',
      `Stripe refused to repeat an earlier request while ${doing}: ${error.message}`,
      'idempotency_error',
    )
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError)
    return refused(error, doing, error.code ?? 'invalid_request')
  // 409: another request with the same idempotency key is still running there; a later retry settles it.
  if (status === undefined || status >= 500 || status === 409)
    return new ProviderError(
      'unavailable',
      `Stripe answered ${status ?? 'an error'} while ${doing}.`,
      'api_error',
    )
  return refused(error, doing, error.code ?? 'stripe_error')
}

function refused(error: Error, doing: string, code: string): ProviderError {
  return new ProviderError('refused', `Stripe refused the request while ${doing}: ${error.message}`, code)
}
