// The buyer's pages: the public paylink, the hosted payment page and its receipt. HTML for people, with
// a strict CSP, CSRF protection on the form and a rate limit per client.
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../../lib/errors.js'
import { originOf, preferredLocale, sendPage } from '../../lib/html.js'
import { isEmailAddress } from '../../lib/http.js'
import { formatMoney } from '../../lib/money.js'
import { NUL_RULE } from '../../lib/nul.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Services } from '../../services.js'
import type { OrderDetail } from '../orders/schemas.js'
import { type CardErrors, type CardForm, parseCard } from './card.js'
import type { CardInput } from './provider.js'
import type { OrderPage, Storefront } from './service.js'

const tags = ['checkout']
const Html = (description: string) => ({ description, content: { 'text/html': { schema: Type.String() } } })
const Redirect = (description: string) => ({ description, headers: { location: Type.String() } })

const PaylinkQuery = Type.Object({
  utm_source: Type.Optional(Type.String()),
  utm_medium: Type.Optional(Type.String()),
  utm_campaign: Type.Optional(Type.String()),
  currency: Type.Optional(
    Type.String({ description: 'ISO 4217 code every product of the link is priced in' }),
  ),
})

const PayForm = Type.Object({
  _csrf: Type.Optional(Type.String({ maxLength: 200 })),
  email: Type.Optional(Type.String({ maxLength: 320 })),
  card_number: Type.Optional(Type.String({ maxLength: 40 })),
  card_exp: Type.Optional(Type.String({ maxLength: 10 })),
  card_cvc: Type.Optional(Type.String({ maxLength: 10 })),
  card_name: Type.Optional(Type.String({ maxLength: 200 })),
})

interface FormState {
  values?: { email?: string | undefined; card_exp?: string | undefined; card_name?: string | undefined }
  errors?: CardErrors & { email?: string }
  error?: { heading: string; text: string }
}

export const checkoutRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { checkout, config } = services
  const sandbox = checkout.provider.name === 'sandbox'
  const secure = config.publicUrl.startsWith('https://')

  await app.register(formbody)
  await app.register(cookie, { secret: await installationSecret(services.database.db, 'cookie') })
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure },
  })
  await app.register(rateLimit, {
    global: false,
    max: config.publicRateLimit || Number.MAX_SAFE_INTEGER,
    timeWindow: '1 minute',
  })
  // PUBLIC_RATE_LIMIT=0 turns the limit off (e.g. behind a proxy that limits already, or for the benchmark).
  const limited = {
    rateLimit:
      config.publicRateLimit > 0 ? { max: config.publicRateLimit, timeWindow: '1 minute' } : (false as const),
  }

  /** The card of a form, or the buyer-facing reason per field, including the provider's refusal. */
  const readCard = (form: CardForm): { card?: CardInput; errors: NonNullable<FormState['errors']> } => {
    const parsed = parseCard(form, services.clock.now())
    if ('errors' in parsed) return { errors: { ...parsed.errors } }
    const refusal = checkout.provider.rejectCard(parsed.card)
    return refusal ? { errors: { card_number: refusal } } : { card: parsed.card, errors: {} }
  }

  const message = (
    reply: FastifyReply,
    status: number,
    page: { heading: string; text: string; hint?: string; tone?: 'error' | 'info' } & Partial<Storefront>,
  ) => sendPage(reply, 'message', { title: page.heading, sandbox, tone: 'error', ...page }, { status })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (status >= 500) request.log.error({ err: error }, 'page failed')
    if (status === 429) {
      return message(reply, 429, {
        heading: 'Too many requests',
        text: 'Please wait a minute and try again.',
      })
    }
    if (status === 403 && error.code?.startsWith('FST_CSRF')) {
      return message(reply, 403, {
        heading: 'This form has expired',
        text: 'For your security the payment form must be sent from this site. Go back, reload the page and try again.',
      })
    }
    if (error instanceof AppError && error.details?.rule === NUL_RULE) {
      return message(reply, 400, {
        heading: 'Bad request',
        text: `The link or form holds a NUL character (in ${String(error.details.field)}), which no address or field of this site can contain.`,
        hint: 'Check the link you followed, or ask the seller for a new one.',
      })
    }
    if (status < 500)
      return message(reply, status, { heading: 'Bad request', text: 'The request could not be understood.' })
    return message(reply, 500, {
      heading: 'Something went wrong',
      text: 'Your card was not charged by this request. Please try again in a moment.',
      hint: `Reference: ${request.id}`,
    })
  })

  app.get(
    '/paylink/:paylink_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'Open a paylink: records the visit, creates an order and redirects to its payment page',
        params: Type.Object({ paylink_id: Type.String({ maxLength: 64 }) }),
        querystring: PaylinkQuery,
        response: {
          302: Redirect('To the order’s payment page, keeping the query string'),
          400: Html('The requested currency cannot be used'),
          404: Html('Unknown or deleted paylink'),
          409: Html(
            'The link cannot be paid: a product was withdrawn or has no price in the currency, or the total is over the maximum amount',
          ),
          410: Html('The link has expired'),
        },
      },
    },
    async (request, reply) => {
      const raw = request.query.currency?.trim().toUpperCase()
      const currency = raw && /^[A-Z]{3}$/.test(raw) ? raw : raw ? 'invalid' : undefined
      const result = await checkout.openPaylink(
        request.params.paylink_id,
        {
          ip: request.ip,
          userAgent: request.headers['user-agent'],
          referer: request.headers.referer,
          countryHeader: config.countryHeader ? headerValue(request, config.countryHeader) : undefined,
          query: request.query,
        },
        currency,
      )
      switch (result.kind) {
        case 'order': {
          const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : ''
          return reply.redirect(`${config.publicUrl}/pay/${result.orderId}${query}`, 302)
        }
        case 'not_found':
          return message(reply, 404, {
            heading: 'Payment link not found',
            text: 'This payment link does not exist or was removed by the seller.',
          })
        case 'expired':
          return message(reply, 410, {
            ...result,
            heading: 'This payment link has expired',
            text: 'The seller set this link to expire, and it can no longer be used to pay.',
            hint: 'Ask the seller for a new link.',
          })
        case 'bad_currency':
          return message(reply, 400, {
            ...result,
            heading: 'Currency not available',
            text:
              result.currency === 'invalid'
                ? 'The currency in this link is not a valid currency code.'
                : `This link cannot be paid in ${result.currency}. Open it without a currency to pay in the seller’s default currency.`,
          })
        case 'unavailable':
          return message(reply, 409, {
            ...result,
            heading: 'This link cannot be paid right now',
            text:
              result.reason === 'archived'
                ? 'One of its products is no longer sold.'
                : result.reason === 'over_max'
                  ? 'Its total is more than one order can take.'
                  : `One of its products has no price in ${result.currency}.`,
            hint: 'Please contact the seller.',
          })
      }
    },
  )

  const orderParams = Type.Object({ order_id: Type.String({ maxLength: 64 }) })
  const orderNotFound = (reply: FastifyReply) =>
    message(reply, 404, { heading: 'Order not found', text: 'This payment page does not exist.' })

  const renderForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    page: OrderPage,
    state: FormState,
    status = 200,
  ) => {
    const locale = preferredLocale(request.headers['accept-language'])
    return sendPage(
      reply,
      'pay',
      {
        ...summary(page, locale),
        title: `Pay ${page.merchantName}`,
        sandbox,
        csrfToken: reply.generateCsrf(),
        values: state.values ?? {},
        errors: state.errors ?? {},
        error: state.error,
        // A portal order's way back, as its caller gave it (it is not where a payment ends).
        backUrl: page.order.back_url,
      },
      // The form posts here, and a successful payment redirects to the portal's back URL or the success URL.
      { status, formTargets: [originOf(returnUrl(page))].filter((o): o is string => Boolean(o)) },
    )
  }

  const renderState = (request: FastifyRequest, reply: FastifyReply, page: OrderPage) => {
    const locale = preferredLocale(request.headers['accept-language'])
    if (page.order.status === 'paid') {
      const payment = page.order.payments.find((p) => p.status === 'succeeded')
      return sendPage(reply, 'receipt', {
        ...summary(page, locale),
        title: `Receipt — ${page.merchantName}`,
        sandbox,
        paidAt: new Intl.DateTimeFormat(locale, {
          dateStyle: 'long',
          timeStyle: 'short',
          timeZone: 'UTC',
        }).format(page.order.paid_at as Date),
        card: payment?.card_last4
          ? `${capitalize(payment.card_brand ?? 'card')} ending in ${payment.card_last4}`
          : null,
        email: page.order.buyer_email,
        continueUrl: afterPayment(page),
      })
    }
    return message(reply, 410, {
      merchantName: page.merchantName,
      projectName: page.projectName,
      heading: 'This order has expired',
      text: 'It was not paid in time, and no payment was taken.',
      hint: 'Open the payment link again to start a new order.',
    })
  }

  /** A payment of the order is with the provider: its outcome, not the clock, decides the order. */
  const inProgress = (reply: FastifyReply, page: OrderPage, status: number) =>
    message(reply, status, {
      merchantName: page.merchantName,
      projectName: page.projectName,
      heading: 'Your payment is being processed',
      text: 'A payment for this order is in progress. Reload this page in a moment to see the result.',
      tone: 'info',
    })

  app.get(
    '/pay/:order_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'The hosted payment page of an order (its receipt once paid)',
        params: orderParams,
        response: {
          200: Html('Payment form or receipt'),
          404: Html('Unknown order'),
          410: Html('Expired order'),
        },
      },
    },
    async (request, reply) => {
      const page = await checkout.orderPage(request.params.order_id)
      if (!page) return orderNotFound(reply)
      if (page.order.status !== 'created') return renderState(request, reply, page)
      if (page.order.payments.some((p) => p.status === 'processing')) return inProgress(reply, page, 200)
      return renderForm(request, reply, page, {})
    },
  )

  app.post(
    '/pay/:order_id',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Pay an order with the card from the payment form',
        description: 'An order is paid at most once, whatever the number of concurrent submissions.',
        params: orderParams,
        body: PayForm,
        response: {
          303: Redirect('To the receipt, or to the project’s success URL with order_id'),
          400: Html('A field is invalid; the form again with the reason'),
          402: Html('The card was declined; the form again with the reason'),
          403: Html('The form did not come from this site (CSRF)'),
          404: Html('Unknown order'),
          409: Html('A payment for the order is already being processed'),
          410: Html('Expired order'),
        },
      },
    },
    async (request, reply) => {
      const page = await checkout.orderPage(request.params.order_id)
      if (!page) return orderNotFound(reply)
      if (page.order.status !== 'created') return renderState(request, reply, page)

      const form = request.body
      const email = form.email?.trim() ?? ''
      const values = { email, card_exp: form.card_exp, card_name: form.card_name }
      const { card, errors } = readCard(form)
      if (!email) errors.email = 'Enter your email address for the receipt.'
      else if (!isEmailAddress(email) || email.length > 254) errors.email = 'This email address is not valid.'
      if (!card || Object.keys(errors).length > 0) {
        return renderForm(
          request,
          reply,
          page,
          {
            values,
            errors,
            error: {
              heading: 'Please check the form.',
              text: 'Some details need fixing before you can pay.',
            },
          },
          400,
        )
      }

      const result = await checkout.pay(page.order.id, email, card)
      switch (result.kind) {
        case 'paid':
          return reply.redirect(
            afterPayment(result.order) ?? `${config.publicUrl}/pay/${result.order.order.id}`,
            303,
          )
        case 'declined':
          return renderForm(
            request,
            reply,
            page,
            {
              values,
              error: {
                heading: 'Payment declined.',
                text: `${result.message} (${result.code}) Try another card.`,
              },
            },
            402,
          )
        case 'failed':
          return renderForm(
            request,
            reply,
            page,
            { values, error: { heading: 'Payment failed.', text: result.message } },
            502,
          )
        case 'in_progress':
          return inProgress(reply, page, 409)
        case 'expired':
          return renderState(request, reply, { ...page, order: { ...page.order, status: 'expired' } })
        case 'not_found':
          return orderNotFound(reply)
      }
    },
  )

  // — The checkout-setup page of the portal API: saves a portal's payment method —

  const setupParams = Type.Object({ setup_id: Type.String({ maxLength: 64 }) })
  const setupNotFound = (reply: FastifyReply) =>
    message(reply, 404, { heading: 'Page not found', text: 'This setup page does not exist.' })
  /** The "saved" page of a completed setup: back to the portal when it gave a back URL, else the end. */
  const setupDone = async (
    reply: FastifyReply,
    setup: NonNullable<Awaited<ReturnType<Services['portals']['setupPage']>>>,
  ) => {
    const method = await services.portals.savedMethod(setup.id)
    return sendPage(reply, 'setup-saved', {
      title: `Payment method saved — ${setup.portal_name}`,
      sandbox,
      merchantName: setup.merchant_name,
      projectName: setup.project_name,
      portalName: setup.portal_name,
      card: method ? `${capitalize(method.card_brand)} ending in ${method.card_last4}` : null,
      continueUrl: setup.back_url ? setupReturn(setup.back_url, setup.id) : null,
    })
  }

  const renderSetup = (
    reply: FastifyReply,
    setup: NonNullable<Awaited<ReturnType<Services['portals']['setupPage']>>>,
    state: FormState,
    status = 200,
  ) =>
    sendPage(
      reply,
      'setup',
      {
        title: `Save a payment method — ${setup.portal_name}`,
        sandbox,
        merchantName: setup.merchant_name,
        projectName: setup.project_name,
        portalName: setup.portal_name,
        setupId: setup.id,
        csrfToken: reply.generateCsrf(),
        values: state.values ?? {},
        errors: state.errors ?? {},
        error: state.error,
      },
      { status, formTargets: [originOf(setup.back_url)].filter((o): o is string => Boolean(o)) },
    )

  app.get(
    '/setup/:setup_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'The hosted page where a portal saves a payment method',
        params: setupParams,
        response: {
          200: Html('Card form, or that the method was saved'),
          404: Html('Unknown setup'),
          410: Html('Expired setup'),
        },
      },
    },
    async (request, reply) => {
      const setup = await services.portals.setupPage(request.params.setup_id)
      if (!setup) return setupNotFound(reply)
      if (setup.status === 'completed') return setupDone(reply, setup)
      if (setup.expires_at.getTime() <= services.clock.now().getTime()) {
        return message(reply, 410, {
          heading: 'This page has expired',
          text: 'Ask for a new checkout setup link.',
        })
      }
      return renderSetup(reply, setup, {})
    },
  )

  app.post(
    '/setup/:setup_id',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Save the card from the setup form as the portal’s payment method',
        params: setupParams,
        body: PayForm,
        response: {
          303: Redirect('To the back URL with setup_id and status=saved, or to this page when there is none'),
          400: Html('A field is invalid'),
          402: Html('The card was declined'),
          403: Html('The form did not come from this site (CSRF)'),
          404: Html('Unknown setup'),
          410: Html('Expired setup'),
        },
      },
    },
    async (request, reply) => {
      const setup = await services.portals.setupPage(request.params.setup_id)
      if (!setup) return setupNotFound(reply)
      const values = { card_exp: request.body.card_exp, card_name: request.body.card_name }
      const { card, errors } = readCard(request.body)
      if (!card) {
        const error = { heading: 'Please check the form.', text: 'Some details need fixing.' }
        return renderSetup(reply, setup, { values, errors, error }, 400)
      }
      const result = await services.portals.completeSetup(setup.id, card)
      switch (result.kind) {
        case 'saved':
        case 'already_completed':
          return reply.redirect(
            result.backUrl ? setupReturn(result.backUrl, setup.id) : `${config.publicUrl}/setup/${setup.id}`,
            303,
          )
        case 'declined': {
          const error = {
            heading: 'Card declined.',
            text: `${result.message} (${result.code}) Try another card.`,
          }
          return renderSetup(reply, setup, { values, error }, 402)
        }
        case 'expired':
          return message(reply, 410, {
            heading: 'This page has expired',
            text: 'Ask for a new checkout setup link.',
          })
        case 'not_found':
          return setupNotFound(reply)
      }
    },
  )
}

/**
 * Where a paid order sends its buyer: a portal order's success URL, else its back URL, else the
 * project's success URL.
 */
function returnUrl(page: OrderPage): string | null {
  return page.order.success_url ?? page.order.back_url ?? page.successUrl
}

function afterPayment(page: OrderPage): string | null {
  const portalReturn = page.order.success_url ?? page.order.back_url
  if (portalReturn) return appendParams(portalReturn, { order_id: page.order.id, status: page.order.status })
  return page.successUrl ? appendParams(page.successUrl, { order_id: page.order.id }) : null
}

function setupReturn(backUrl: string, setupId: string): string {
  return appendParams(backUrl, { setup_id: setupId, status: 'saved' })
}

function summary(page: OrderPage, locale: string) {
  const { order } = page
  return {
    lang: locale,
    orderId: order.id,
    merchantName: page.merchantName,
    projectName: page.projectName,
    total: formatMoney(order.total_amount, order.currency, locale),
    items: itemsView(order, locale),
  }
}

function itemsView(order: OrderDetail, locale: string) {
  return order.items.map((item) => ({
    name: item.name,
    quantity: item.quantity,
    amount: formatMoney(item.unit_amount * item.quantity, order.currency, locale),
  }))
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}

/**
 * A return URL as its caller gave it, byte for byte, with our parameters after its query (`&` when it
 * has a `?` already, `?` otherwise) and before its fragment. It is not parsed and rebuilt: that would
 * re-encode what the caller put there (DocSpace's `…?tab=methods?complete=true` would come back with its
 * second `?` as `%3F`, and its client would never see `complete=true`).
 */
export function appendParams(url: string, params: Record<string, string>): string {
  const hash = url.indexOf('#')
  const base = hash === -1 ? url : url.slice(0, hash)
  const fragment = hash === -1 ? '' : url.slice(hash)
  const query = Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&')
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&'
  return `${base}${separator}${query}${fragment}`
}
