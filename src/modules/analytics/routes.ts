// Dashboards of a paylink and of a project: a summary and figures grouped by country, referrer, UTM tags
// and day (and, for a project, by paylink) over a period.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type TProperties, Type } from 'typebox'
import { errors, ObjectId, PaylinkId } from '../../lib/http.js'
import type { Services } from '../../services.js'
import { paylinkValidationCodes } from '../paylinks/schemas.js'
import {
  type DashboardQuery as DashboardQueryInput,
  type GroupedDim,
  type GroupRow,
  grossTotalIn,
  MAX_PERIOD_DAYS,
  type Money,
  type Scope,
  splitUtmKey,
} from './service.js'

const tags = ['dashboards']

const Revenue = Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), {
  description:
    'Paid amounts in minor units per currency, attributed to the period in which the order was created',
})
const MoneyList = (description: string) =>
  Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer() }), { description })
const Figures = {
  visits: Type.Integer(),
  orders: Type.Integer({ description: 'Orders created by the visits' }),
  paid_orders: Type.Integer({ description: 'Of those orders, the ones paid (at any time since)' }),
  conversion: Type.Number({ description: 'paid_orders / visits, from 0 to 1; 0 without visits' }),
  revenue: Revenue,
  refunded: MoneyList(
    'Refunded amounts in minor units per currency, attributed (like revenue) to when the order was created',
  ),
  net_revenue: MoneyList('Revenue less refunds, in minor units per currency'),
  // The names of PaySuper's later dashboard API (its StatCommon), which its merchant dashboard reads.
  sales_count: Type.Integer({ description: 'paid_orders, under PaySuper’s name' }),
  gross_total_amount: Type.Number({
    description:
      'Revenue in transactions_currency as a number of its major units (0.3 for 300 KWD fils), exact from the minor units; revenue in other currencies is only in `revenue`',
  }),
  transactions_currency: Type.String({
    description: 'The currency of gross_total_amount: the project’s default',
  }),
}

/** PaySuper's figures of a row: its paid orders, and its revenue in the scope's currency in major units. */
function later(figures: { paid_orders: number; revenue: Money[] }, currency: string) {
  return {
    sales_count: figures.paid_orders,
    gross_total_amount: grossTotalIn(figures.revenue, currency),
    transactions_currency: currency,
  }
}
const UniqueVisitors = Type.Integer({
  description: 'Visitors counted once per link and UTC day, in the period of their first visit that day',
})
const Period = Type.Object({
  from: Type.Integer({ description: 'Unix seconds, included' }),
  to: Type.Integer({ description: 'Unix seconds, excluded' }),
  timezone: Type.String(),
})
const AsOf = Type.Integer({
  description:
    'Unix seconds: every visit before this instant is counted. Visits are counted a moment after they are made (a second or two; the raw ends of a period are always current), and a dashboard read counts what was queued first, so this is normally now',
})
const Total = Type.Object({ ...Figures, unique_visitors: UniqueVisitors })
const Summary = Type.Object({ period: Period, as_of: AsOf, ...Figures, unique_visitors: UniqueVisitors })

const Grouped = (keys: TProperties, description: string) =>
  Type.Object({
    period: Period,
    as_of: AsOf,
    top: Type.Array(Type.Object({ ...keys, ...Figures }), { description }),
    total: Total,
  })

const TOP = 'At most `limit` rows, most paid orders first, then most visits'
const NullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description })
const UtmTags = Type.Object({
  utm_source: NullableString('utm_source'),
  utm_medium: NullableString('utm_medium'),
  utm_campaign: NullableString('utm_campaign'),
})

const GROUPS = {
  country: {
    summary: 'Top countries',
    response: Grouped(
      {
        country: NullableString('ISO 3166 alpha-2 code; null when unknown'),
        country_code: NullableString('country, under PaySuper’s name'),
      },
      TOP,
    ),
    row: (row: GroupRow) => ({ country: row.key || null, country_code: row.key || null }),
  },
  referrer: {
    summary: 'Top referring sites',
    response: Grouped(
      {
        referrer: NullableString('Host of the referring page; null for direct visits'),
        referrer_host: NullableString('referrer, under PaySuper’s name'),
      },
      TOP,
    ),
    row: (row: GroupRow) => ({ referrer: row.key || null, referrer_host: row.key || null }),
  },
  utm: {
    summary: 'Top UTM source, medium and campaign triples',
    response: Grouped(
      {
        ...UtmTags.properties,
        utm: Type.Object(UtmTags.properties, { description: 'The same tags, as PaySuper groups them' }),
      },
      TOP,
    ),
    row: (row: GroupRow) => {
      const tags = splitUtmKey(row.key)
      return { ...tags, utm: tags }
    },
  },
  date: {
    summary: 'Figures per day',
    response: Grouped(
      { date: Type.String({ format: 'date' }), unique_visitors: UniqueVisitors },
      'Every local day of the period in `timezone`, oldest first, zeros included; `limit` does not apply',
    ),
    row: (row: GroupRow) => ({ date: row.key, unique_visitors: row.unique_visitors }),
  },
} satisfies Record<string, { summary: string; response: unknown; row: (row: GroupRow) => object }>

const DashboardQuery = Type.Object({
  period_from: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 2 ** 40,
      description: 'Unix seconds; default 30 days before period_to',
    }),
  ),
  period_to: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 2 ** 40, description: 'Unix seconds; default now' }),
  ),
  timezone: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      default: 'UTC',
      description: 'IANA time zone for day boundaries, e.g. Europe/Berlin',
    }),
  ),
})
const GroupedQuery = Type.Object({
  ...DashboardQuery.properties,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
})

const PERIOD_NOTE = `The period is [period_from, period_to), at most ${MAX_PERIOD_DAYS} days.`

export const dashboardRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { analytics } = services

  const scopes = [
    {
      prefix: '/paylinks/:paylink_id/dashboard',
      what: 'a paylink',
      params: Type.Object({ paylink_id: PaylinkId }),
      scope: (params: Record<string, string>): Scope => ({
        kind: 'paylink',
        id: params.paylink_id as string,
      }),
      config: { validationCodes: paylinkValidationCodes() },
    },
    {
      prefix: '/projects/:project_id/dashboard',
      what: 'all paylinks of a project',
      params: Type.Object({ project_id: ObjectId() }),
      scope: (params: Record<string, string>): Scope => ({
        kind: 'project',
        id: params.project_id as string,
      }),
      config: { validationCodes: [] },
    },
  ]

  for (const { prefix, what, params, scope, config } of scopes) {
    app.get(
      `${prefix}/summary`,
      {
        config,
        schema: {
          tags,
          summary: `Summary of ${what}`,
          description: PERIOD_NOTE,
          params,
          querystring: DashboardQuery,
          response: { 200: Summary, ...errors(400, 401, 404) },
        },
      },
      async (request) => {
        const target = scope(request.params as Record<string, string>)
        const { period, currency, asOf } = await analytics.open(request.merchantId, target, request.query)
        const { period: _, ...summary } = await analytics.summary(target, period)
        return { period, as_of: asOf, ...summary, ...later(summary, currency) }
      },
    )

    for (const [dim, group] of Object.entries(GROUPS) as [
      keyof typeof GROUPS,
      (typeof GROUPS)[keyof typeof GROUPS],
    ][]) {
      app.get(
        `${prefix}/${dim}`,
        {
          config,
          schema: {
            tags,
            summary: `${group.summary} of ${what}`,
            description: PERIOD_NOTE,
            params,
            querystring: GroupedQuery,
            response: { 200: group.response, ...errors(400, 401, 404) },
          },
        },
        async (request) => {
          const target = scope(request.params as Record<string, string>)
          const row: (row: GroupRow) => object = group.row
          return grouped(target, dim, request.merchantId, request.query, row)
        },
      )
    }
  }

  app.get(
    '/projects/:project_id/dashboard/paylink',
    {
      schema: {
        tags,
        summary: 'Top paylinks of a project',
        description: `${PERIOD_NOTE} Deleted paylinks keep their figures and appear with \`deleted: true\`.`,
        params: Type.Object({ project_id: ObjectId() }),
        querystring: GroupedQuery,
        response: {
          200: Grouped(
            {
              paylink_id: Type.String(),
              name: Type.Union([Type.String(), Type.Null()]),
              deleted: Type.Boolean(),
            },
            TOP,
          ),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request) => {
      const target: Scope = { kind: 'project', id: request.params.project_id }
      const result = await grouped(target, 'paylink', request.merchantId, request.query, (row) => ({
        paylink_id: row.key,
      }))
      const names = await services.paylinks.names(result.top.map((row) => row.paylink_id))
      return {
        ...result,
        top: result.top.map((row) => ({
          ...row,
          name: names.get(row.paylink_id)?.name ?? null,
          deleted: names.get(row.paylink_id)?.deleted ?? true,
        })),
      }
    },
  )

  async function grouped<K extends object>(
    target: Scope,
    dim: GroupedDim,
    merchantId: string,
    query: DashboardQueryInput,
    key: (row: GroupRow) => K,
  ) {
    const { period, currency, asOf } = await analytics.open(merchantId, target, query)
    const [rows, total] = await Promise.all([
      analytics.grouped(target, dim, period, query.limit ?? 10),
      analytics.summary(target, period),
    ])
    const { period: _, ...totals } = total
    return {
      period,
      as_of: asOf,
      top: rows.map((row) => {
        const { key: _key, unique_visitors: _u, ...figures } = row
        return { ...key(row), ...figures, ...later(row, currency) }
      }),
      total: { ...totals, ...later(totals, currency) },
    }
  }
}
