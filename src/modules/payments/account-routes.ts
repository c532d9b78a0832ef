// The admin API's payment provider of a project: which provider takes its buyers' payments (the sandbox or
// the merchant's Stripe account), the key's mode, and where the provider must send its events. Credentials
// go in and never come out: an answer shows the secret key's last 4 characters, nothing of the rest.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from 'typebox'
import { invalid } from '../../lib/errors.js'
import { errors, IsoDateTime } from '../../lib/http.js'
import type { Services } from '../../services.js'
import { ProjectParams } from '../projects/schemas.js'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const PaymentProviderBody = Type.Object(
  {
    provider: Type.Enum(['sandbox', 'stripe'], {
      description:
        'sandbox: the simulated provider built into paylinks; stripe: the merchant’s Stripe account',
    }),
    secret_key: Type.Optional(
      Type.String({
        maxLength: 255,
        pattern: '^(sk|rk)_(test|live)_[0-9A-Za-z]{8,}$',
        'x-error':
          'must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_test_…, rk_live_…), not a publishable key',
        description: 'Stripe only: the secret or restricted key; its mode (test or live) is the project’s',
      }),
    ),
    webhook_secret: Type.Optional(
      Type.String({
        maxLength: 255,
        pattern: '^whsec_[0-9A-Za-z+/=]{8,}$',
        'x-error': 'must be the signing secret of a Stripe webhook endpoint (whsec_…)',
        description: 'Stripe only: the signing secret of the endpoint registered at `events_url`',
      }),
    ),
  },
  { additionalProperties: false },
)
export type PaymentProviderBody = Static<typeof PaymentProviderBody>

export const PaymentProviderView = Type.Object({
  object: Type.Literal('payment_provider'),
  project_id: Type.String(),
  provider: Type.Enum(['sandbox', 'stripe']),
  mode: Type.Enum(['test', 'live'], {
    description: 'From the key: sk_test_/rk_test_ keys take test payments, sk_live_/rk_live_ keys real ones',
  }),
  livemode: Type.Boolean(),
  account_id: Nullable(
    Type.String({
      description: 'paylinks’ provider account (its events URL names it); null for the sandbox',
    }),
  ),
  external_account_id: Nullable(Type.String({ description: 'The account’s id at the provider (acct_…)' })),
  secret_key_last4: Nullable(Type.String({ description: 'The last 4 characters of the saved key' })),
  webhook_secret_set: Type.Boolean({
    description:
      'Whether the signing secret is saved: until it is, events are refused and Stripe retries them',
  }),
  events_url: Nullable(
    Type.String({
      description: 'Register this URL as a webhook endpoint at the provider (Stripe: Workbench → Webhooks)',
    }),
  ),
  event_types: Type.Array(Type.String(), { description: 'The event types to enable on that endpoint' }),
  updated_at: Type.Union([IsoDateTime, Type.Null()]),
})
export type PaymentProviderView = Static<typeof PaymentProviderView>

const tags = ['projects']

export const paymentProviderRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { projects, payments, config } = services
  const { accounts } = payments

  const view = async (projectId: string): Promise<PaymentProviderView> => {
    const account = await accounts.projectAccount(projectId)
    if (!account || account.provider === 'sandbox') {
      return {
        object: 'payment_provider',
        project_id: projectId,
        provider: 'sandbox',
        mode: 'test',
        livemode: false,
        account_id: null,
        external_account_id: null,
        secret_key_last4: null,
        webhook_secret_set: false,
        events_url: null,
        event_types: [],
        updated_at: null,
      }
    }
    return {
      object: 'payment_provider',
      project_id: projectId,
      provider: account.provider,
      mode: account.livemode ? 'live' : 'test',
      livemode: account.livemode,
      account_id: account.id,
      external_account_id: account.external_account_id,
      secret_key_last4: account.secret_key_last4,
      webhook_secret_set: account.webhook_secret !== null,
      events_url: `${config.publicUrl}/providers/${account.id}/events`,
      event_types: [...(accounts.providers[account.provider]?.eventTypes ?? [])],
      updated_at: account.updated_at.toISOString(),
    }
  }

  app.get(
    '/projects/:project_id/payment-provider',
    {
      schema: {
        tags,
        summary: 'The payment provider of a project',
        description: 'Never shows a credential: only the last 4 characters of the secret key.',
        params: ProjectParams,
        response: { 200: PaymentProviderView, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const project = await projects.get(request.merchantId, request.params.project_id)
      return view(project.id)
    },
  )

  app.put(
    '/projects/:project_id/payment-provider',
    {
      schema: {
        tags,
        summary: 'Set the payment provider of a project',
        description:
          '`{"provider": "sandbox"}`, or `{"provider": "stripe", "secret_key": "sk_…", "webhook_secret": "whsec_…"}`. ' +
          'The key is checked at Stripe before anything is saved (a refused key is a 400 naming `secret_key`); ' +
          'credentials are encrypted at rest. The signing secret may follow later, once the endpoint is registered ' +
          'at `events_url`: `{"provider": "stripe", "webhook_secret": "whsec_…"}` changes only it, and a new key ' +
          'without one keeps the secret saved before. Payments made before keep the account they were made ' +
          'through (their refunds and events still work).',
        params: ProjectParams,
        body: PaymentProviderBody,
        response: { 200: PaymentProviderView, ...errors(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const project = await projects.get(request.merchantId, request.params.project_id)
      const { provider, secret_key: secretKey, webhook_secret: webhookSecret } = request.body
      if (provider === 'sandbox') {
        for (const [field, value] of [
          ['secret_key', secretKey],
          ['webhook_secret', webhookSecret],
        ] as const) {
          if (value !== undefined) throw invalid(field, 'unknown', 'is only taken with provider stripe')
        }
        await accounts.useSandbox(project.id)
      } else {
        await accounts.saveStripe(request.merchantId, project.id, { secretKey, webhookSecret })
      }
      request.log.info({ project: project.id, provider }, 'payment provider of a project set')
      return view(project.id)
    },
  )
}
