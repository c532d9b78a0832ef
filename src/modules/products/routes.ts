import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, listPage, NoContent } from '../../lib/http.js'
import type { Services } from '../../services.js'
import {
  CreateProductBody,
  ListProductsQuery,
  ProductList,
  ProductParams,
  productView,
  UpdateProductBody,
} from './schemas.js'

const tags = ['products']

export const productRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { products } = services

  app.post(
    '/products',
    {
      schema: {
        tags,
        summary: 'Create a product',
        description: 'Prices are integers in minor units, one per currency.',
        body: CreateProductBody,
        response: { 201: Type.Ref('Product'), ...errors(400, 401, 404, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(productView(await products.create(request.merchantId, request.body))),
  )

  app.get(
    '/products',
    {
      schema: {
        tags,
        summary: 'List products, newest first',
        querystring: ListProductsQuery,
        response: { 200: ProductList, ...errors(400, 401) },
      },
    },
    async (request) => ({
      merchant_id: request.merchantId,
      project_id: request.query.project_id ?? null,
      ...(await listPage(
        request.query,
        'products',
        (page) => products.list(request.merchantId, { ...request.query, ...page }),
        productView,
      )),
    }),
  )

  app.get(
    '/products/:product_id',
    {
      schema: {
        tags,
        summary: 'Get a product',
        params: ProductParams,
        response: { 200: Type.Ref('Product'), ...errors(400, 401, 404) },
      },
    },
    async (request) => productView(await products.get(request.merchantId, request.params.product_id)),
  )

  app.patch(
    '/products/:product_id',
    {
      schema: {
        tags,
        summary: 'Update a product',
        description: '`prices` replaces the whole list; `archived` archives or restores the product.',
        params: ProductParams,
        body: UpdateProductBody,
        response: { 200: Type.Ref('Product'), ...errors(400, 401, 404, 409) },
      },
    },
    async (request) =>
      productView(await products.update(request.merchantId, request.params.product_id, request.body)),
  )

  app.delete(
    '/products/:product_id',
    {
      schema: {
        tags,
        summary: 'Delete a product',
        description:
          'A product that a paylink or an order refers to is archived instead, so their history stays whole.',
        params: ProductParams,
        response: { 204: NoContent, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await products.delete(request.merchantId, request.params.product_id)
      return reply.status(204).send(null)
    },
  )
}
