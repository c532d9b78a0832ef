import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, listPage } from '../../lib/http.js'
import type { Services } from '../../services.js'
import { ListOrdersQuery, OrderId, OrderList, orderView } from './schemas.js'

const tags = ['orders']

export const orderRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { orders, config } = services

  app.get(
    '/orders',
    {
      schema: {
        tags,
        summary: 'List orders, newest first',
        description: 'Filter by project, paylink and status.',
        querystring: ListOrdersQuery,
        response: { 200: OrderList, ...errors(400, 401) },
      },
    },
    async (request) => ({
      merchant_id: request.merchantId,
      ...(await listPage(
        request.query,
        'orders',
        (page) => orders.list(request.merchantId, { ...request.query, ...page }),
        (o) => orderView(o, config.publicUrl),
      )),
    }),
  )

  app.get(
    '/orders/:order_id',
    {
      config: { validationCodes: [{ field: 'order_id', rules: ['pattern'], code: 'order_not_found' }] },
      schema: {
        tags,
        summary: 'Get an order with its items and payment attempts',
        params: Type.Object({ order_id: OrderId }),
        response: { 200: Type.Ref('Order'), ...errors(401, 404) },
      },
    },
    async (request) =>
      orderView(await orders.get(request.merchantId, request.params.order_id), config.publicUrl),
  )
}
