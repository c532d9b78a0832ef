// The buyer's pages: the public paylink, the hosted payment page and its receipt. HTML for people, with
// a strict CSP, CSRF protection on the form and a rate limit per client.
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError, askToRetry, withUnavailable } from '../../lib/errors.js'
import { QueueFullError } from '../../lib/group-commit.js'
import { originOf, preferredLocale, sendPage } from '../../lib/html.js'
import { isEmailAddress } from '../../lib/http.js'
import { formatMoney } from '../../lib/money.js'
import { NUL_RULE } from '../../lib/nul.js'
import type { PaymentRow } from '../../lib/schema.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Services } from '../../services.js'
import type { OrderDetail } from '../orders/schemas.js'
import { isPreviewBot } from './bots.js'
import { appendParams } from './return-urls.js'
import type { OrderPage } from './service.js'
import { type MessagePage, setupPages } from './setup-routes.js'

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
})

interface FormState {
  values?: { email?: string | undefined }
  errors?: { email?: string }
  error?: { heading: string; text: string }
  notice?: { heading: string; text: string }
}

export const checkoutRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { checkout, config } = services
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

  const message = (reply: FastifyReply, status: number, page: MessagePage) =>
    sendPage(reply, 'message', { title: page.heading, tone: 'error', ...page }, { status })

  app.setErrorHandler((thrown: FastifyError, request, reply) => {
    const error = withUnavailable(thrown) as FastifyError
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    // Overload (a full queue of visits to write) or a database away for a moment, not a fault.
    if (askToRetry(error, status, request, reply)) {
      if (error instanceof QueueFullError) {
        return message(reply, status, {
          heading: 'Too busy right now',
          text: 'Too many people are opening payment links at this moment. Nothing was ordered and no money was taken.',
          hint: 'Please try again in a few seconds.',
        })
      }
      // Only the paylink itself is sure that nothing exists yet; on an order's pages the buyer may have
      // paid already, which the provider keeps and paylinks learns of once the database is back.
      const opening = request.routeOptions.url === '/paylink/:paylink_id'
      return message(reply, status, {
        heading: 'Unavailable for a moment',
        text: opening
          ? 'This page could not be served just now. Nothing was ordered and no money was taken.'
          : 'This page could not be served just now. If you have paid, your payment is safe and will show here.',
        hint: opening ? 'Please try again in a few seconds.' : 'Please reload this page in a few seconds.',
      })
    }
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
        description:
          'A link-preview bot or crawler (by its User-Agent) and a HEAD request get a 200 page describing the ' +
          'link, with OpenGraph tags, instead: their visit is recorded as a bot’s, not counted in the ' +
          'statistics, and no order is created.',
        params: Type.Object({ paylink_id: Type.String({ maxLength: 64 }) }),
        querystring: PaylinkQuery,
        response: {
          200: Html(
            'For bots and HEAD: the merchant, the products and the total, with OpenGraph tags; no order',
          ),
          302: Redirect('To the order’s payment page, keeping the query string'),
          400: Html('The requested currency cannot be used'),
          404: Html('Unknown or deleted paylink'),
          409: Html(
            'The link cannot be paid: a product was withdrawn or has no price in the currency, or the total is over the maximum amount',
          ),
          410: Html('The link has expired'),
          503: {
            ...Html('Too many visits are waiting to be written: nothing was recorded; try again later'),
            headers: { 'retry-after': Type.String({ description: 'Seconds to wait before trying again' }) },
          },
        },
      },
    },
    async (request, reply) => {
      const raw = request.query.currency?.trim().toUpperCase()
      const currency = raw && /^[A-Z]{3}$/.test(raw) ? raw : raw ? 'invalid' : undefined
      const userAgent = request.headers['user-agent']
      const result = await checkout.openPaylink(
        request.params.paylink_id,
        {
          ip: request.ip,
          userAgent,
          referer: request.headers.referer,
          countryHeader: config.countryHeader ? headerValue(request, config.countryHeader) : undefined,
          query: request.query,
        },
        // HEAD (Fastify answers it with this handler, without the body) only asks what is there.
        { currency, bot: request.method === 'HEAD' || isPreviewBot(userAgent) },
      )
      switch (result.kind) {
        case 'preview': {
          const locale = preferredLocale(request.headers['accept-language'])
          const total = formatMoney(result.total, result.currency, locale)
          return sendPage(reply, 'preview', {
            lang: locale,
            title: `Pay ${result.merchantName}`,
            merchantName: result.merchantName,
            projectName: result.projectName,
            items: result.lines.map((line) => ({
              name: line.name,
              quantity: 1,
              amount: formatMoney(line.amount, result.currency, locale),
            })),
            total,
            og: {
              siteName: result.merchantName,
              title: `${result.lines.map((line) => line.name).join(', ')} — ${result.merchantName}`,
              description: `Pay ${total} to ${result.merchantName} with this payment link.`,
              url: `${config.publicUrl}/paylink/${request.params.paylink_id}`,
            },
          })
        }
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
  const paymentQuery = Type.Object({ payment: Type.String({ maxLength: 64 }) })
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
        provider: page.provider,
        csrfToken: reply.generateCsrf(),
        values: state.values ?? {},
        errors: state.errors ?? {},
        error: state.error,
        notice: state.notice,
        // A portal order's way back, as its caller gave it (it is not where a payment ends).
        backUrl: page.order.back_url,
      },
      // The form posts here, then sends the buyer to the provider's page.
      { status, formTargets: [originOf(page.provider.pageOrigin)].filter((o): o is string => Boolean(o)) },
    )
  }

  /** The order is with its provider: the page looks again by itself in a moment. */
  const processing = (reply: FastifyReply, page: OrderPage, refreshUrl: string, status = 200) =>
    message(reply, status, {
      merchantName: page.merchantName,
      projectName: page.projectName,
      heading: 'Your payment is being processed',
      text: 'The payment provider has not confirmed your payment yet. This page updates by itself; you may also reload it.',
      tone: 'info',
      refreshSeconds: 3,
      refreshUrl,
    })

  const renderState = (request: FastifyRequest, reply: FastifyReply, page: OrderPage) => {
    const locale = preferredLocale(request.headers['accept-language'])
    const { order } = page
    if (order.status !== 'created' && order.status !== 'expired') {
      const payment = order.payments.find((p) => p.id === order.payment_id)
      return sendPage(reply, 'receipt', {
        ...summary(page, locale),
        title: `Receipt — ${page.merchantName}`,
        // The mode the order was paid in, whatever account its project uses now.
        provider: payment ? { ...page.provider, livemode: payment.livemode } : page.provider,
        paidAt: new Intl.DateTimeFormat(locale, {
          dateStyle: 'long',
          timeStyle: 'short',
          timeZone: 'UTC',
        }).format(order.paid_at as Date),
        card: payment?.card_last4
          ? `${capitalize(payment.card_brand ?? 'card')} ending in ${payment.card_last4}`
          : null,
        email: order.buyer_email,
        refunded:
          order.amount_refunded > 0 ? formatMoney(order.amount_refunded, order.currency, locale) : null,
        fullyRefunded: order.status === 'refunded',
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

  /** What the buyer sees of a payment once the provider has been asked about it. */
  const afterLookup = (
    request: FastifyRequest,
    reply: FastifyReply,
    page: OrderPage,
    payment: PaymentRow,
    returnUrl: string,
  ) => {
    // An order past taking payments shows what it is (receipt, or expired), whatever this payment did,
    // unless this payment is money that came too late, which goes back.
    if (
      page.order.status !== 'created' &&
      page.order.payment_id !== payment.id &&
      payment.status !== 'succeeded'
    )
      return renderState(request, reply, page)
    switch (payment.status) {
      case 'succeeded': {
        if (page.order.payment_id !== payment.id) {
          // The order could not take this payment (paid already, or expired): it goes back in full.
          return message(reply, 200, {
            merchantName: page.merchantName,
            projectName: page.projectName,
            heading: 'Your payment is being refunded',
            text:
              page.order.status === 'expired'
                ? 'The order had expired when your payment arrived, so the full amount is being refunded to you.'
                : 'The order had already been paid, so this second payment is being refunded to you in full.',
            tone: 'info',
          })
        }
        // Paid: on to where the order sends its buyer, or to the order's own page, which is its receipt now.
        return reply.redirect(afterPayment(page) ?? `${config.publicUrl}/pay/${page.order.id}`, 303)
      }
      case 'processing':
      case 'unknown':
        return processing(reply, page, returnUrl)
      case 'pending':
      case 'requires_action':
        return renderForm(request, reply, page, {
          values: { email: page.order.buyer_email ?? undefined },
          notice: {
            heading: 'You have not finished paying.',
            text: 'Continue to the payment page to pay, or use another card.',
          },
        })
      case 'failed':
        return renderForm(
          request,
          reply,
          page,
          {
            values: { email: page.order.buyer_email ?? undefined },
            error: {
              heading: 'Payment failed.',
              text: `${payment.failure_message ?? 'The payment did not go through.'}${payment.failure_code ? ` (${payment.failure_code})` : ''} No money was taken. You can try again.`,
            },
          },
          402,
        )
      case 'canceled':
        return renderForm(request, reply, page, {
          values: { email: page.order.buyer_email ?? undefined },
          notice: {
            heading: 'Payment canceled.',
            text: 'No money was taken. You can pay whenever you are ready.',
          },
        })
    }
  }

  app.get(
    '/pay/:order_id',
    {
      config: limited,
      schema: {
        tags,
        summary: 'The hosted payment page of an order (its receipt once paid)',
        params: orderParams,
        response: {
          200: Html(
            'The order and the button to the provider’s payment page, the processing page, or the receipt',
          ),
          404: Html('Unknown order'),
          410: Html('Expired order'),
        },
      },
    },
    async (request, reply) => {
      const page = await checkout.orderPage(request.params.order_id)
      if (!page) return orderNotFound(reply)
      if (page.order.status !== 'created') return renderState(request, reply, page)
      const open = page.order.payments.find((p) => p.status === 'processing' || p.status === 'unknown')
      if (open)
        return processing(reply, page, `${config.publicUrl}/pay/${page.order.id}/return?payment=${open.id}`)
      return renderForm(request, reply, page, { values: { email: page.order.buyer_email ?? undefined } })
    },
  )

  app.post(
    '/pay/:order_id',
    {
      config: limited,
      preHandler: app.csrfProtection,
      schema: {
        tags,
        summary: 'Start paying an order: sends the buyer to the payment provider’s page',
        description:
          'No card details are taken here: the buyer enters them on the provider’s own page. One payment per ' +
          'order is open at a time; submitting again continues it.',
        params: orderParams,
        body: PayForm,
        response: {
          303: Redirect('To the provider’s payment page, or to the receipt'),
          400: Html('The email is invalid'),
          402: Html('The provider refused the payment'),
          403: Html('The form did not come from this site (CSRF)'),
          404: Html('Unknown order'),
          409: Html('A payment of the order is being processed'),
          410: Html('Expired order'),
          503: Html('The provider could not be reached'),
        },
      },
    },
    async (request, reply) => {
      const page = await checkout.orderPage(request.params.order_id)
      if (!page) return orderNotFound(reply)
      if (page.order.status !== 'created') return renderState(request, reply, page)
      const email = request.body.email?.trim() ?? ''
      const emailError = !email
        ? 'Enter your email address for the receipt.'
        : !isEmailAddress(email) || email.length > 254
          ? 'This email address is not valid.'
          : undefined
      if (emailError) {
        return renderForm(
          request,
          reply,
          page,
          {
            values: { email },
            errors: { email: emailError },
            error: {
              heading: 'Please check the form.',
              text: 'Your email address is needed for the receipt.',
            },
          },
          400,
        )
      }
      const result = await services.payments.start(page.order.id, email)
      switch (result.kind) {
        case 'redirect':
          return reply.redirect(result.url, 303)
        case 'in_progress':
          return processing(
            reply,
            page,
            `${config.publicUrl}/pay/${page.order.id}/return?payment=${result.payment.id}`,
            409,
          )
        case 'closed': {
          const fresh = (await checkout.orderPage(page.order.id)) as OrderPage
          return renderState(request, reply, fresh)
        }
        case 'refused':
          return renderForm(
            request,
            reply,
            page,
            { values: { email }, error: { heading: 'This payment cannot be made.', text: result.message } },
            402,
          )
        case 'unavailable':
          return renderForm(
            request,
            reply,
            page,
            {
              values: { email },
              error: {
                heading: 'The payment provider could not be reached.',
                text: 'No money was taken. Please try again in a moment.',
              },
            },
            503,
          )
        case 'not_found':
          return orderNotFound(reply)
      }
    },
  )

  const lookedUp =
    (which: 'refresh' | 'cancel') =>
    async (
      request: FastifyRequest<{ Params: { order_id: string }; Querystring: { payment: string } }>,
      reply: FastifyReply,
    ) => {
      const { order_id: orderId } = request.params
      const paymentId = request.query.payment
      const payment =
        which === 'refresh'
          ? await services.payments.refresh(orderId, paymentId)
          : await services.payments.cancel(orderId, paymentId)
      const page = payment ? await checkout.orderPage(orderId) : undefined
      if (!payment || !page) return orderNotFound(reply)
      return afterLookup(
        request,
        reply,
        page,
        payment,
        `${config.publicUrl}/pay/${orderId}/return?payment=${paymentId}`,
      )
    }

  const lookupResponses = {
    200: Html('The receipt, the processing page, or the payment page again with what happened'),
    303: Redirect('To where the order sends its buyer after paying'),
    402: Html('The payment failed'),
    404: Html('Unknown order or payment'),
  }

  app.get(
    '/pay/:order_id/return',
    {
      config: limited,
      schema: {
        tags,
        summary: 'Where the provider sends the buyer back: the payment is looked up before anything is shown',
        params: orderParams,
        querystring: paymentQuery,
        response: lookupResponses,
      },
    },
    lookedUp('refresh'),
  )

  app.get(
    '/pay/:order_id/cancel',
    {
      config: limited,
      schema: {
        tags,
        summary:
          'The buyer gave up at the provider: the session is closed there, unless it completed meanwhile',
        params: orderParams,
        querystring: paymentQuery,
        response: lookupResponses,
      },
    },
    lookedUp('cancel'),
  )

  await setupPages(app, { services, message, limited })
}

/**
 * Where a paid order sends its buyer: a portal order's success URL, else its back URL, else the
 * project's success URL.
 */
function afterPayment(page: OrderPage): string | null {
  const portalReturn = page.order.success_url ?? page.order.back_url
  if (portalReturn) return appendParams(portalReturn, { order_id: page.order.id, status: 'paid' })
  return page.successUrl ? appendParams(page.successUrl, { order_id: page.order.id }) : null
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
