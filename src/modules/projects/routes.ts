import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { listPage, NoContent } from '../../lib/http.js'
import type { Services } from '../../services.js'
import {
  CreateProjectBody,
  errors,
  PaginationQuery,
  Project,
  ProjectList,
  ProjectParams,
  projectView,
  UpdateProjectBody,
} from './schemas.js'

const tags = ['projects']

export const projectRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { projects } = services

  app.post(
    '/projects',
    {
      schema: {
        tags,
        summary: 'Create a project',
        body: CreateProjectBody,
        response: { 201: Type.Ref('Project'), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const project = await projects.create(request.merchantId, request.body)
      return reply.status(201).send(projectView(project))
    },
  )

  app.get(
    '/projects',
    {
      schema: {
        tags,
        summary: 'List projects, newest first',
        querystring: PaginationQuery,
        response: { 200: ProjectList, ...errors(400, 401) },
      },
    },
    async (request) => ({
      merchant_id: request.merchantId,
      ...(await listPage(
        request.query,
        'projects',
        (page) => projects.list(request.merchantId, page.offset, page.limit),
        projectView,
      )),
    }),
  )

  app.get(
    '/projects/:project_id',
    {
      schema: {
        tags,
        summary: 'Get a project',
        params: ProjectParams,
        response: { 200: Type.Ref('Project'), ...errors(400, 401, 404) },
      },
    },
    async (request) => projectView(await projects.get(request.merchantId, request.params.project_id)),
  )

  app.patch(
    '/projects/:project_id',
    {
      schema: {
        tags,
        summary: 'Update a project',
        description: 'Only the fields given change; `null` clears `success_url` or `sales_email`.',
        params: ProjectParams,
        body: UpdateProjectBody,
        response: { 200: Type.Ref('Project'), ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      projectView(await projects.update(request.merchantId, request.params.project_id, request.body)),
  )

  app.delete(
    '/projects/:project_id',
    {
      schema: {
        tags,
        summary: 'Delete a project',
        description:
          'Its products are archived and its paylinks deleted; orders and statistics keep their history.',
        params: ProjectParams,
        response: { 204: NoContent, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await projects.delete(request.merchantId, request.params.project_id)
      return reply.status(204).send(null)
    },
  )
}

export { Project }
