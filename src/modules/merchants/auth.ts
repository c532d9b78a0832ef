// Bearer authentication of the admin API: every route under it gets `request.merchantId`, and
// `request.caller`, which says who is asking. The dashboard calls the same API in-process (app.inject)
// for its signed-in user, with a per-process credential.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../lib/errors.js'
import type { MerchantService } from './service.js'

declare module 'fastify' {
  interface FastifyRequest {
    merchantId: string
    apiKeyId: string
    /**
     * Who sent the request: a client with an API key, or the dashboard (the only holder of the in-process
     * credential). Records that keep where they came from, such as refunds, take it from here.
     */
    caller: Caller
  }
}

export type Caller = 'api' | 'dashboard'

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

/**
 * The credential of the dashboard's in-process calls: a random secret that exists only in this process's memory (it is
 * never sent over a socket, logged or stored), presented with the merchant the caller acts for.
 */
export class InternalCredential {
  static readonly HEADER = 'x-paylinks-internal'
  private readonly secret = randomBytes(32)
  private readonly hex = this.secret.toString('hex')

  header(merchantId: string): Record<string, string> {
    return { [InternalCredential.HEADER]: `${this.hex} ${merchantId}` }
  }

  /** The merchant of a valid header value, or undefined. */
  merchantOf(value: string): string | undefined {
    const [secret = '', merchantId, ...rest] = value.split(' ')
    const given = Buffer.from(secret, 'hex')
    if (rest.length || !merchantId || given.length !== this.secret.length) return undefined
    return timingSafeEqual(given, this.secret) ? merchantId : undefined
  }
}

export function requireMerchantKey(
  app: FastifyInstance,
  merchants: MerchantService,
  internal?: InternalCredential,
): void {
  app.decorateRequest('merchantId', '')
  app.decorateRequest('apiKeyId', '')
  app.decorateRequest('caller', 'api')
  app.addHook('onRequest', async (request) => {
    const inProcess = request.headers[InternalCredential.HEADER]
    if (inProcess !== undefined) {
      const merchantId =
        internal && typeof inProcess === 'string' ? internal.merchantOf(inProcess) : undefined
      if (!merchantId) throw new AppError('unauthorized', 'invalid in-process credential')
      request.merchantId = merchantId
      request.caller = 'dashboard'
      return
    }
    const header = request.headers.authorization
    if (!header) {
      throw new AppError('unauthorized', 'missing API key: send Authorization: Bearer <secret key>')
    }
    const token = bearerToken(request)
    if (!token)
      throw new AppError('unauthorized', 'malformed Authorization header: expected Bearer <secret key>')
    const principal = await merchants.authenticate(token)
    if (!principal) throw new AppError('unauthorized', 'invalid or revoked API key')
    request.merchantId = principal.merchantId
    request.apiKeyId = principal.keyId
  })
}
