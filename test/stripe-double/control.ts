// The double's own control API under `/_double/` (not Stripe's): JSON in and out, one route per method of
// StripeDouble, so that a test in another process, or a person with curl, can play Stripe's side.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FaultSpec } from './api.js'
import { StripeApiError } from './errors.js'
import type { StripeDouble } from './index.js'
import { DoubleError } from './payments.js'

type Body = Record<string, unknown>

interface ControlRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  pattern: RegExp
  run: (double: StripeDouble, ids: string[], body: Body, query: URLSearchParams) => unknown
}

function text(body: Body, name: string): string | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new DoubleError(`${name}: must be a string`, 400)
  return value
}

function number(body: Body, name: string): number | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new DoubleError(`${name}: must be an integer`, 400)
  return value
}

function oneOf<T extends string>(body: Body, name: string, values: readonly T[]): T | undefined {
  const value = text(body, name)
  if (value === undefined) return undefined
  if (!(values as readonly string[]).includes(value)) {
    throw new DoubleError(`${name}: must be one of ${values.join(', ')}`, 400)
  }
  return value as T
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new DoubleError(`${name}: is required`, 400)
  return value
}

function chargeRef(body: Body) {
  return { paymentIntent: text(body, 'payment_intent'), charge: text(body, 'charge') }
}

const session = (path: string) => new RegExp(`^/_double/checkout/sessions/([^/]+)/${path}$`)

const ROUTES: ControlRoute[] = [
  {
    method: 'POST',
    pattern: /^\/_double\/accounts$/,
    run: (d, _, b) =>
      d.createAccount({
        id: text(b, 'id'),
        secretKey: text(b, 'secret_key'),
        liveSecretKey: text(b, 'live_secret_key'),
        restrictedKey: text(b, 'restricted_key'),
        liveRestrictedKey: text(b, 'live_restricted_key'),
        webhookUrl: text(b, 'webhook_url'),
        webhookSecret: text(b, 'webhook_secret'),
        enabledEvents: Array.isArray(b.enabled_events) ? b.enabled_events.map(String) : undefined,
        displayName: text(b, 'display_name'),
        email: text(b, 'email'),
        country: text(b, 'country'),
        defaultCurrency: text(b, 'default_currency'),
        apiVersion: text(b, 'api_version'),
      }),
  },
  {
    method: 'PUT',
    pattern: /^\/_double\/accounts\/([^/]+)\/webhook$/,
    run: (d, [id], b) =>
      d.setWebhook(
        id ?? '',
        text(b, 'url') ?? null,
        Array.isArray(b.enabled_events) ? b.enabled_events.map(String) : undefined,
      ),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/keys\/revoke$/,
    run: (d, _, b) => d.revokeKey(required(text(b, 'key'), 'key')),
  },
  { method: 'GET', pattern: /^\/_double\/objects\/([^/]+)$/, run: (d, [id]) => d.object(id ?? '') },
  {
    method: 'GET',
    pattern: /^\/_double\/checkout\/sessions$/,
    run: (d, _, __, q) => d.sessions(q.get('account') ?? undefined),
  },
  {
    method: 'POST',
    pattern: session('pay'),
    run: (d, [id], b) =>
      d.pay(id ?? '', {
        number: text(b, 'card') ?? '4242424242424242',
        email: text(b, 'email') ?? 'buyer@example.com',
        name: text(b, 'name'),
      }),
  },
  {
    method: 'POST',
    pattern: session('save_card'),
    run: (d, [id], b) =>
      d.saveCard(id ?? '', {
        number: text(b, 'card') ?? '4242424242424242',
        email: text(b, 'email') ?? 'buyer@example.com',
      }),
  },
  {
    method: 'POST',
    pattern: session('authenticate'),
    run: (d, [id], b) =>
      d.authenticate(id ?? '', required(oneOf(b, 'result', ['approve', 'fail']), 'result') === 'approve'),
  },
  {
    method: 'POST',
    pattern: session('pay_async'),
    run: (d, [id], b) =>
      d.payAsync(id ?? '', {
        email: text(b, 'email'),
        eventually: oneOf(b, 'eventually', ['succeeded', 'failed']),
      }),
  },
  {
    method: 'POST',
    pattern: session('settle'),
    run: (d, [id], b) =>
      d.settleAsync(id ?? '', required(oneOf(b, 'outcome', ['succeeded', 'failed']), 'outcome')),
  },
  { method: 'POST', pattern: session('cancel'), run: (d, [id]) => ({ cancel_url: d.cancel(id ?? '') }) },
  { method: 'POST', pattern: session('expire'), run: (d, [id]) => d.expireSession(id ?? '') },
  {
    method: 'POST',
    pattern: /^\/_double\/clock\/advance$/,
    run: (d, _, b) => ({ expired: d.advanceClock(required(number(b, 'seconds'), 'seconds')) }),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/refunds$/,
    run: (d, _, b) =>
      d.refundFromDashboard({
        ...chargeRef(b),
        amount: number(b, 'amount'),
        reason: oneOf(b, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']),
      }),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/refunds\/([^/]+)\/fail$/,
    run: (d, [id]) => d.failRefund(id ?? ''),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/refunds\/([^/]+)\/complete$/,
    run: (d, [id]) => d.completeRefund(id ?? ''),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/disputes$/,
    run: (d, _, b) => d.openDispute({ ...chargeRef(b), reason: text(b, 'reason') }),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/disputes\/([^/]+)\/close$/,
    run: (d, [id], b) => d.closeDispute(id ?? '', required(oneOf(b, 'outcome', ['won', 'lost']), 'outcome')),
  },
  { method: 'GET', pattern: /^\/_double\/scheduled$/, run: (d) => d.scheduled() },
  { method: 'POST', pattern: /^\/_double\/scheduled\/run$/, run: (d) => d.runScheduled() },
  { method: 'GET', pattern: /^\/_double\/faults$/, run: (d) => d.faults() },
  {
    method: 'POST',
    pattern: /^\/_double\/faults$/,
    run: (d, _, b) => {
      const kinds = ['error', 'hang', 'card_error', 'unauthorized', 'rate_limit'] as const
      const kind = required(oneOf(b, 'kind', kinds), 'kind')
      const spec: FaultSpec = {
        kind,
        account: text(b, 'account'),
        method: text(b, 'method'),
        path: text(b, 'path'),
        times: number(b, 'times'),
        status: number(b, 'status'),
        message: text(b, 'message'),
        execute: b.execute === true,
      }
      if (kind === 'card_error' && (text(b, 'code') || text(b, 'decline_code'))) {
        spec.decline = {
          code: text(b, 'code') ?? 'card_declined',
          decline_code: text(b, 'decline_code'),
          message: text(b, 'message') ?? 'Your card was declined.',
        }
      }
      return d.addFault(spec)
    },
  },
  { method: 'DELETE', pattern: /^\/_double\/faults$/, run: (d) => d.clearFaults() },
  { method: 'DELETE', pattern: /^\/_double\/faults\/([^/]+)$/, run: (d, [id]) => d.clearFaults(id) },
  {
    method: 'POST',
    pattern: /^\/_double\/faults\/release_hung$/,
    run: (d) => ({ released: d.releaseHung() }),
  },
  {
    method: 'GET',
    pattern: /^\/_double\/events$/,
    run: (d, _, __, q) =>
      d.events({ account: q.get('account') ?? undefined, type: q.get('type') ?? undefined }),
  },
  { method: 'GET', pattern: /^\/_double\/events\/held$/, run: (d) => d.heldEvents() },
  {
    method: 'POST',
    pattern: /^\/_double\/events\/hold$/,
    run: (d, _, b) => d.holdEvents(text(b, 'account')),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/events\/release$/,
    run: (d, _, b) => ({
      released: d.releaseEvents({
        account: text(b, 'account'),
        order: oneOf(b, 'order', ['original', 'reverse']),
      }),
    }),
  },
  {
    method: 'POST',
    pattern: /^\/_double\/events\/([^/]+)\/resend$/,
    run: (d, [id]) => d.resendEvent(id ?? ''),
  },
  {
    method: 'GET',
    pattern: /^\/_double\/deliveries$/,
    run: (d, _, __, q) =>
      d.deliveries({ eventId: q.get('event') ?? undefined, type: q.get('type') ?? undefined }),
  },
  {
    method: 'GET',
    pattern: /^\/_double\/requests$/,
    run: (d, _, __, q) =>
      d.requests({
        account: q.get('account') ?? undefined,
        method: q.get('method') ?? undefined,
        path: q.get('path') ?? undefined,
      }),
  },
  { method: 'DELETE', pattern: /^\/_double\/requests$/, run: (d) => d.clearRequests() },
]

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value ?? { ok: true }, null, 2))
}

export async function handleControl(
  double: StripeDouble,
  req: IncomingMessage,
  res: ServerResponse,
  rawBody: string,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://double')
  let body: Body = {}
  if (rawBody.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(rawBody)
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
      body = parsed as Body
    } catch {
      return reply(res, 400, { error: { message: 'the body must be a JSON object' } })
    }
  }
  for (const route of ROUTES) {
    const match = route.pattern.exec(url.pathname)
    if (!match || route.method !== req.method) continue
    try {
      return reply(
        res,
        200,
        await route.run(double, match.slice(1).map(decodeURIComponent), body, url.searchParams),
      )
    } catch (error) {
      if (error instanceof DoubleError) return reply(res, error.status, { error: { message: error.message } })
      if (error instanceof StripeApiError) return reply(res, error.status, { error: error.body })
      throw error
    }
  }
  reply(res, 404, { error: { message: `no control route ${req.method} ${url.pathname}` } })
}
