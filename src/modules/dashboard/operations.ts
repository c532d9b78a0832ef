// Dashboard pages of what happens around the links: portals and their keys, webhook endpoints with their
// delivery log, and the merchant's API keys.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { EVENT_TYPES } from '../webhooks/events.js'
import { ApiFailure, allOf, type List, listProjects, projectIfAny } from './api.js'
import { type Form, failed, many, offsetOf, one, PAGE_SIZE, pager } from './form.js'
import type { PageKit } from './routes.js'

interface PortalJson {
  id: string
  project_id: string
  name: string
}
interface WebhookJson {
  id: string
  url: string
  events: string[]
  enabled: boolean
}

export async function operationsPages(app: FastifyInstance, kit: PageKit): Promise<void> {
  const { render, done } = kit

  // Portals and their keys

  const portalsPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    form: { values?: Form; errors?: Record<string, string>; alert?: string } = {},
    status = 200,
  ) => {
    const [projects, portals] = await Promise.all([
      listProjects(request.admin),
      allOf<'portals', PortalJson>(request.admin, '/portals', 'portals'),
    ])
    const names = new Map(projects.projects.map((p) => [p.id, p.name]))
    return render(
      request,
      reply,
      'portals',
      {
        title: 'Portals',
        nav: 'portals',
        projects: projects.projects,
        portals: portals.portals.map((p) => ({ ...p, projectName: names.get(p.project_id) ?? p.project_id })),
        total: portals.total,
        values: form.values ?? {},
        errors: form.errors ?? {},
        alert: form.alert,
      },
      status,
    )
  }

  app.get('/portals', (request, reply) => portalsPage(request, reply))
  app.post<{ Body: Form }>('/portals', async (request, reply) => {
    const result = await request.admin.call<PortalJson>('POST', '/portals', {
      body: { project_id: one(request.body, 'project_id'), name: one(request.body, 'name') },
    })
    if (!result.ok)
      return portalsPage(request, reply, { values: request.body, ...failed(result.error) }, result.status)
    return done(reply, `/portals/${result.body.id}`)
  })

  const portalPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    id: string,
    extra: { newKey?: string; alert?: string } = {},
    status = 200,
  ) => {
    const portal = await request.admin.get<PortalJson>(`/portals/${encodeURIComponent(id)}`)
    const [project, keys, method] = await Promise.all([
      projectIfAny(request.admin, portal.project_id),
      request.admin.get<{ keys: Record<string, unknown>[] }>(`/portals/${portal.id}/keys`),
      request.admin
        .call<Record<string, unknown>>('GET', `/portals/${portal.id}/payment-method`)
        .then((r) => (r.ok ? r.body : undefined)),
    ])
    return render(
      request,
      reply,
      'portal',
      { title: portal.name, nav: 'portals', portal, project, keys: keys.keys, method, ...extra },
      status,
    )
  }

  app.get<{ Params: { id: string } }>('/portals/:id', (request, reply) =>
    portalPage(request, reply, request.params.id),
  )
  app.post<{ Params: { id: string } }>('/portals/:id/keys', async (request, reply) => {
    const result = await request.admin.call<{ key: string }>(
      'POST',
      `/portals/${encodeURIComponent(request.params.id)}/keys`,
    )
    if (!result.ok) {
      if (result.status === 404) return portalPage(request, reply, request.params.id)
      return portalPage(request, reply, request.params.id, { alert: result.error.message }, result.status)
    }
    // Shown once, on this response only: the key is never stored in the clear.
    return portalPage(request, reply, request.params.id, { newKey: result.body.key }, 201)
  })
  app.post<{ Params: { id: string; key: string } }>(
    '/portals/:id/keys/:key/revoke',
    async (request, reply) => {
      const { id, key } = request.params
      const result = await request.admin.call(
        'DELETE',
        `/portals/${encodeURIComponent(id)}/keys/${encodeURIComponent(key)}`,
      )
      if (!result.ok) return portalPage(request, reply, id, { alert: result.error.message }, result.status)
      return done(reply, `/portals/${encodeURIComponent(id)}`, 'portal_key_revoked')
    },
  )
  app.post<{ Params: { id: string } }>('/portals/:id/delete', async (request, reply) => {
    const result = await request.admin.call('DELETE', `/portals/${encodeURIComponent(request.params.id)}`)
    if (!result.ok)
      return portalPage(request, reply, request.params.id, { alert: result.error.message }, result.status)
    return done(reply, '/portals', 'portal_deleted')
  })

  // Webhook endpoints and their deliveries

  const webhooksPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    form: {
      values?: Form
      errors?: Record<string, string>
      alert?: string
      created?: Record<string, unknown>
    } = {},
    status = 200,
  ) => {
    const list = await allOf<'webhooks', WebhookJson>(request.admin, '/webhooks', 'webhooks')
    return render(
      request,
      reply,
      'webhooks',
      {
        title: 'Webhooks',
        nav: 'webhooks',
        webhooks: list.webhooks,
        eventTypes: EVENT_TYPES,
        values: {
          url: one(form.values, 'url'),
          description: one(form.values, 'description'),
          events: many(form.values, 'events'),
        },
        errors: form.errors ?? {},
        alert: form.alert,
        created: form.created,
      },
      status,
    )
  }

  app.get('/webhooks', (request, reply) => webhooksPage(request, reply))
  app.post<{ Body: Form }>('/webhooks', async (request, reply) => {
    const body = request.body
    const result = await request.admin.call<Record<string, unknown>>('POST', '/webhooks', {
      body: {
        url: one(body, 'url'),
        events: many(body, 'events'),
        ...(one(body, 'description') ? { description: one(body, 'description') } : {}),
      },
    })
    if (!result.ok)
      return webhooksPage(request, reply, { values: body, ...failed(result.error) }, result.status)
    // The signing secret is answered once, at creation: show it on this response.
    return webhooksPage(request, reply, { created: result.body }, 201)
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/webhooks/:id',
    async (request, reply) => {
      const id = encodeURIComponent(request.params.id)
      const endpoint = await request.admin.get<WebhookJson>(`/webhooks/${id}`)
      const offset = offsetOf(request.query.offset)
      const status = ['pending', 'succeeded', 'failed'].includes(request.query.status ?? '')
        ? request.query.status
        : undefined
      const deliveries = await request.admin.get<List<'deliveries', Record<string, unknown>>>(
        `/webhooks/${id}/deliveries`,
        { offset, limit: PAGE_SIZE, status },
      )
      return render(request, reply, 'webhook', {
        title: endpoint.url,
        nav: 'webhooks',
        endpoint,
        deliveries: deliveries.deliveries,
        status,
        page: pager(deliveries.total, offset),
      })
    },
  )
  app.post<{ Params: { id: string; delivery: string } }>(
    '/webhooks/:id/deliveries/:delivery/resend',
    async (request, reply) => {
      const id = encodeURIComponent(request.params.id)
      const result = await request.admin.call(
        'POST',
        `/webhooks/${id}/deliveries/${encodeURIComponent(request.params.delivery)}/resend`,
      )
      if (!result.ok && result.status !== 404) throw new ApiFailure(result.status, result.error)
      if (!result.ok) return reply.callNotFound()
      return done(reply, `/webhooks/${id}`, 'delivery_resent')
    },
  )
  app.post<{ Params: { id: string }; Body: Form }>('/webhooks/:id/enabled', async (request, reply) => {
    const id = encodeURIComponent(request.params.id)
    const result = await request.admin.call('PATCH', `/webhooks/${id}`, {
      body: { enabled: one(request.body, 'enabled') === 'true' },
    })
    if (!result.ok) return reply.callNotFound()
    return done(reply, `/webhooks/${id}`, 'webhook_updated')
  })
  app.post<{ Params: { id: string } }>('/webhooks/:id/delete', async (request, reply) => {
    const result = await request.admin.call('DELETE', `/webhooks/${encodeURIComponent(request.params.id)}`)
    if (!result.ok) return reply.callNotFound()
    return done(reply, '/webhooks', 'webhook_deleted')
  })

  // API keys

  const keysPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    extra: { newKey?: string } = {},
    status = 200,
  ) => {
    // The merchant id is what `paylinks key create --merchant` and `user create --merchant` ask for.
    const [merchant, keys] = await Promise.all([
      request.admin.get<{ id: string; name: string }>('/merchant'),
      request.admin.get<{ api_keys: Record<string, unknown>[] }>('/api-keys'),
    ])
    return render(
      request,
      reply,
      'api-keys',
      { title: 'API keys', nav: 'api-keys', merchant, keys: keys.api_keys, ...extra },
      status,
    )
  }
  app.get('/api-keys', (request, reply) => keysPage(request, reply))
  app.post('/api-keys', async (request, reply) => {
    const result = await request.admin.call<{ api_key: string }>('POST', '/api-keys')
    if (!result.ok) throw new ApiFailure(result.status, result.error)
    // Shown once, on this response only.
    return keysPage(request, reply, { newKey: result.body.api_key }, 201)
  })
  app.post<{ Params: { id: string } }>('/api-keys/:id/revoke', async (request, reply) => {
    const result = await request.admin.call('DELETE', `/api-keys/${encodeURIComponent(request.params.id)}`)
    if (!result.ok) return reply.callNotFound()
    return done(reply, '/api-keys', 'api_key_revoked')
  })
}
