// The paylinks admin API, wire-compatible with the paylinks API specification (paths, bodies, shapes, codes).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, listPage, NoContent, ObjectId, PaginationQuery } from '../../lib/http.js'
import type { Services } from '../../services.js'
import {
  bodyValidationCodes,
  ListQuery,
  MerchantPaylinkList,
  PaylinkBody,
  PaylinkList,
  PaylinkParams,
  PaylinkStat,
  PaylinkUpdateBody,
  PaylinkUrl,
  paylinkValidationCodes,
  paylinkView,
  UrlQuery,
} from './schemas.js'

const tags = ['paylinks']

export const paylinkRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { paylinks, clock, config } = services
  const view = (row: Parameters<typeof paylinkView>[0]) => paylinkView(row, clock.now(), config.publicUrl)

  app.post(
    '/paylinks',
    {
      config: { validationCodes: paylinkValidationCodes(...bodyValidationCodes) },
      schema: {
        tags,
        summary: 'Create a paylink',
        body: PaylinkBody,
        response: { 200: Type.Ref('Paylink'), ...errors(400, 401, 404) },
      },
    },
    async (request) => view(await paylinks.create(request.merchantId, request.body)),
  )

  app.get(
    '/paylinks',
    {
      schema: {
        tags,
        summary: 'List the merchant’s paylinks of every project, newest first',
        description:
          'As PaySuper’s later paylinks API lists them (`count`, `items`), with the paging of every list here.',
        querystring: PaginationQuery,
        response: { 200: MerchantPaylinkList, ...errors(400, 401) },
      },
    },
    async (request) => {
      const { offset = 0, limit = 10 } = request.query
      const { rows, total } = await paylinks.list(request.merchantId, undefined, offset, limit)
      return { merchant_id: request.merchantId, count: total, limit, offset, total, items: rows.map(view) }
    },
  )

  app.put(
    '/paylinks/:paylink_id',
    {
      config: { validationCodes: paylinkValidationCodes(...bodyValidationCodes) },
      schema: {
        tags,
        summary: 'Update a paylink',
        description:
          'Replaces the products; `expires_at` is recomputed from now. The project cannot change (pl000003). The body may carry the link’s own `id`; another id is a 400.',
        params: PaylinkParams,
        body: PaylinkUpdateBody,
        response: { 200: Type.Ref('Paylink'), ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      view(await paylinks.update(request.merchantId, request.params.paylink_id, request.body)),
  )

  app.get(
    '/paylinks/:paylink_id',
    {
      config: { validationCodes: paylinkValidationCodes() },
      schema: {
        tags,
        summary: 'Get a paylink',
        params: PaylinkParams,
        response: { 200: Type.Ref('Paylink'), ...errors(401, 404) },
      },
    },
    async (request) => view(await paylinks.get(request.merchantId, request.params.paylink_id)),
  )

  app.delete(
    '/paylinks/:paylink_id',
    {
      config: { validationCodes: paylinkValidationCodes() },
      schema: {
        tags,
        summary: 'Delete a paylink',
        description: 'The link disappears from every read and its public URL; its statistics stay.',
        params: PaylinkParams,
        response: { 204: NoContent, ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      await paylinks.delete(request.merchantId, request.params.paylink_id)
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/paylinks/:paylink_id/stat',
    {
      config: { validationCodes: paylinkValidationCodes() },
      schema: {
        tags,
        summary: 'Get a paylink’s statistics',
        params: PaylinkParams,
        response: { 200: PaylinkStat, ...errors(401, 404) },
      },
    },
    async (request) => paylinks.stat(request.merchantId, request.params.paylink_id),
  )

  app.get(
    '/paylinks/:paylink_id/url',
    {
      config: { validationCodes: paylinkValidationCodes() },
      schema: {
        tags,
        summary: 'Get a paylink’s public URL with UTM tags',
        description: 'Only the tags given appear, keys sorted. `utm_campagin` is accepted as `utm_campaign`.',
        params: PaylinkParams,
        querystring: UrlQuery,
        response: { 200: PaylinkUrl, ...errors(400, 401, 404, 410) },
      },
    },
    async (request) => ({
      url: await paylinks.url(request.merchantId, request.params.paylink_id, request.query),
    }),
  )

  app.get(
    '/paylinks/project/:project_id',
    {
      schema: {
        tags,
        summary: 'List a project’s paylinks, newest first',
        params: Type.Object({ project_id: ObjectId() }),
        querystring: ListQuery,
        response: { 200: PaylinkList, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { project_id } = request.params
      return {
        merchant_id: request.merchantId,
        project_id,
        ...(await listPage(
          request.query,
          'paylinks',
          (page) => paylinks.list(request.merchantId, project_id, page.offset, page.limit),
          view,
        )),
      }
    },
  )
}
