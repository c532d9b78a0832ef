// Liveness and readiness probes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { isReachable } from '../../lib/db.js'
import type { Services } from '../../services.js'

const Health = Type.Object({ status: Type.String(), database: Type.Optional(Type.String()) })

export const systemRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/healthz',
    { schema: { tags: ['system'], summary: 'The process is up', response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  )
  app.get(
    '/readyz',
    {
      schema: { tags: ['system'], summary: 'The database answers', response: { 200: Health, 503: Health } },
    },
    async (_request, reply) => {
      const ok = await isReachable(services.database.db)
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', database: ok ? services.database.kind : 'unreachable' })
    },
  )
}
