// Dashboard pages of orders: the list with its filters, and an order's page with its payments, refunds
// and disputes, the refund form, and (for sandbox payments) the simulated outcome of a dispute.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { currencyExponent, fromDecimalString, toDecimalString } from '../../lib/money.js'
import { ORDER_STATUSES } from '../orders/schemas.js'
import type { REFUND_REASONS } from '../payments/schemas.js'
import { SandboxRefusal } from '../sandbox/service.js'
import {
  type ApiError,
  allOf,
  fieldErrors,
  type List,
  listProjects,
  NotFoundError,
  type PaylinkJson,
  projectIfAny,
  unlessNotFound,
} from './api.js'
import { type Form, failed, offsetOf, one, PAGE_SIZE, pager } from './form.js'
import type { PageKit } from './routes.js'

export interface PaymentJson {
  id: string
  status: string
  provider: string
  livemode: boolean
  amount: number
  currency: string
  amount_refunded: number
  card_brand: string | null
  card_last4: string | null
  failure_code: string | null
  failure_message: string | null
  created_at: string
  settled_at: string | null
}
export interface RefundJson {
  id: string
  payment_id: string
  amount: number
  currency: string
  reason: string | null
  origin: string
  status: string
  failure_reason: string | null
  created_at: string
  settled_at: string | null
}
export interface DisputeJson {
  id: string
  payment_id: string
  amount: number
  currency: string
  reason: string | null
  status: 'open' | 'won' | 'lost'
  opened_at: string
  closed_at: string | null
}
export interface OrderJson {
  id: string
  project_id: string
  status: (typeof ORDER_STATUSES)[number]
  currency: string
  total_amount: number
  amount_refunded: number
  buyer_email: string | null
  payments: PaymentJson[]
  refunds: RefundJson[]
  disputes: DisputeJson[]
  [field: string]: unknown
}

/** Refunds that count against what is left: those the provider has or may yet pay out. */
const COMMITTED = new Set(['pending', 'unknown', 'succeeded'])

/** Orders the refund form is offered on; the API has the last word on every refund. */
const REFUNDABLE = new Set(['paid', 'partially_refunded'])

export const REASON_LABELS: Record<(typeof REFUND_REASONS)[number], string> = {
  requested_by_customer: 'Requested by the customer',
  duplicate: 'Duplicate payment',
  fraudulent: 'Fraudulent',
  other: 'Other',
}

/** What a refund's origin means, as the page's tooltip. */
const ORIGIN_LABELS: Record<string, string> = {
  api: 'Asked through the admin API',
  dashboard: 'Asked from this dashboard',
  provider: 'Made in the provider’s own dashboard',
  automatic: 'Made by paylinks for a payment the order could not take (already paid, or expired)',
}

/** What a payment that is not final is waiting for. */
const PAYMENT_HINTS: Record<string, string> = {
  pending: 'the buyer is on the provider’s page.',
  requires_action: 'the provider asked the buyer to authenticate the payment (3-D Secure).',
  processing: 'the provider has not decided yet; it reports the outcome with an event.',
  unknown:
    'the provider could not be reached or did not answer. This is not a failure: paylinks looks the payment up until it is final.',
}

/**
 * Where an order's money stands: the payment that paid it, what came back, what is on its way back, and
 * what is left to refund (as the API counts it: refunds pending or unknown are spoken for).
 */
export function moneyOf(order: OrderJson) {
  // A success the order could not take is refunded automatically; the order's own payment is the other one.
  const automatic = new Set(order.refunds.filter((r) => r.origin === 'automatic').map((r) => r.payment_id))
  const paying = order.payments.find((p) => p.status === 'succeeded' && !automatic.has(p.id))
  const own = paying ? order.refunds.filter((r) => r.payment_id === paying.id) : []
  const sum = (refunds: RefundJson[]) => refunds.reduce((total, r) => total + r.amount, 0)
  const pending = sum(own.filter((r) => r.status === 'pending' || r.status === 'unknown'))
  const left = paying ? paying.amount - sum(own.filter((r) => COMMITTED.has(r.status))) : 0
  return {
    paid: paying?.amount ?? 0,
    refunded: order.amount_refunded,
    pending,
    left,
    refundable: Boolean(paying) && left > 0 && REFUNDABLE.has(order.status),
  }
}

/** The signed-in user's merchant (every dashboard page but sign-in has one). */
const merchantOf = (request: FastifyRequest) => (request.user as { merchant_id: string }).merchant_id

/** A fresh key for one rendered refund form: sending it twice (a double click, a reload) refunds once. */
const newIdempotencyKey = () => `dash_${randomBytes(18).toString('base64url')}`

interface RefundForm {
  values?: { amount: string; reason: string }
  errors?: Record<string, string>
  alert?: string
  /** The refund a person asked for, waiting for their confirmation. */
  confirm?: { amount: number; reason: string; key: string }
}

export async function orderPages(app: FastifyInstance, kit: PageKit): Promise<void> {
  const { render, done, services } = kit

  app.get<{ Querystring: Record<string, string> }>('/orders', async (request, reply) => {
    const query = request.query
    const filters = {
      project_id: query.project_id?.trim() || undefined,
      paylink_id: query.paylink_id?.trim() || undefined,
      status: query.status?.trim() || undefined,
    }
    const offset = offsetOf(query.offset)
    const [projects, result] = await Promise.all([
      listProjects(request.admin),
      request.admin.call<List<'orders', OrderJson>>('GET', '/orders', {
        query: { ...filters, offset, limit: PAGE_SIZE },
      }),
    ])
    // A project that is not (or no longer) there filters to nothing rather than failing the page.
    const paylinks = filters.project_id
      ? await unlessNotFound(
          allOf<'paylinks', PaylinkJson>(
            request.admin,
            `/paylinks/project/${encodeURIComponent(filters.project_id)}`,
            'paylinks',
          ).then((list) => list.paylinks),
          [],
        )
      : []
    const filterQuery = new URLSearchParams(
      Object.entries(filters).filter((e): e is [string, string] => Boolean(e[1])),
    ).toString()
    return render(
      request,
      reply,
      'orders',
      {
        title: 'Orders',
        nav: 'orders',
        projects: projects.projects,
        paylinks,
        statuses: ORDER_STATUSES,
        filters,
        filterQuery: filterQuery ? `&${filterQuery}` : '',
        orders: result.ok ? result.body.orders : [],
        page: pager(result.ok ? result.body.total : 0, offset),
        ...(result.ok ? { errors: {} } : failed(result.error)),
      },
      result.ok ? 200 : result.status,
    )
  })

  /**
   * The open disputes the sandbox holds for the order's sandbox payments, which the page may settle
   * (a stand-in for the card network's decision); nothing for payments through a real provider.
   */
  const simulatedDisputes = async (merchantId: string, order: OrderJson) => {
    const open = new Set(order.disputes.filter((d) => d.status === 'open').map((d) => d.payment_id))
    const payments = order.payments.filter((p) => p.provider === 'sandbox' && open.has(p.id))
    if (!payments.length) return []
    const account = await services.payments.accounts.sandboxAccount(services.database.db, merchantId)
    const lists = await Promise.all(payments.map((p) => services.sandbox.openDisputes(account.id, p.id)))
    return lists.flat()
  }

  const orderPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    order: OrderJson,
    form: RefundForm = {},
    status = 200,
  ) => {
    const [project, simulation] = await Promise.all([
      projectIfAny(request.admin, order.project_id),
      simulatedDisputes(merchantOf(request), order),
    ])
    const money = moneyOf(order)
    return render(
      request,
      reply,
      'order',
      {
        title: `Order ${order.id}`,
        nav: 'orders',
        order,
        project,
        money,
        reasons: Object.entries(REASON_LABELS),
        reasonLabels: REASON_LABELS,
        originLabels: ORIGIN_LABELS,
        paymentHints: PAYMENT_HINTS,
        digits: currencyExponent(order.currency),
        sandboxDispute: order.disputes.some(
          (d) =>
            d.status === 'open' &&
            order.payments.some((p) => p.id === d.payment_id && p.provider === 'sandbox'),
        ),
        simulation,
        refund: {
          key: newIdempotencyKey(),
          values: form.values ?? {
            amount: money.left > 0 ? toDecimalString(money.left, order.currency) : '',
            reason: '',
          },
          errors: form.errors ?? {},
          confirm: form.confirm,
        },
        alert: form.alert,
      },
      status,
    )
  }

  const readOrder = (request: FastifyRequest, id: string) =>
    request.admin.get<OrderJson>(`/orders/${encodeURIComponent(id)}`)

  app.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) =>
    orderPage(request, reply, await readOrder(request, request.params.id)),
  )

  // A refund takes two steps without JavaScript: this form, then a confirmation of the amount; with it,
  // dashboard.js asks in a dialog and sends the confirmation at once. Both carry the key of the rendered form.
  app.post<{ Params: { id: string }; Body: Form }>('/orders/:id/refunds', async (request, reply) => {
    const order = await readOrder(request, request.params.id)
    const body = request.body
    const values = { amount: one(body, 'amount'), reason: one(body, 'reason') }
    const key = one(body, 'idempotency_key')
    let amount: number | undefined
    if (values.amount) {
      amount = fromDecimalString(values.amount, order.currency)
      if (amount === undefined) {
        const digits = currencyExponent(order.currency)
        const error: ApiError = {
          code: 'validation_failed',
          message: `amount: must be a positive amount with at most ${digits} digit${digits === 1 ? '' : 's'} after the point in ${order.currency}`,
          details: { field: 'amount', rule: 'format' },
        }
        return orderPage(
          request,
          reply,
          order,
          { values, errors: fieldErrors(error), alert: error.message },
          400,
        )
      }
    }
    const refund = {
      ...(amount === undefined ? {} : { amount }),
      ...(values.reason ? { reason: values.reason } : {}),
    }
    if (one(body, 'confirm') !== 'yes') {
      const asked = amount ?? moneyOf(order).left
      return orderPage(request, reply, order, {
        values,
        confirm: { amount: asked, reason: values.reason, key },
      })
    }
    const send = () =>
      request.admin.call('POST', `/orders/${order.id}/refunds`, {
        body: refund,
        headers: { 'idempotency-key': key },
      })
    let result = await send()
    // A second click while the first request is still at the provider: wait for the first one's answer
    // and show it, rather than an error about a refund that is being made.
    for (let tries = 0; !result.ok && result.error.details?.rule === 'in_progress' && tries < 40; tries++) {
      await sleep(250)
      result = await send()
    }
    if (!result.ok) {
      // The page shows the order as it is now, with the API's reason beside the amount.
      const fresh = await readOrder(request, order.id)
      return orderPage(request, reply, fresh, { values, ...failed(result.error) }, result.status)
    }
    return done(reply, `/orders/${order.id}`, 'refund_created')
  })

  app.post<{ Params: { id: string; dispute: string }; Body: Form }>(
    '/orders/:id/disputes/:dispute/simulate',
    async (request, reply) => {
      const order = await readOrder(request, request.params.id)
      const outcome = one(request.body, 'outcome')
      const disputes = await simulatedDisputes(merchantOf(request), order)
      // Only a sandbox dispute of this order: any other id is as unknown here as another merchant's order.
      if (!disputes.some((d) => d.id === request.params.dispute)) throw new NotFoundError('no such dispute')
      if (outcome !== 'won' && outcome !== 'lost') {
        return orderPage(request, reply, order, { alert: 'outcome: must be won or lost' }, 400)
      }
      try {
        await services.sandbox.closeDispute(request.params.dispute, outcome)
      } catch (error) {
        if (!(error instanceof SandboxRefusal)) throw error
        return orderPage(request, reply, order, { alert: `The sandbox refused: ${error.message}.` }, 409)
      }
      return done(reply, `/orders/${order.id}`, 'dispute_simulated')
    },
  )
}
