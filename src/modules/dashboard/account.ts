// The signed-in user's own account: a new password (the current one first), and the browsers signed in
// as them, each of which can be signed out from here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../lib/errors.js'
import { hashKey } from '../../lib/keys.js'
import { isHashingBusy } from '../users/password.js'
import { type Form, failed, one } from './form.js'
import type { PageKit } from './routes.js'

export async function accountPages(app: FastifyInstance, kit: PageKit): Promise<void> {
  const { render, done, services } = kit

  const accountPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { errors?: Record<string, string>; alert?: string } = {},
    status = 200,
  ) => {
    const user = request.user as NonNullable<typeof request.user>
    const token = kit.sessionToken(request)
    const current = token ? hashKey(token) : ''
    const sessions = (await services.users.sessions(user.id)).map((s) => ({
      ...s,
      current: s.id === current,
      created_at: s.created_at.toISOString(),
      last_seen_at: s.last_seen_at.toISOString(),
    }))
    return render(
      request,
      reply,
      'account',
      { title: 'Your account', nav: 'account', sessions, errors: state.errors ?? {}, alert: state.alert },
      status,
    )
  }

  app.get('/account', (request, reply) => accountPage(request, reply))

  // The current password must not be guessable from a session left open: besides this per-client
  // limit, each check spends one of the email's guesses, shared with sign-in (10 in 15 minutes).
  app.post<{ Body: Form }>(
    '/account/password',
    { config: { rateLimit: { max: 10, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const user = request.user as NonNullable<typeof request.user>
      try {
        await services.users.changePassword(
          user.id,
          {
            // Passwords are taken as typed: spaces at the ends are refused by the policy, not trimmed away.
            current: String(request.body.current_password ?? ''),
            password: String(request.body.password ?? ''),
            repeat: String(request.body.repeat_password ?? ''),
          },
          kit.sessionToken(request),
        )
      } catch (error) {
        if (isHashingBusy(error)) {
          reply.header('retry-after', String(error.details?.retry_after_seconds ?? 1))
          const alert = 'Too many passwords are being checked right now. Try again in a moment.'
          return accountPage(request, reply, { alert }, 503)
        }
        if (!(error instanceof AppError) || error.status >= 500) throw error
        const wait = error.details?.retry_after_seconds
        if (error.status === 429 && typeof wait === 'number') reply.header('retry-after', String(wait))
        return accountPage(request, reply, failed(error), error.status)
      }
      return done(reply, '/account', 'password_changed')
    },
  )

  app.post<{ Body: Form }>('/account/sessions/revoke', async (request, reply) => {
    const user = request.user as NonNullable<typeof request.user>
    const which = one(request.body, 'session')
    const ended = await services.users.revokeSessions(user.id, which, kit.sessionToken(request))
    // A session that is not the user's (or no longer open) is as unknown as a missing page.
    if (ended === 0 && which !== 'others') return reply.callNotFound()
    return done(reply, '/account', 'sessions_revoked')
  })
}
