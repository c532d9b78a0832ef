// The webhook endpoints API: endpoints, their secrets, and their delivery log with a resend button.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, IsoDateTime, listPage, NoContent, PagedQuery, Text } from '../../lib/http.js'
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../../lib/schema.js'
import type { Services } from '../../services.js'
import { EVENT_TYPES } from './events.js'

const tags = ['webhooks']
const WebhookId = Type.String({
  pattern: '^we_[0-9a-f]{24}$',
  'x-error': 'must be a webhook endpoint id (we_ and 24 hex)',
})
const Params = Type.Object({ webhook_id: WebhookId })
const notFound = [{ field: 'webhook_id', rules: ['pattern'], code: 'webhook_not_found' as const }]
const Events = Type.Array(Type.String({ maxLength: 64 }), {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  description: `Event types: ${EVENT_TYPES.join(', ')}; or * for all`,
})
const Url = Type.String({ maxLength: 2048, description: 'http(s) URL on a public address' })
const Description = Text(500)

const Endpoint = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('webhook_endpoint'),
    url: Type.String(),
    events: Type.Array(Type.String()),
    description: Type.Union([Type.String(), Type.Null()]),
    enabled: Type.Boolean(),
    disabled_reason: Type.Union([Type.String(), Type.Null()]),
    secret_rotation_ends_at: Type.Union([IsoDateTime, Type.Null()], {
      description: 'Until then the previous secret signs too',
    }),
    created_at: IsoDateTime,
    updated_at: IsoDateTime,
  },
  { $id: 'WebhookEndpoint' },
)
const WithSecret = Type.Object({
  ...Endpoint.properties,
  secret: Type.String({ description: 'whsec_…: shown at creation and rotation only' }),
})

const Delivery = Type.Object({
  id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.String({ description: 'pending, succeeded or failed' }),
  attempts: Type.Integer(),
  next_attempt_at: Type.Union([IsoDateTime, Type.Null()]),
  created_at: IsoDateTime,
  attempt_log: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      started_at: IsoDateTime,
      duration_ms: Type.Integer(),
      response_status: Type.Union([Type.Integer(), Type.Null()]),
      response_excerpt: Type.Union([Type.String(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
      succeeded: Type.Boolean(),
    }),
  ),
})

function endpointView(row: WebhookEndpointRow, now: Date) {
  const rotating =
    row.previous_secret_expires_at && row.previous_secret_expires_at > now
      ? row.previous_secret_expires_at
      : null
  return {
    id: row.id,
    object: 'webhook_endpoint' as const,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    secret_rotation_ends_at: rotating?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

function deliveryView(row: WebhookDeliveryRow & { event_type: string; attempt_log: WebhookAttemptRow[] }) {
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    attempt_log: row.attempt_log.map((a) => ({
      attempt: a.attempt,
      started_at: a.started_at.toISOString(),
      duration_ms: a.duration_ms,
      response_status: a.response_status,
      response_excerpt: a.response_excerpt,
      error: a.error,
      succeeded: a.succeeded,
    })),
  }
}

export const webhookRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { webhooks, clock } = services
  const view = (row: WebhookEndpointRow) => endpointView(row, clock.now())

  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Create a webhook endpoint',
        description: 'Deliveries are signed per Standard Webhooks with the `secret` answered here, once.',
        body: Type.Object(
          { url: Url, events: Events, description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const row = await webhooks.create(request.merchantId, request.body)
      return reply.status(201).send({ ...view(row), secret: row.secret })
    },
  )

  app.get(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'List webhook endpoints',
        response: {
          200: Type.Object({ total: Type.Integer(), webhooks: Type.Array(Type.Ref('WebhookEndpoint')) }),
          ...errors(401),
        },
      },
    },
    async (request) => {
      const rows = await webhooks.list(request.merchantId)
      return { total: rows.length, webhooks: rows.map(view) }
    },
  )

  app.get(
    '/webhooks/:webhook_id',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'Get a webhook endpoint',
        params: Params,
        response: { 200: Type.Ref('WebhookEndpoint'), ...errors(401, 404) },
      },
    },
    async (request) => view(await webhooks.get(request.merchantId, request.params.webhook_id)),
  )

  app.patch(
    '/webhooks/:webhook_id',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'Update, disable or enable a webhook endpoint',
        params: Params,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            description: Type.Optional(Type.Union([Description, Type.Null()])),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('WebhookEndpoint'), ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      view(await webhooks.update(request.merchantId, request.params.webhook_id, request.body)),
  )

  app.delete(
    '/webhooks/:webhook_id',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint',
        params: Params,
        response: { 204: NoContent, ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      await webhooks.delete(request.merchantId, request.params.webhook_id)
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/webhooks/:webhook_id/rotate-secret',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description: 'For 24 hours deliveries carry signatures with both the new and the previous secret.',
        params: Params,
        response: { 200: WithSecret, ...errors(401, 404) },
      },
    },
    async (request) => {
      const row = await webhooks.rotateSecret(request.merchantId, request.params.webhook_id)
      return { ...view(row), secret: row.secret }
    },
  )

  app.get(
    '/webhooks/:webhook_id/deliveries',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'The endpoint’s deliveries with every attempt, newest first',
        params: Params,
        querystring: PagedQuery({
          status: Type.Optional(
            Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
          ),
        }),
        response: {
          200: Type.Object({
            limit: Type.Integer(),
            offset: Type.Integer(),
            total: Type.Integer(),
            deliveries: Type.Array(Delivery),
          }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { status } = request.query
      return listPage(
        request.query,
        'deliveries',
        (page) =>
          webhooks.deliveries(request.merchantId, request.params.webhook_id, {
            ...page,
            ...(status ? { status } : {}),
          }),
        deliveryView,
      )
    },
  )

  app.post(
    '/webhooks/:webhook_id/deliveries/:delivery_id/resend',
    {
      config: { validationCodes: notFound },
      schema: {
        tags,
        summary: 'Send a delivery again now (with a fresh retry schedule)',
        params: Type.Object({ webhook_id: WebhookId, delivery_id: Type.String({ maxLength: 64 }) }),
        response: { 202: Type.Object({ status: Type.Literal('pending') }), ...errors(401, 404, 409) },
      },
    },
    async (request, reply) => {
      await webhooks.resend(request.merchantId, request.params.webhook_id, request.params.delivery_id)
      return reply.status(202).send({ status: 'pending' as const })
    },
  )
}

export { Endpoint }
