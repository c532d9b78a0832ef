// The portal payment API, wire-compatible with the portal payment API specification: its paths (the
// misspelled `chechoutsetupurl` included), its bodies, and its response envelope on every answer.
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError, askToRetry, toErrorResponse, withUnavailable } from '../../lib/errors.js'
import { Text } from '../../lib/http.js'
import type { Services } from '../../services.js'
import { caseInsensitiveBody } from './input.js'
import { Envelope } from './schemas.js'
import type { PortalPrincipal } from './service.js'

declare module 'fastify' {
  interface FastifyRequest {
    portal: PortalPrincipal
  }
}

const tags = ['portal payment API']
const errorRefs = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('PortalError')]))

/** `Bearer sk-…` or the bare `sk-…`. */
function portalToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const value = header.trim()
  const bearer = /^Bearer\s+(\S+)$/i.exec(value)
  return bearer ? bearer[1] : /^\S+$/.test(value) ? value : undefined
}

/** The success envelope: `response` (omitted when null), `count`, `links` to the request, status 0. */
function ok<T>(request: FastifyRequest, publicUrl: string, response: T | null) {
  const count =
    response === null || response === undefined ? 0 : Array.isArray(response) ? response.length : 1
  return {
    ...(response === null || response === undefined ? {} : { response: response as T }),
    count,
    links: [{ href: `${publicUrl}${request.url}`, action: request.method }],
    status: 0 as const,
    statusCode: 200,
  }
}

function sendEnvelopeError(thrown: unknown, request: FastifyRequest, reply: FastifyReply) {
  const error = withUnavailable(thrown)
  const { status, body } = toErrorResponse(error, request)
  if (!askToRetry(error, status, request, reply) && status >= 500)
    request.log.error({ err: error }, 'portal API request failed')
  return reply
    .status(status)
    .send({ error: { message: body.message, type: body.code }, status: 1, statusCode: status })
}

export const portalApiRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { portals } = services
  app.decorateRequest('portal', null as unknown as PortalPrincipal)
  app.setErrorHandler((error, request, reply) => sendEnvelopeError(error, request, reply))
  app.setNotFoundHandler((request, reply) =>
    sendEnvelopeError(
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  )
  app.addHook('onRequest', async (request) => {
    const token = portalToken(request.headers.authorization)
    if (!request.headers.authorization)
      throw new AppError('unauthorized', 'missing portal key: send Authorization: Bearer sk-…')
    const portal = token ? await portals.authenticate(token) : undefined
    if (!portal) throw new AppError('unauthorized', 'invalid or revoked portal key')
    request.portal = portal
  })
  // Limits run after authentication, so that they count per portal and client address.
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new AppError(
          'rate_limited',
          `rate limit exceeded: at most ${context.max} requests a minute; retry in ${context.after}`,
        ),
        {
          statusCode: 429,
        },
      ),
  })

  const requestBody = Type.Object({
    userName: Text(255),
    email: Type.String({ maxLength: 64, format: 'email', 'x-error': 'must be a valid email address' }),
    message: Text(255),
  })
  app.post(
    '/payment/request',
    {
      preValidation: caseInsensitiveBody(Object.keys(requestBody.properties)),
      config: {
        rateLimit: {
          max: 10,
          timeWindow: '1 minute',
          keyGenerator: (request) => `${request.portal.portalId}|${request.ip}`,
        },
      },
      schema: {
        tags,
        summary: 'Send a payment (sales) request for the portal',
        description:
          "Stored, mailed to the project's sales address, and listed at /admin/api/v1/payment-requests. 10 a minute per portal and client. Body keys match in any letter case.",
        security: [{ portalKey: [] }],
        body: requestBody,
        response: {
          200: Envelope(
            Type.Object({
              id: Type.String(),
              userName: Type.String(),
              email: Type.String(),
              message: Type.String(),
              created: Type.String(),
            }),
          ),
          ...errorRefs(400, 401, 429),
        },
      },
    },
    async (request) => {
      const saved = await portals.sendPaymentRequest(request.portal, request.body)
      return ok(request, services.config.publicUrl, {
        id: saved.id,
        userName: saved.user_name,
        email: saved.email,
        message: saved.message,
        created: saved.created_at.toISOString(),
      })
    },
  )

  const urlBody = Type.Object({
    backUrl: Type.Unknown({
      description:
        'Absolute http(s) URL, at most 2048 characters: the way back to the portal, and where the buyer goes after paying when `successUrl` is not given. Kept byte for byte; `order_id` and `status` are appended.',
    }),
    successUrl: Type.Optional(
      Type.Unknown({
        description:
          'Absolute http(s) URL where the buyer goes after paying, with `order_id` and `status` appended (as DocSpace’s own server takes it)',
      }),
    ),
    quantity: Type.Optional(
      Type.Unknown({
        description: 'Object: item identifier → positive whole number count (or a string of its digits)',
      }),
    ),
  })
  app.put(
    '/payment/url',
    {
      preValidation: caseInsensitiveBody(Object.keys(urlBody.properties)),
      schema: {
        tags,
        summary: 'Get a payment page URL for quantities of items',
        description:
          '`quantity` maps item identifiers (product id or SKU of the portal’s project) to counts. After paying, the buyer goes to `successUrl` (else to `backUrl`) with `order_id` and `status` added. Body keys match in any letter case (`BackUrl`, `Quantity`).',
        security: [{ portalKey: [] }],
        body: urlBody,
        response: {
          200: Envelope(Type.String({ description: 'The payment page URL' })),
          ...errorRefs(400, 401),
        },
      },
    },
    async (request) =>
      ok(request, services.config.publicUrl, await portals.paymentUrl(request.portal, request.body)),
  )

  for (const path of ['/payment/chechoutsetupurl', '/payment/checkoutsetupurl']) {
    app.get(
      path,
      {
        schema: {
          tags,
          summary:
            path === '/payment/chechoutsetupurl'
              ? 'Get the URL of the page that saves a payment method (the specification’s spelling)'
              : 'Get the URL of the page that saves a payment method',
          description:
            'The query parameter name matches case-insensitively (`BackUrl`, `backUrl`). Without `BackUrl` the setup ends on a page of paylinks that says the card was saved; with it, the admin returns there with `setup_id` and `status=saved` appended.',
          security: [{ portalKey: [] }],
          querystring: Type.Object({ BackUrl: Type.Optional(Type.String()) }),
          response: {
            200: Envelope(Type.String({ description: 'The checkout setup page URL' })),
            ...errorRefs(400, 401),
          },
        },
      },
      async (request) => {
        const query = request.query as Record<string, unknown>
        const key = Object.keys(query).find((k) => k.toLowerCase() === 'backurl')
        const value = key ? query[key] : undefined
        return ok(
          request,
          services.config.publicUrl,
          await portals.checkoutSetupUrl(request.portal, Array.isArray(value) ? value[0] : value),
        )
      },
    )
  }
}
