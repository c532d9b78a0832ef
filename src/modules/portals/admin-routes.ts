// The merchant's side of portals: portals, their keys, their saved payment method, and sales requests.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, listPage, NoContent, ObjectId, PagedQuery, PageOf } from '../../lib/http.js'
import type { Services } from '../../services.js'
import {
  CreatePortalBody,
  PaymentMethodView,
  PaymentRequestView,
  PortalId,
  PortalKeyView,
  PortalParams,
  paymentMethodView,
  paymentRequestView,
  portalKeyView,
  portalView,
} from './schemas.js'

const tags = ['portals']
const notFound = (field: string) => [{ field, rules: ['pattern'], code: 'portal_not_found' as const }]

export const portalAdminRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { portals } = services

  app.post(
    '/portals',
    {
      schema: {
        tags,
        summary: 'Create a portal (a customer account billed through the portal payment API)',
        body: CreatePortalBody,
        response: { 201: Type.Ref('Portal'), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(portalView(await portals.create(request.merchantId, request.body))),
  )

  app.get(
    '/portals',
    {
      schema: {
        tags,
        summary: 'List portals, newest first',
        querystring: PagedQuery({ project_id: Type.Optional(ObjectId()) }),
        response: {
          200: PageOf('portals', Type.Ref('Portal')),
          ...errors(400, 401),
        },
      },
    },
    async (request) => ({
      merchant_id: request.merchantId,
      ...(await listPage(
        request.query,
        'portals',
        (page) => portals.list(request.merchantId, request.query.project_id, page.offset, page.limit),
        portalView,
      )),
    }),
  )

  app.get(
    '/portals/:portal_id',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'Get a portal',
        params: PortalParams,
        response: { 200: Type.Ref('Portal'), ...errors(401, 404) },
      },
    },
    async (request) => portalView(await portals.get(request.merchantId, request.params.portal_id)),
  )

  app.delete(
    '/portals/:portal_id',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'Delete a portal; its keys stop working, its orders stay',
        params: PortalParams,
        response: { 204: NoContent, ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      await portals.delete(request.merchantId, request.params.portal_id)
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/portals/:portal_id/keys',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'Create a portal key',
        description: 'Answers `{"id", "key": "sk-…"}`; the key is shown only here and stored as a hash.',
        params: PortalParams,
        response: {
          201: Type.Object({ id: Type.String(), key: Type.String(), portal_key: PortalKeyView }),
          ...errors(401, 404),
        },
      },
    },
    async (request, reply) => {
      const { key, secret } = await portals.createKey(request.merchantId, request.params.portal_id)
      return reply.status(201).send({ id: key.id, key: secret, portal_key: portalKeyView(key) })
    },
  )

  app.get(
    '/portals/:portal_id/keys',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'List a portal’s keys (never the secrets)',
        params: PortalParams,
        response: {
          200: Type.Object({ total: Type.Integer(), keys: Type.Array(PortalKeyView) }),
          ...errors(401, 404),
        },
      },
    },
    async (request) => {
      const keys = await portals.listKeys(request.merchantId, request.params.portal_id)
      return { total: keys.length, keys: keys.map(portalKeyView) }
    },
  )

  app.delete(
    '/portals/:portal_id/keys/:key_id',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'Revoke a portal key',
        params: Type.Object({ portal_id: PortalId, key_id: Type.String({ maxLength: 64 }) }),
        response: { 200: PortalKeyView, ...errors(401, 404) },
      },
    },
    async (request) =>
      portalKeyView(
        await portals.revokeKey(request.merchantId, request.params.portal_id, request.params.key_id),
      ),
  )

  app.get(
    '/portals/:portal_id/payment-method',
    {
      config: { validationCodes: notFound('portal_id') },
      schema: {
        tags,
        summary: 'The payment method the portal saved on its checkout-setup page',
        params: PortalParams,
        response: { 200: PaymentMethodView, ...errors(401, 404) },
      },
    },
    async (request) =>
      paymentMethodView(await portals.paymentMethod(request.merchantId, request.params.portal_id)),
  )

  app.get(
    '/payment-requests',
    {
      schema: {
        tags,
        summary: 'List sales requests sent by portals, newest first',
        querystring: PagedQuery({
          portal_id: Type.Optional(PortalId),
          project_id: Type.Optional(ObjectId()),
        }),
        response: {
          200: PageOf('payment_requests', Type.Ref('PaymentRequest')),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const { portal_id, project_id } = request.query
      return {
        merchant_id: request.merchantId,
        ...(await listPage(
          request.query,
          'payment_requests',
          (page) =>
            portals.listPaymentRequests(request.merchantId, {
              ...page,
              ...(portal_id ? { portalId: portal_id } : {}),
              ...(project_id ? { projectId: project_id } : {}),
            }),
          paymentRequestView,
        )),
      }
    },
  )
}

export { PaymentRequestView }
