// Stripe's v1 API as the double serves it: authentication by secret or restricted key, `Stripe-Version`,
// form-encoded parameters, `Idempotency-Key` as Stripe honours it, the endpoints a Checkout integration
// calls, fault injection, and a log of every request for tests to assert what was sent.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { createSession } from './checkout-sessions.js'
import {
  apiError,
  type CardDecline,
  cardError,
  DECLINES,
  invalidApiKey,
  invalidRequest,
  missingApiKey,
  noSuchObject,
  StripeApiError,
} from './errors.js'
import { requestId as newRequestId } from './ids.js'
import type { Account, RecordOf, Store, StripeRecord } from './model.js'
import {
  checkKeys,
  type Params,
  parseForm,
  readEnum,
  readExpand,
  readInteger,
  readMetadata,
  readString,
} from './params.js'
import type { Payments } from './payments.js'
import { expand, type Json, type RenderContext, render, renderAccount } from './render.js'

export interface ApiRequestLog {
  id: string
  at: Date
  method: string
  path: string
  /** The parameters as the double parsed them: the body of a POST, the query of a GET. */
  params: Params
  rawBody: string
  headers: IncomingHttpHeaders
  apiKey: string | null
  account: string | null
  livemode: boolean | null
  stripeVersion: string | null
  idempotencyKey: string | null
  status: number | null
  idempotentReplayed: boolean
  fault: string | null
}

export type FaultKind = 'error' | 'hang' | 'card_error' | 'unauthorized' | 'rate_limit'

export interface FaultSpec {
  kind: FaultKind
  /** Only this account's requests (any, when absent). */
  account?: string
  method?: string
  /** The path, `*` matching within a segment: `/v1/checkout/sessions/*\/expire`. */
  path?: string
  /** How many matching requests it hits; every one until removed, when absent. */
  times?: number
  /** `error`: the status (500 by default) and message. */
  status?: number
  message?: string
  /** `hang`: carry the request out (its answer kept for its idempotency key) and still never answer. */
  execute?: boolean
  /** `card_error`: the decline to answer. */
  decline?: CardDecline
}

export interface Fault extends FaultSpec {
  id: string
  hits: number
}

interface IdempotentResult {
  method: string
  path: string
  params: string
  requestId: string
  status: number
  body: string
}

interface Call {
  account: Account
  livemode: boolean
  params: Params
  ids: string[]
  requestId: string
  idempotencyKey: string | null
  stripeVersion: string
}

interface Route {
  method: 'GET' | 'POST'
  pattern: RegExp
  handler: (call: Call) => Json
}

const VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/

/** Stripe's names for objects in "No such …" errors, and the parameter those errors name. */
const RETRIEVABLE = {
  'checkout.session': { name: 'checkout.session', param: 'session' },
  payment_intent: { name: 'payment_intent', param: 'intent' },
  charge: { name: 'charge', param: 'charge' },
  refund: { name: 'refund', param: 'refund' },
  setup_intent: { name: 'setup_intent', param: 'intent' },
  payment_method: { name: 'payment_method', param: 'payment_method' },
  dispute: { name: 'dispute', param: 'dispute' },
} as const

/** Parameters compared regardless of key order, as Stripe compares a retried request's. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*')
  return new RegExp(`^${escaped}$`)
}

export class Api {
  readonly requests: ApiRequestLog[] = []
  readonly faults: Fault[] = []
  private readonly idempotency = new Map<string, IdempotentResult>()
  private readonly hung = new Set<ServerResponse>()
  private readonly routes: Route[]
  private nextFault = 1

  constructor(
    private readonly store: Store,
    private readonly payments: Payments,
    private readonly ctx: RenderContext,
  ) {
    const retrieve =
      <T extends keyof typeof RETRIEVABLE>(object: T) =>
      (call: Call) => {
        checkKeys(call.params, '', ['expand'])
        return this.answer(call, this.lookup(call, object, call.ids[0] ?? ''))
      }
    this.routes = [
      { method: 'GET', pattern: /^\/v1\/account$/, handler: (call) => this.account(call) },
      { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, handler: (call) => this.createSession(call) },
      {
        method: 'GET',
        pattern: /^\/v1\/checkout\/sessions\/([^/]+)$/,
        handler: retrieve('checkout.session'),
      },
      {
        method: 'GET',
        pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/,
        handler: (c) => this.lineItems(c),
      },
      {
        method: 'POST',
        pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/,
        handler: (call) => this.expireSession(call),
      },
      { method: 'GET', pattern: /^\/v1\/payment_intents\/([^/]+)$/, handler: retrieve('payment_intent') },
      { method: 'GET', pattern: /^\/v1\/charges\/([^/]+)$/, handler: retrieve('charge') },
      { method: 'POST', pattern: /^\/v1\/refunds$/, handler: (call) => this.createRefund(call) },
      { method: 'GET', pattern: /^\/v1\/refunds\/([^/]+)$/, handler: retrieve('refund') },
      { method: 'GET', pattern: /^\/v1\/setup_intents\/([^/]+)$/, handler: retrieve('setup_intent') },
      { method: 'GET', pattern: /^\/v1\/payment_methods\/([^/]+)$/, handler: retrieve('payment_method') },
      { method: 'GET', pattern: /^\/v1\/disputes\/([^/]+)$/, handler: retrieve('dispute') },
    ]
  }

  addFault(spec: FaultSpec): Fault {
    const fault = { ...spec, id: `fault_${this.nextFault++}`, hits: 0 }
    this.faults.push(fault)
    return fault
  }

  removeFault(id?: string): void {
    if (id === undefined) this.faults.splice(0)
    else {
      const index = this.faults.findIndex((f) => f.id === id)
      if (index >= 0) this.faults.splice(index, 1)
    }
  }

  /** Drops the connections of hung requests, as a network failure would. */
  releaseHung(): number {
    const count = this.hung.size
    for (const res of this.hung) res.socket?.destroy()
    this.hung.clear()
    return count
  }

  async handle(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double')
    const id = newRequestId()
    const method = req.method ?? 'GET'
    const entry: ApiRequestLog = {
      id,
      at: new Date(),
      method,
      path: url.pathname,
      params: {},
      rawBody,
      headers: req.headers,
      apiKey: null,
      account: null,
      livemode: null,
      stripeVersion: header(req, 'stripe-version'),
      idempotencyKey: header(req, 'idempotency-key'),
      status: null,
      idempotentReplayed: false,
      fault: null,
    }
    this.requests.push(entry)
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      entry.status = status
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': id,
        ...(entry.stripeVersion ? { 'stripe-version': entry.stripeVersion } : {}),
        ...(entry.idempotencyKey && method === 'POST' ? { 'idempotency-key': entry.idempotencyKey } : {}),
        ...headers,
      })
      res.end(body)
    }
    const sendError = (error: StripeApiError) =>
      send(error.status, errorBody(error, id, entry.livemode ?? false), error.headers)

    let call: Call
    let route: Route
    try {
      const auth = this.authenticate(req, entry)
      const version = entry.stripeVersion
      if (version !== null && !VERSION_PATTERN.test(version)) {
        throw invalidRequest(`Invalid Stripe API version: ${version}`)
      }
      entry.stripeVersion = version ?? auth.account.apiVersion
      entry.params = method === 'POST' ? this.body(req, rawBody) : parseForm(url.search.slice(1))
      const found = this.route(method, url.pathname)
      route = found.route
      call = {
        account: auth.account,
        livemode: auth.livemode,
        params: entry.params,
        ids: found.ids,
        requestId: id,
        idempotencyKey: method === 'POST' ? entry.idempotencyKey : null,
        stripeVersion: entry.stripeVersion,
      }
    } catch (error) {
      if (error instanceof StripeApiError) return sendError(error)
      throw error
    }

    const fault = this.matchFault(call.account.id, method, url.pathname)
    if (fault) {
      entry.fault = `${fault.id}:${fault.kind}`
      if (fault.kind === 'hang') {
        this.hung.add(res)
        res.on('close', () => this.hung.delete(res))
        if (fault.execute) this.execute(call, route, entry)
        return
      }
      return sendError(faultError(fault, entry.apiKey ?? ''))
    }

    const result = this.execute(call, route, entry)
    send(
      result.status,
      result.body,
      result.replayed ? { 'idempotent-replayed': 'true', 'original-request': result.requestId } : {},
    )
    entry.idempotentReplayed = result.replayed
  }

  close(): void {
    this.releaseHung()
  }

  private authenticate(req: IncomingMessage, entry: ApiRequestLog): { account: Account; livemode: boolean } {
    const authorization = header(req, 'authorization')
    if (!authorization) throw missingApiKey()
    let key: string
    if (/^bearer /i.test(authorization)) key = authorization.slice(7).trim()
    else if (/^basic /i.test(authorization)) {
      key = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8').split(':')[0] ?? ''
    } else key = authorization.trim()
    if (!key) throw missingApiKey()
    entry.apiKey = key
    const found = /^(sk|rk)_(test|live)_/.test(key) ? this.store.accountByKey(key) : undefined
    if (!found) throw invalidApiKey(key)
    entry.account = found.account.id
    entry.livemode = found.mode === 'live'
    return { account: found.account, livemode: found.mode === 'live' }
  }

  private body(req: IncomingMessage, rawBody: string): Params {
    const type = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase()
    if (rawBody !== '' && type !== 'application/x-www-form-urlencoded') {
      throw invalidRequest(
        `Invalid request: unsupported Content-Type ${type}. If error persists and you need assistance, please contact support@stripe.com.`,
      )
    }
    return parseForm(rawBody)
  }

  private route(method: string, path: string): { route: Route; ids: string[] } {
    for (const route of this.routes) {
      const match = route.pattern.exec(path)
      if (match && route.method === method) return { route, ids: match.slice(1).map(decodeURIComponent) }
    }
    throw invalidRequest(
      `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      undefined,
      undefined,
      404,
    )
  }

  private matchFault(account: string, method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        (!f.account || f.account === account) &&
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || globToRegExp(f.path).test(path)),
    )
    if (!fault) return undefined
    fault.hits++
    if (fault.times !== undefined && fault.hits >= fault.times) this.removeFault(fault.id)
    return fault
  }

  /**
   * Runs the endpoint, honouring `Idempotency-Key` as Stripe does: the first answer to a key is kept once the
   * endpoint ran (errors of parameter checks are not, so a corrected retry may use the key) and replayed to a
   * retry with the same parameters; a retry with other parameters or on another endpoint is refused.
   */
  private execute(call: Call, route: Route, entry: ApiRequestLog) {
    const key = call.idempotencyKey
    if (key === null) return { ...this.run(call, route), replayed: false, requestId: call.requestId }
    if (key.length > 255) {
      const error = invalidRequest('Invalid idempotency key: keys can be at most 255 characters long.')
      return {
        status: 400,
        body: errorBody(error, call.requestId, call.livemode),
        replayed: false,
        requestId: '',
      }
    }
    const scope = `${call.account.id}:${call.livemode}:${key}`
    const params = canonical(call.params)
    const previous = this.idempotency.get(scope)
    if (previous) {
      const refusal = idempotencyRefusal(previous, entry, params, key)
      if (refusal) {
        return {
          status: refusal.status,
          body: errorBody(refusal, call.requestId, call.livemode),
          replayed: false,
          requestId: '',
        }
      }
      return { status: previous.status, body: previous.body, replayed: true, requestId: previous.requestId }
    }
    // Endpoints run to completion synchronously, so no second request with the key can arrive mid-way.
    const result = this.run(call, route)
    if (result.kept) {
      this.idempotency.set(scope, {
        method: entry.method,
        path: entry.path,
        params,
        requestId: call.requestId,
        status: result.status,
        body: result.body,
      })
    }
    return { ...result, replayed: false, requestId: call.requestId }
  }

  private run(call: Call, route: Route): { status: number; body: string; kept: boolean } {
    try {
      return { status: 200, body: JSON.stringify(route.handler(call), null, 2), kept: true }
    } catch (error) {
      if (!(error instanceof StripeApiError)) console.error('stripe double: endpoint failed', error)
      const stripeError = error instanceof StripeApiError ? error : apiError()
      const status = stripeError.status
      return {
        status,
        body: errorBody(stripeError, call.requestId, call.livemode),
        kept: status === 402 || status >= 500,
      }
    }
  }

  private lookup<T extends keyof typeof RETRIEVABLE>(
    call: Call,
    object: T,
    id: string,
    param: string = RETRIEVABLE[object].param,
  ): RecordOf<T> {
    const record = this.store.find(object, id, call.account.id)
    if (!record) throw noSuchObject(RETRIEVABLE[object].name, id, param)
    if (record.livemode !== call.livemode) {
      throw noSuchObject(RETRIEVABLE[object].name, id, param, record.livemode ? 'live' : 'test')
    }
    return record
  }

  private answer(call: Call, record: StripeRecord): Json {
    return expand(this.ctx, render(this.ctx, record), readExpand(call.params))
  }

  private account(call: Call): Json {
    checkKeys(call.params, '', ['expand'])
    return expand(this.ctx, renderAccount(call.account), readExpand(call.params))
  }

  private createSession(call: Call): Json {
    const session = this.store.add(
      createSession(
        {
          account: call.account.id,
          livemode: call.livemode,
          now: this.store.now(),
          stripeVersion: call.stripeVersion,
        },
        call.params,
      ),
    )
    try {
      return this.answer(call, session)
    } catch (error) {
      // A bad `expand[]` refuses the whole request: nothing is left behind.
      this.store.records.delete(session.id)
      throw error
    }
  }

  private lineItems(call: Call): Json {
    checkKeys(call.params, '', ['ending_before', 'expand', 'limit', 'starting_after'])
    const session = this.lookup(call, 'checkout.session', call.ids[0] ?? '')
    const limit = readInteger(call.params.limit, 'limit', { min: 1, max: 100 }) ?? 10
    const list = expand(this.ctx, render(this.ctx, session), ['line_items']).line_items as Json & {
      data: unknown[]
    }
    return { ...list, data: list.data.slice(0, limit), has_more: list.data.length > limit }
  }

  private expireSession(call: Call): Json {
    checkKeys(call.params, '', ['expand'])
    const session = this.lookup(call, 'checkout.session', call.ids[0] ?? '')
    this.payments.expire(session, { id: call.requestId, idempotency_key: call.idempotencyKey })
    return this.answer(call, session)
  }

  private createRefund(call: Call): Json {
    const { params } = call
    checkKeys(
      params,
      '',
      ['amount', 'charge', 'expand', 'metadata', 'payment_intent', 'reason'],
      ['currency', 'customer', 'instructions_email', 'origin', 'refund_application_fee', 'reverse_transfer'],
    )
    const intentId = readString(params.payment_intent, 'payment_intent')
    const chargeId = readString(params.charge, 'charge')
    if (!intentId && !chargeId) {
      throw invalidRequest(
        'One of the following params should be provided for this request: payment_intent or charge.',
      )
    }
    const amount = readInteger(params.amount, 'amount', { min: 1 })
    const reason =
      readEnum(params.reason, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']) ?? null
    const metadata = readMetadata(params.metadata, 'metadata') ?? {}
    let charge = chargeId ? this.lookup(call, 'charge', chargeId, 'charge') : undefined
    if (intentId) {
      const intent = this.lookup(call, 'payment_intent', intentId, 'payment_intent')
      if (charge && charge.paymentIntent !== intent.id) {
        throw invalidRequest(`Charge ${charge.id} does not belong to PaymentIntent ${intent.id}.`, 'charge')
      }
      if (intent.status !== 'succeeded' || !intent.latestCharge) {
        throw invalidRequest(
          `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
          'payment_intent',
        )
      }
      charge ??= this.lookup(call, 'charge', intent.latestCharge, 'charge')
    }
    if (!charge) throw new Error('unreachable: a charge or a payment intent was given')
    const refund = this.payments.refund({
      charge,
      amount,
      reason,
      metadata,
      request: { id: call.requestId, idempotency_key: call.idempotencyKey },
    })
    return this.answer(call, refund)
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name]
  return typeof value === 'string' ? value : (value?.[0] ?? null)
}

function errorBody(error: StripeApiError, requestId: string, livemode: boolean): string {
  const log = `https://dashboard.stripe.com/${livemode ? '' : 'test/'}logs/${requestId}`
  return JSON.stringify({ error: { ...error.body, request_log_url: log } }, null, 2)
}

function idempotencyRefusal(
  previous: IdempotentResult,
  entry: ApiRequestLog,
  params: string,
  key: string,
): StripeApiError | undefined {
  if (previous.method !== entry.method || previous.path !== entry.path) {
    return new StripeApiError(400, {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${previous.method} ${previous.path}' vs '${entry.method} ${entry.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
    })
  }
  if (previous.params !== params) {
    return new StripeApiError(400, {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    })
  }
  return undefined
}

function faultError(fault: Fault, apiKey: string): StripeApiError {
  switch (fault.kind) {
    case 'unauthorized':
      return invalidApiKey(apiKey)
    case 'card_error':
      return cardError(fault.decline ?? DECLINES.generic)
    case 'rate_limit':
      return new StripeApiError(429, {
        type: 'invalid_request_error',
        code: 'rate_limit',
        message:
          'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      })
    default:
      return apiError(fault.status ?? 500, fault.message)
  }
}
