// Builds the Fastify application. It never listens: src/server.ts owns the process, tests call app.inject.
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Ajv, { type Options as AjvOptions, type FuncKeywordDefinition, type SchemaValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { ADMIN_PREFIX } from './app-prefix.js'
import { AppError, sendError } from './lib/errors.js'
import { PUBLIC_DIR } from './lib/html.js'
import { ErrorBody } from './lib/http.js'
import { randomHex } from './lib/ids.js'
import type { Logger } from './lib/logger.js'
import { rejectNulCharacters } from './lib/nul.js'
import { dashboardRoutes } from './modules/analytics/routes.js'
import { checkoutRoutes } from './modules/checkout/routes.js'
import { dashboardPages } from './modules/dashboard/routes.js'
import { InternalCredential, requireMerchantKey } from './modules/merchants/auth.js'
import { merchantRoutes } from './modules/merchants/routes.js'
import { orderRoutes } from './modules/orders/routes.js'
import { Order } from './modules/orders/schemas.js'
import { paylinkRoutes } from './modules/paylinks/routes.js'
import { Paylink, Timestamp } from './modules/paylinks/schemas.js'
import { paymentProviderRoutes } from './modules/payments/account-routes.js'
import { providerEventRoutes, RefundView, refundRoutes } from './modules/payments/routes.js'
import { PaymentRequestView, portalAdminRoutes } from './modules/portals/admin-routes.js'
import { portalApiRoutes } from './modules/portals/api-routes.js'
import { ErrorEnvelope, Portal } from './modules/portals/schemas.js'
import { productRoutes } from './modules/products/routes.js'
import { Product } from './modules/products/schemas.js'
import { projectRoutes } from './modules/projects/routes.js'
import { Project } from './modules/projects/schemas.js'
import { sandboxRoutes } from './modules/sandbox/routes.js'
import { systemRoutes } from './modules/system/routes.js'
import { Endpoint, webhookRoutes } from './modules/webhooks/routes.js'
import type { Services } from './services.js'

const REQUEST_ID = /^[\w.:-]{1,64}$/

export interface AppOptions {
  logger?: Logger | false
  /** Socket timeouts and request logging; the server process sets them, tests leave the defaults. */
  http?: Pick<
    FastifyServerOptions,
    'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'logController'
  >
}

/**
 * `x-trim` (see Text in lib/http.ts): the value is kept without its surrounding whitespace, and one that is
 * blank fails. Checked after the length rules, which is safe: trimming only shortens, and a value that is
 * not blank trims to at least one character.
 */
const trimText: SchemaValidateFunction = (enabled: boolean, data: string, _schema, context) => {
  if (!enabled) return true
  const trimmed = data.trim()
  if (context?.parentData && context.parentDataProperty !== undefined) {
    context.parentData[context.parentDataProperty] = trimmed
  }
  return trimmed !== ''
}
const trim: FuncKeywordDefinition = {
  keyword: 'x-trim',
  type: 'string',
  schemaType: 'boolean',
  modifying: true,
  validate: trimText,
}

/** Two validators: request bodies are taken as sent, while params and query strings are text and get coerced. */
function validatorCompiler() {
  const base: AjvOptions = {
    allErrors: false,
    useDefaults: true,
    removeAdditional: false,
    verbose: true,
    strict: true,
    strictRequired: false,
    keywords: ['x-error', trim],
  }
  const body = addFormats.default(new Ajv.default({ ...base, coerceTypes: false }))
  const text = addFormats.default(new Ajv.default({ ...base, coerceTypes: 'array' }))
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema)
}

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const fastifyOptions: FastifyServerOptions & { loggerInstance?: FastifyBaseLogger } = {
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `req_${randomHex(8)}`
    },
    bodyLimit: 1024 * 1024,
    // Proxies in front of paylinks are the operator's to declare (TRUST_PROXY); without, the socket is the client.
    // A hop count is valid for Fastify (proxy-addr) though its type omits numbers.
    trustProxy: services.config.trustProxy as boolean | string,
    routerOptions: { ignoreTrailingSlash: true },
    ...options.http,
  }
  if (options.logger) fastifyOptions.loggerInstance = options.logger
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler())
  // The APIs speak JSON; a text body is a client mistake better named by 415 than by a schema error.
  app.removeContentTypeParser('text/plain')
  // curl keeps `-H "Content-Type: application/json"` on a DELETE or a bodiless POST: an empty body is no
  // body (a route that needs one then names it), anything else is parsed as Fastify does, poisoning refused.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined)
    else parseJson(request, body as string, done)
  })
  for (const schema of [
    ErrorBody,
    Timestamp,
    Project,
    Product,
    Paylink,
    Order,
    Portal,
    PaymentRequestView,
    ErrorEnvelope,
    Endpoint,
    RefundView,
  ]) {
    // Shared schemas are added here, once: a child context that adds its own loses the custom validator.
    app.addSchema(schema)
  }

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // Before every route's own validation, so no NUL reaches a handler (and PostgreSQL) on any route.
  app.addHook('preValidation', rejectNulCharacters)
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply))
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  )

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'paylinks',
        version: '1',
        description:
          'Payment links and hosted checkout. The admin API takes `Authorization: Bearer <secret key>`; ' +
          'amounts are integers in minor units of an ISO 4217 currency.',
      },
      servers: [{ url: services.config.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A merchant secret key, pl_sk_…' },
          portalKey: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: 'A portal key: `Bearer sk-…` or the bare `sk-…`',
          },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json: { $id?: unknown }, _baseUri: unknown, _fragment: unknown, i: number) =>
        String(json.$id ?? `def-${i}`),
    },
  })
  // The reference gets the headers of every other page, its CSP widened only for what Swagger UI needs: its
  // data: icons, and the "Try it out" calls to the server the document names.
  const docsCsp = `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ${new URL(services.config.publicUrl).origin}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`
  await app.register(async (docs) => {
    docs.addHook('onSend', async (_request, reply) => {
      reply
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
    })
    // BaseLayout: without Swagger's top bar, whose logo carries an inline <style> the CSP refuses.
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: docsCsp,
      uiConfig: { layout: 'BaseLayout' },
    })
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(systemRoutes, { services })
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/assets/', maxAge: '1h', schemaHide: true })
  await app.register(checkoutRoutes, { services })
  await app.register(sandboxRoutes, { services })
  await app.register(providerEventRoutes, { services })
  const credential = new InternalCredential()
  await app.register(dashboardPages, { services, credential, prefix: '/dashboard' })
  await app.register(
    async (admin) => {
      requireMerchantKey(admin, services.merchants, credential)
      admin.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, security: [{ bearerAuth: [] }] }
      })
      await admin.register(merchantRoutes, { services })
      await admin.register(projectRoutes, { services })
      await admin.register(paymentProviderRoutes, { services })
      await admin.register(productRoutes, { services })
      await admin.register(paylinkRoutes, { services })
      await admin.register(dashboardRoutes, { services })
      await admin.register(orderRoutes, { services })
      await admin.register(refundRoutes, { services })
      await admin.register(portalAdminRoutes, { services })
      await admin.register(webhookRoutes, { services })
    },
    { prefix: ADMIN_PREFIX },
  )
  await app.register(portalApiRoutes, { services, prefix: '/api/2.0/portal' })
  // The sandbox posts its signed events to the inbox route, in process, as a provider posts them over HTTP.
  services.sandbox.connect(async (url, body, headers) => {
    const response = await app.inject({ method: 'POST', url, payload: body, headers })
    return response.statusCode
  })
  return app
}
