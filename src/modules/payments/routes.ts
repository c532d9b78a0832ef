// The payments module's routes: the provider events inbox (public, verified by signature), and the
// admin API's refunds of an order.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError } from '../../lib/errors.js'
import { errors } from '../../lib/http.js'
import type { Services } from '../../services.js'
import { OrderId } from '../orders/schemas.js'
import { CreateRefundBody, RefundView, refundView } from './schemas.js'

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export const providerEventRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  // The signature covers the bytes as sent: the body is kept raw, whatever its content type says.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) =>
    done(null, body),
  )

  app.post(
    '/providers/:account_id/events',
    {
      schema: {
        tags: ['payments'],
        summary: 'The inbox of a payment provider account’s signed events',
        description:
          'Register this URL at the provider. A bad signature is a 400 and nothing is stored; each event is ' +
          'stored once (by its id) and applied once; duplicates answer 200.',
        params: Type.Object({
          account_id: Type.String({
            pattern: '^pa_[0-9a-f]{24}$',
            'x-error': 'must be a provider account id',
          }),
        }),
        response: {
          200: Type.Object({ received: Type.Literal(true), outcome: Type.String() }),
          ...errors(400, 404, 503),
        },
      },
      config: { validationCodes: [{ field: 'account_id', rules: ['pattern'], code: 'route_not_found' }] },
    },
    async (request) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const outcome = await services.payments.receiveEvent(request.params.account_id, body, request.headers)
      return { received: true as const, outcome }
    },
  )
}

export const refundRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { payments } = services
  const orderParams = Type.Object({ order_id: OrderId })
  const notFound = [{ field: 'order_id', rules: ['pattern'], code: 'order_not_found' as const }]

  app.post(
    '/orders/:order_id/refunds',
    {
      config: { validationCodes: notFound },
      // No body is a full refund: the body's fields are all optional.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
      schema: {
        tags: ['orders'],
        summary: 'Refund a paid order, in full (default) or in part',
        description:
          'Partial refunds may follow each other up to the amount paid. Send an `Idempotency-Key` header to ' +
          'retry safely: the same key and body answer the same; the same key with another body is a 409. The ' +
          'refund is `pending` until the provider confirms it (`refund.succeeded`, `refund.failed` webhooks).',
        params: orderParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 255 })) }),
        body: CreateRefundBody,
        response: { 201: Type.Ref('Refund'), ...errors(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const { body } = request
      const run = async () => {
        const refund = await payments.refund(
          request.merchantId,
          request.params.order_id,
          body,
          request.caller,
        )
        return { status: 201, body: refundView(refund) }
      }
      const key = request.headers['idempotency-key']
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw new AppError(
          'validation_failed',
          'Idempotency-Key: must be 1 to 255 visible ASCII characters',
          {
            field: 'Idempotency-Key',
            rule: 'pattern',
            location: 'headers',
          },
        )
      }
      const answer = key
        ? await payments.idempotent(request.merchantId, key, `refund ${request.params.order_id}`, body, run)
        : await run()
      // A replayed answer may be a stored error of the first request; its body is the API's error body.
      return reply.status(answer.status as 201).send(answer.body as never)
    },
  )

  app.get(
    '/orders/:order_id/refunds',
    {
      config: { validationCodes: notFound },
      schema: {
        tags: ['orders'],
        summary: 'The refunds of an order, oldest first',
        params: orderParams,
        response: {
          200: Type.Object({
            order_id: Type.String(),
            total: Type.Integer(),
            refunds: Type.Array(Type.Ref('Refund')),
          }),
          ...errors(401, 404),
        },
      },
    },
    async (request) => {
      const refunds = await payments.listRefunds(request.merchantId, request.params.order_id)
      return { order_id: request.params.order_id, total: refunds.length, refunds: refunds.map(refundView) }
    },
  )
}

export { RefundView }
