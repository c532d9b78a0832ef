// The sandbox's own card page: where the buyer types a (test) card, as they would on a provider's hosted
// checkout. Nothing here is paylinks' payment page; the card number is read here and only its summary is kept.
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { AppError, askToRetry, withUnavailable } from '../../lib/errors.js'
import { originOf, sendPage } from '../../lib/html.js'
import { formatMoney } from '../../lib/money.js'
import { NUL_RULE } from '../../lib/nul.js'
import type { SandboxSessionRow } from '../../lib/schema.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Services } from '../../services.js'
import { type CardErrors, parseCard } from './card.js'
import { CARD_HINTS } from './cards.js'
import type { PageStep } from './service.js'

const tags = ['sandbox provider']
const Html = (description: string) => ({ description, content: { 'text/html': { schema: Type.String() } } })
const Redirect = (description: string) => ({ description, headers: { location: Type.String() } })

const CardForm = Type.Object({
  _csrf: Type.Optional(Type.String({ maxLength: 200 })),
  card_number: Type.Optional(Type.String({ maxLength: 40 })),
  card_exp: Type.Optional(Type.String({ maxLength: 10 })),
  card_cvc: Type.Optional(Type.String({ maxLength: 10 })),
  card_name: Type.Optional(Type.String({ maxLength: 200 })),
})

export const sandboxRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { sandbox, config } = services
  const secure = config.publicUrl.startsWith('https://')
  await app.register(formbody)
  await app.register(cookie, { secret: await installationSecret(services.database.db, 'cookie') })
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: '_sandbox_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/sandbox', secure },
  })
  await app.register(rateLimit, { global: false })
  const limited = {
    rateLimit:
      config.publicRateLimit > 0 ? { max: config.publicRateLimit, timeWindow: '1 minute' } : (false as const),
  }

  const message = (reply: FastifyReply, status: number, heading: string, text: string, link?: string) =>
    sendPage(
      reply,
      'sandbox/message',
      {
        title: heading,
        heading,
        text,
        tone: status >= 400 ? 'error' : 'info',
        ...(link ? { linkHref: link, linkText: 'Back to the shop' } : {}),
      },
      { status, formTargets: link ? [originOf(link) as string] : [] },
    )

  app.setErrorHandler((thrown: FastifyError, request, reply) => {
    const error = withUnavailable(thrown) as FastifyError
    if (askToRetry(error, 503, request, reply)) {
      return message(
        reply,
        503,
        'Unavailable for a moment',
        'This page could not be served just now. No card was charged; please try again in a few seconds.',
      )
    }
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status >= 500) request.log.error({ err: error }, 'sandbox page failed')
    if (status === 403 && error.code?.startsWith('FST_CSRF'))
      return message(reply, 403, 'This form has expired', 'Go back, reload the page and try again.')
    if (status === 429) return message(reply, 429, 'Too many requests', 'Please wait a minute and try again.')
    if (error instanceof AppError && error.details?.rule === NUL_RULE) {
      return message(
        reply,
        400,
        'Bad request',
        `The link or form holds a NUL character (in ${String(error.details.field)}), which no card field can contain.`,
      )
    }
    if (status < 500) return message(reply, status, 'Bad request', 'The request could not be understood.')
    return message(reply, 500, 'Something went wrong', `No card was charged. Reference: ${request.id}`)
  })

  const page = async (
    reply: FastifyReply,
    session: SandboxSessionRow,
    state: { error?: string; errors?: CardErrors; values?: Record<string, string | undefined> } = {},
    status = 200,
  ) => {
    const merchant = await services.payments.accounts.businessName(session.account_id)
    const amount =
      session.amount !== null && session.currency ? formatMoney(Number(session.amount), session.currency) : ''
    const data = {
      title: session.mode === 'setup' ? 'Save a card' : `Pay ${amount}`,
      merchant,
      mode: session.mode,
      amount,
      description: session.description,
      email: session.email,
      sessionId: session.id,
      cancelUrl: session.cancel_url,
      csrfToken: reply.generateCsrf(),
      cards: CARD_HINTS,
      error: state.error,
      errors: state.errors ?? {},
      values: state.values ?? {},
      last4: session.card_last4,
    }
    // The page's forms post here and then send the buyer back to the shop.
    const formTargets = [originOf(session.return_url), originOf(session.cancel_url)].filter(
      (o): o is string => Boolean(o),
    )
    if (session.status === 'requires_action')
      return sendPage(reply, 'sandbox/challenge', data, { status, formTargets })
    return sendPage(reply, 'sandbox/checkout', data, { status, formTargets })
  }

  const follow = async (
    reply: FastifyReply,
    session: SandboxSessionRow,
    step: PageStep,
    values: Record<string, string | undefined>,
  ) => {
    // Back to the shop by a page of its own, as hosted checkouts do: a redirect would chain the shop's own
    // redirects (to a success URL anywhere) onto this form's submission, which form-action would refuse.
    if (step.kind === 'redirect') {
      const heading = session.mode === 'setup' ? 'Card details sent' : 'Payment details sent'
      return sendPage(reply, 'sandbox/returning', {
        title: heading,
        heading,
        url: step.url,
        refreshUrl: step.url,
      })
    }
    const fresh = (await sandbox.pageSession(session.id)) as SandboxSessionRow
    if (step.kind === 'challenge') return page(reply, fresh)
    return page(reply, fresh, { error: step.message, values }, 402)
  }

  const params = Type.Object({ session_id: Type.String({ maxLength: 64 }) })
  const notFound = (reply: FastifyReply) =>
    message(reply, 404, 'Payment page not found', 'This sandbox payment page does not exist.')

  app.get(
    '/sandbox/checkout/:session_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'The sandbox provider’s own card page of a session',
        params,
        response: {
          200: Html('The card form, or the 3-D Secure step'),
          303: Redirect('Back to the shop'),
          404: Html('Unknown session'),
        },
      },
    },
    async (request, reply) => {
      const session = await sandbox.pageSession(request.params.session_id)
      if (!session) return notFound(reply)
      if (session.status === 'open' || session.status === 'requires_action') return page(reply, session)
      return reply.redirect(session.return_url, 303)
    },
  )

  app.post(
    '/sandbox/checkout/:session_id',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Pay (or save the card) with a test card on the sandbox’s page',
        params,
        body: CardForm,
        response: {
          200: Html('The 3-D Secure step, or the page that takes the buyer back to the shop'),
          400: Html('A card field is invalid'),
          402: Html('Not a test card'),
          403: Html('The form did not come from this page (CSRF)'),
          404: Html('Unknown session'),
        },
      },
    },
    async (request, reply) => {
      const session = await sandbox.pageSession(request.params.session_id)
      if (!session) return notFound(reply)
      const values = { card_exp: request.body.card_exp, card_name: request.body.card_name }
      const parsed = parseCard(request.body, services.clock.now())
      if ('errors' in parsed)
        return page(
          reply,
          session,
          { errors: parsed.errors, values, error: 'Please check the card details.' },
          400,
        )
      return follow(reply, session, await sandbox.submitCard(session.id, parsed.card), values)
    },
  )

  app.post(
    '/sandbox/checkout/:session_id/challenge',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Approve or deny the 3-D Secure step of a sandbox session',
        params,
        body: Type.Object({
          _csrf: Type.Optional(Type.String({ maxLength: 200 })),
          answer: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
        }),
        response: {
          200: Html('The page that takes the buyer back to the shop'),
          403: Html('The form did not come from this page (CSRF)'),
          404: Html('Unknown session'),
        },
      },
    },
    async (request, reply) => {
      const session = await sandbox.pageSession(request.params.session_id)
      if (!session) return notFound(reply)
      return follow(
        reply,
        session,
        await sandbox.answerChallenge(session.id, request.body.answer === 'approve'),
        {},
      )
    },
  )
}
