// Bearer authentication of the admin API: every route under it gets `request.merchantId`.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../lib/errors.js'
import type { MerchantService } from './service.js'

declare module 'fastify' {
  interface FastifyRequest {
    merchantId: string
    apiKeyId: string
  }
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

export function requireMerchantKey(app: FastifyInstance, merchants: MerchantService): void {
  app.decorateRequest('merchantId', '')
  app.decorateRequest('apiKeyId', '')
  app.addHook('onRequest', async (request) => {
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
