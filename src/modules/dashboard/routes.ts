// The merchant dashboard: server-rendered pages with progressive enhancement under /dashboard. Sign-in
// with email and password opens a database session held in an HttpOnly cookie; every form carries a
// CSRF token; the sign-in form is rate limited per client, and per email by the user service.
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { askToRetry, withUnavailable } from '../../lib/errors.js'
import { sendPage } from '../../lib/html.js'
import { installationSecret } from '../../lib/secrets.js'
import type { Services } from '../../services.js'
import type { InternalCredential } from '../merchants/auth.js'
import { isHashingBusy } from '../users/password.js'
import { minutes, SESSION_MAX_AGE_MS, type User } from '../users/service.js'
import { accountPages } from './account.js'
import { AdminClient, ApiFailure, NotFoundError } from './api.js'
import { catalogPages } from './catalog.js'
import { operationsPages } from './operations.js'
import { orderPages } from './orders.js'
import { paylinkPages } from './paylinks.js'
import { CHART_SCRIPT, fmt, NOTICES, type Notice } from './view.js'

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null
    admin: AdminClient
  }
  interface FastifyContextConfig {
    /** A dashboard route anyone may open (the sign-in form). */
    signedOut?: boolean
  }
}

export const DASHBOARD = '/dashboard'
/** Retry-After of a page whose API call answered 503 (the API's own header stays with the API's answer). */
const DASHBOARD_RETRY_AFTER_SECONDS = 5

export interface PageKit {
  services: Services
  /** Renders a dashboard page for the signed-in user. */
  render(
    request: FastifyRequest,
    reply: FastifyReply,
    template: string,
    data: Record<string, unknown>,
    status?: number,
  ): FastifyReply
  /** Redirects after a form (303), with a notice shown by the next page. */
  done(reply: FastifyReply, path: string, notice?: Notice): FastifyReply
  /** The session token of the request's cookie. */
  sessionToken(request: FastifyRequest): string | undefined
}

export const dashboardPages: FastifyPluginAsync<{
  services: Services
  credential: InternalCredential
}> = async (app, { services, credential }) => {
  const secure = services.config.publicUrl.startsWith('https://')
  // __Host- binds the cookie to this origin and path / (browsers require Secure for it).
  const SESSION_COOKIE = secure ? '__Host-paylinks_session' : 'paylinks_session'

  await app.register(formbody)
  await app.register(cookie, { secret: await installationSecret(services.database.db, 'cookie') })
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: '_dashboard_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: DASHBOARD, secure },
  })
  await app.register(rateLimit, { global: false })

  // Pages for people, not API operations: kept out of /openapi.json.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true }
  })
  app.decorateRequest('user', null)
  app.decorateRequest('admin', null as unknown as AdminClient)

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.signedOut) return
    const user = await services.users.sessionUser(request.cookies[SESSION_COOKIE])
    if (!user) {
      const next = request.method === 'GET' ? `?next=${encodeURIComponent(request.url)}` : ''
      return reply.redirect(`${DASHBOARD}/login${next}`, 303)
    }
    request.user = user
    request.admin = new AdminClient(app, credential, user.merchant_id, request.id)
  })
  // The body (with its _csrf field) is parsed by now; every state change is a POST.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'POST') app.csrfProtection(request, reply, done)
    else done()
  })

  const kit: PageKit = {
    services,
    render(request, reply, template, data, status = 200) {
      const notice = NOTICES[(request.query as { notice?: string }).notice as Notice] as string | undefined
      return sendPage(
        reply,
        `dashboard/${template}`,
        {
          user: request.user,
          csrfToken: reply.generateCsrf(),
          notice,
          fmt,
          chartScript: CHART_SCRIPT,
          ...data,
        },
        { status },
      )
    },
    done(reply, path, notice) {
      return reply.redirect(
        `${DASHBOARD}${path}${notice ? `${path.includes('?') ? '&' : '?'}notice=${notice}` : ''}`,
        303,
      )
    },
    sessionToken: (request) => request.cookies[SESSION_COOKIE],
  }

  const message = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    heading: string,
    text: string,
  ) => kit.render(request, reply, 'message', { title: heading, heading, text, status }, status)

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof NotFoundError) {
      return message(
        request,
        reply,
        404,
        'Not found',
        'There is nothing here, or it belongs to another merchant.',
      )
    }
    if (error.statusCode === 429) {
      return message(request, reply, 429, 'Too many attempts', 'Please wait a few minutes and try again.')
    }
    if (error.statusCode === 403 && error.code?.startsWith('FST_CSRF')) {
      return message(
        request,
        reply,
        403,
        'This form has expired',
        'Forms must be sent from this dashboard. Go back, reload the page and try again.',
      )
    }
    // An API refusal carries the API's status and message; any other 4xx its own.
    const [status, text] =
      error instanceof ApiFailure ? [error.status, error.error.message] : [error.statusCode, error.message]
    if (status && status < 500) return message(request, reply, status, 'Bad request', text)
    // The database away for a moment, seen here or by the API the page called.
    const unavailable = withUnavailable(error)
    if (askToRetry(unavailable, 503, request, reply) || (error instanceof ApiFailure && status === 503)) {
      if (!reply.hasHeader('retry-after')) reply.header('retry-after', String(DASHBOARD_RETRY_AFTER_SECONDS))
      // The API's own reason when it gave one (a provider that could not be reached, say), as 4xx show theirs.
      return message(
        request,
        reply,
        503,
        'Unavailable for a moment',
        error instanceof ApiFailure
          ? error.error.message
          : 'This page could not be served just now. Please try again in a few seconds.',
      )
    }
    request.log.error({ err: error }, 'dashboard page failed')
    return message(
      request,
      reply,
      500,
      'Something went wrong',
      `Nothing was changed. Reference: ${request.id}`,
    )
  })
  app.setNotFoundHandler((request, reply) =>
    message(request, reply, 404, 'Not found', 'There is no such page in the dashboard.'),
  )

  // Chart.js's own UMD build, served as is: no bundler is needed for one file. Read on first use, not
  // at start-up: most processes (and every test app) never serve it.
  let chartJs: Promise<Buffer> | undefined
  app.get(CHART_SCRIPT.slice(DASHBOARD.length), { config: { signedOut: true } }, async (_request, reply) => {
    chartJs ??= fs.readFile(
      path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'),
    )
    const script = await chartJs
    return reply
      .header('cache-control', 'public, max-age=86400')
      .header('x-content-type-options', 'nosniff')
      .type('text/javascript; charset=utf-8')
      .send(script)
  })

  app.get('/', async (_request, reply) => reply.redirect(`${DASHBOARD}/projects`, 303))

  const loginPage = (
    reply: FastifyReply,
    state: { email?: string; error?: string; next?: string },
    status = 200,
  ) =>
    sendPage(
      reply,
      'dashboard/login',
      { title: 'Sign in', csrfToken: reply.generateCsrf(), ...state, next: safeNext(state.next) },
      { status },
    )

  app.get<{ Querystring: { next?: string } }>(
    '/login',
    { config: { signedOut: true } },
    async (request, reply) => {
      if (await services.users.sessionUser(request.cookies[SESSION_COOKIE])) {
        return reply.redirect(safeNext(request.query.next), 303)
      }
      return loginPage(reply, { next: request.query.next })
    },
  )

  app.post<{ Body: { email?: unknown; password?: unknown; next?: unknown } }>(
    '/login',
    { config: { signedOut: true, rateLimit: { max: 20, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const email = typeof request.body?.email === 'string' ? request.body.email.slice(0, 254) : ''
      const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1024) : ''
      const next = typeof request.body?.next === 'string' ? request.body.next : undefined
      if (!email.trim() || !password) {
        return loginPage(reply, { email, next, error: 'Enter your email and your password.' }, 400)
      }
      let session: Awaited<ReturnType<typeof services.users.signIn>>
      try {
        session = await services.users.signIn(email, password, {
          ip: request.ip,
          userAgent: request.headers['user-agent'],
        })
      } catch (error) {
        if (!isHashingBusy(error)) throw error
        reply.header('retry-after', String(error.details?.retry_after_seconds ?? 1))
        return loginPage(
          reply,
          { email, next, error: 'Too many people are signing in right now. Try again in a moment.' },
          503,
        )
      }
      if (session.outcome === 'locked') {
        reply.header('retry-after', String(Math.ceil(session.retryAfterMs / 1000)))
        return loginPage(
          reply,
          {
            email,
            next,
            error: `Too many failed sign-ins for this email. Try again in ${minutes(session.retryAfterMs)}.`,
          },
          429,
        )
      }
      if (session.outcome === 'wrong') {
        return loginPage(reply, { email, next, error: 'Wrong email or password.' }, 401)
      }
      reply.setCookie(SESSION_COOKIE, session.token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: SESSION_MAX_AGE_MS / 1000,
      })
      return reply.redirect(safeNext(next), 303)
    },
  )

  app.post('/logout', async (request, reply) => {
    await services.users.signOut(request.cookies[SESSION_COOKIE])
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure })
    return reply.redirect(`${DASHBOARD}/login`, 303)
  })

  await catalogPages(app, kit)
  await paylinkPages(app, kit)
  await orderPages(app, kit)
  await operationsPages(app, kit)
  await accountPages(app, kit)
}

/**
 * Where to go after signing in: a dashboard path on this site, never another origin, in the form a
 * Location header can carry (what is not ASCII percent-encoded as UTF-8); anything else is the default.
 */
export function safeNext(next: string | undefined): string {
  const fallback = `${DASHBOARD}/projects`
  if (
    !next ||
    next.length > 2048 ||
    !/^\/dashboard(?:[/?#]|$)/.test(next) ||
    // Backslashes, whitespace and controls: browsers and the URL parser read or drop them in ways that
    // differ, so a path with any of them is not one to follow.
    /[\\\s\p{Cc}]|\/\//u.test(next)
  ) {
    return fallback
  }
  // The URL parser encodes what a header cannot hold and resolves dot segments; the path is checked
  // again after it, so `/dashboard/../admin` (or its %2e form) cannot leave the dashboard.
  const base = 'http://paylinks.invalid'
  let url: URL
  try {
    url = new URL(next, base)
  } catch {
    return fallback
  }
  if (url.origin !== base || !/^\/dashboard(?:\/|$)/.test(url.pathname) || url.pathname.includes('//')) {
    return fallback
  }
  const path = `${url.pathname}${url.search}${url.hash}`
  // Whatever slipped through (a lone surrogate becomes U+FFFD first) must be printable ASCII by now.
  return /^[\x21-\x7e]+$/.test(path) ? path : fallback
}
