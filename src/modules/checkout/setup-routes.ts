// The checkout-setup page of the portal API: a portal saves a payment method, entered on the provider's
// own page; paylinks keeps what may be shown of it (brand, last 4, expiry) and the provider's reference.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { originOf, sendPage } from '../../lib/html.js'
import type { Services } from '../../services.js'
import type { SetupPage } from '../portals/service.js'
import { appendParams } from './return-urls.js'

const tags = ['checkout']
const Html = (description: string) => ({ description, content: { 'text/html': { schema: Type.String() } } })
const Redirect = (description: string) => ({ description, headers: { location: Type.String() } })

export interface MessagePage {
  heading: string
  text: string
  hint?: string
  tone?: 'error' | 'info'
  merchantName?: string
  projectName?: string
  linkHref?: string
  linkText?: string
  refreshSeconds?: number
  refreshUrl?: string
}

export async function setupPages(
  parent: FastifyInstance,
  kit: {
    services: Services
    message: (reply: FastifyReply, status: number, page: MessagePage) => FastifyReply
    limited: { rateLimit: false | { max: number; timeWindow: string } }
  },
): Promise<void> {
  const { services, message, limited } = kit
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { portals } = services
  const params = Type.Object({ setup_id: Type.String({ maxLength: 64 }) })
  const notFound = (reply: FastifyReply) =>
    message(reply, 404, { heading: 'Page not found', text: 'This setup page does not exist.' })
  const expired = (reply: FastifyReply) =>
    message(reply, 410, { heading: 'This page has expired', text: 'Ask for a new checkout setup link.' })
  /** Saved: back to the portal when it gave a back URL, else our own "saved" page naming the card. */
  /**
   * Saved: on the return, back to the portal when it gave a back URL; else, and on the page itself later,
   * our own "saved" page naming the card (with the way back to the portal, if any).
   */
  const done = async (reply: FastifyReply, setup: SetupPage, returning = false) => {
    const back = setup.back_url ? appendParams(setup.back_url, { setup_id: setup.id, status: 'saved' }) : null
    if (back && returning) return reply.redirect(back, 303)
    const method = await portals.savedMethod(setup.id)
    const brand = method ? `${method.card_brand.charAt(0).toUpperCase()}${method.card_brand.slice(1)}` : ''
    return sendPage(reply, 'setup-saved', {
      title: `Payment method saved — ${setup.portal_name}`,
      merchantName: setup.merchant_name,
      projectName: setup.project_name,
      portalName: setup.portal_name,
      card: method ? `${brand} ending in ${method.card_last4}` : null,
      continueUrl: back,
    })
  }

  const render = (
    reply: FastifyReply,
    setup: SetupPage,
    state: { error?: { heading: string; text: string }; notice?: { heading: string; text: string } } = {},
    status = 200,
  ) =>
    sendPage(
      reply,
      'setup',
      {
        title: `Save a payment method — ${setup.portal_name}`,
        merchantName: setup.merchant_name,
        projectName: setup.project_name,
        portalName: setup.portal_name,
        setupId: setup.id,
        provider: setup.provider,
        csrfToken: reply.generateCsrf(),
        error: state.error,
        notice: state.notice,
      },
      { status, formTargets: [originOf(setup.provider.pageOrigin)].filter((o): o is string => Boolean(o)) },
    )

  app.get(
    '/setup/:setup_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'The hosted page where a portal saves a payment method',
        params,
        response: {
          200: Html('What will be saved, and the button to the provider’s page'),
          303: Redirect('Saved already: to the back URL'),
          404: Html('Unknown setup'),
          410: Html('Expired setup'),
        },
      },
    },
    async (request, reply) => {
      const setup = await portals.setupPage(request.params.setup_id)
      if (!setup) return notFound(reply)
      if (setup.status === 'completed') return done(reply, setup)
      if (setup.expires_at.getTime() <= services.clock.now().getTime()) return expired(reply)
      return render(reply, setup)
    },
  )

  app.post(
    '/setup/:setup_id',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Go to the provider’s page to enter the card to save',
        params,
        body: Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: {
          303: Redirect('To the provider’s page, or to the back URL when saved already'),
          402: Html('The provider refused'),
          403: Html('The form did not come from this site (CSRF)'),
          404: Html('Unknown setup'),
          410: Html('Expired setup'),
          503: Html('The provider could not be reached'),
        },
      },
    },
    async (request, reply) => {
      const result = await portals.startSetupSession(request.params.setup_id)
      switch (result.kind) {
        case 'redirect':
          return reply.redirect(result.url, 303)
        case 'completed':
          return done(reply, result.setup, true)
        case 'expired':
          return expired(reply)
        case 'not_found':
          return notFound(reply)
        case 'refused':
        case 'unavailable':
          return render(
            reply,
            result.setup,
            {
              error: {
                heading:
                  result.kind === 'refused'
                    ? 'The card cannot be saved.'
                    : 'The payment provider could not be reached.',
                text: result.message,
              },
            },
            result.kind === 'refused' ? 402 : 503,
          )
      }
    },
  )

  app.get(
    '/setup/:setup_id/return',
    {
      config: limited,
      schema: {
        tags,
        summary: 'Where the provider sends the portal back: the setup is looked up before anything is shown',
        params,
        response: {
          200: Html('Saved (no back URL), or the setup page again with what happened'),
          303: Redirect('Saved: to the back URL with setup_id and status=saved'),
          402: Html('The card was declined'),
          404: Html('Unknown setup'),
        },
      },
    },
    async (request, reply) => {
      const result = await portals.refreshSetup(request.params.setup_id)
      if (!result) return notFound(reply)
      const { setup, snapshot } = result
      if (setup.status === 'completed') return done(reply, setup, true)
      if (snapshot?.status === 'failed') {
        return render(
          reply,
          setup,
          {
            error: {
              heading: 'The card was not saved.',
              text: `${snapshot.failure?.message ?? 'The provider declined it.'}${snapshot.failure ? ` (${snapshot.failure.code})` : ''} Try again or use another card.`,
            },
          },
          402,
        )
      }
      return render(reply, setup, {
        notice:
          snapshot?.status === 'canceled'
            ? { heading: 'Nothing was saved.', text: 'You can add a card whenever you are ready.' }
            : { heading: 'The card is not saved yet.', text: 'Continue to the provider’s page to finish.' },
      })
    },
  )
}
