// Dashboard pages of paylinks: the product picker that makes one, and a paylink's page with its URL, a
// UTM builder, a QR code of the tagged URL, delete, and how it sells over a chosen period.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import QRCode from 'qrcode'
import { MAX_PRODUCTS } from '../paylinks/schemas.js'
import {
  type ApiError,
  ApiFailure,
  allOf,
  fieldErrors,
  NotFoundError,
  type PaylinkJson,
  type ProductJson,
  type ProjectJson,
  projectOf,
} from './api.js'
import { type Form, many, one } from './form.js'
import type { PageKit } from './routes.js'
import { choosePeriod, readStats } from './stats.js'

export const UTM_FIELDS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const

export async function paylinkPages(app: FastifyInstance, kit: PageKit): Promise<void> {
  const { render, done, services } = kit

  const paylinkForm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    project: ProjectJson,
    state: { values?: Form; errors?: Record<string, string>; alert?: string },
    status = 200,
  ) => {
    const products = await allOf<'products', ProductJson>(request.admin, '/products', 'products', {
      project_id: project.id,
    })
    const chosen = new Set(many(state.values, 'products'))
    return render(
      request,
      reply,
      'paylink-new',
      {
        title: 'New paylink',
        nav: 'projects',
        project,
        products: products.products.map((p) => ({ ...p, checked: chosen.has(p.id) })),
        lifeDays: services.config.paylinkLifeDays,
        maxProducts: MAX_PRODUCTS,
        values: { name: one(state.values, 'name'), life_days: one(state.values, 'life_days') },
        errors: state.errors ?? {},
        alert: state.alert,
      },
      status,
    )
  }

  app.get<{ Params: { id: string } }>('/projects/:id/paylinks/new', async (request, reply) => {
    const project = await projectOf(request.admin, request.params.id)
    return paylinkForm(request, reply, project, {})
  })

  app.post<{ Params: { id: string }; Body: Form }>('/projects/:id/paylinks', async (request, reply) => {
    const project = await projectOf(request.admin, request.params.id)
    const body = request.body
    const lifeDays = Number(one(body, 'life_days'))
    const result = await request.admin.call<PaylinkJson>('POST', '/paylinks', {
      body: {
        project_id: project.id,
        products: many(body, 'products'),
        life_days: Number.isInteger(lifeDays) ? lifeDays : one(body, 'life_days'),
        ...(one(body, 'name') ? { name: one(body, 'name') } : {}),
      },
    })
    if (!result.ok) {
      // The API's paylink codes carry their fixed wording; say which field they are about.
      const error = result.error
      const errors = error.code.startsWith('pl0000') ? { products: error.message } : fieldErrors(error)
      return paylinkForm(
        request,
        reply,
        project,
        { values: body, errors, alert: error.message },
        result.status,
      )
    }
    return done(reply, `/paylinks/${result.body.id}`, 'paylink_created')
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/paylinks/:id',
    async (request, reply) => {
      const link = await request.admin.get<PaylinkJson>(`/paylinks/${encodeURIComponent(request.params.id)}`)
      const period = choosePeriod(request.query, services.clock.now())
      const utm = Object.fromEntries(UTM_FIELDS.map((f) => [f, request.query[f]?.trim() ?? '']))
      const [project, products, stats, url] = await Promise.all([
        projectOf(request.admin, link.project_id),
        allOf<'products', ProductJson>(request.admin, '/products', 'products', {
          project_id: link.project_id,
          include_archived: true,
        }),
        readStats(request.admin, `/paylinks/${link.id}/dashboard`, period),
        taggedUrl(request, link.id, utm),
      ])
      const names = new Map(products.products.map((p) => [p.id, p]))
      const qrFits = typeof url === 'string' && qrLevel(url) !== undefined
      const utmQuery = new URLSearchParams(Object.entries(utm).filter(([, v]) => v)).toString()
      return render(request, reply, 'paylink', {
        title: link.name ?? `Paylink ${link.id.slice(0, 8)}`,
        nav: 'projects',
        link,
        project,
        products: link.products.map((id) => names.get(id) ?? { id, name: id, prices: [] }),
        stats: { ...stats, action: `/dashboard/paylinks/${link.id}`, keep: utm },
        utm,
        share: typeof url === 'string' ? { url } : { error: url.message },
        qr: qrFits ? `/dashboard/paylinks/${link.id}/qr` : null,
        qrTooLong: typeof url === 'string' && !qrFits ? tooLongForQr(url) : null,
        qrQuery: utmQuery ? `?${utmQuery}` : '',
        qrDownload: utmQuery ? `?${utmQuery}&download=1` : '?download=1',
      })
    },
  )

  app.post<{ Params: { id: string } }>('/paylinks/:id/delete', async (request, reply) => {
    const link = await request.admin.get<PaylinkJson>(`/paylinks/${encodeURIComponent(request.params.id)}`)
    const result = await request.admin.call('DELETE', `/paylinks/${link.id}`)
    if (!result.ok) throw new ApiFailure(result.status, result.error)
    return done(reply, `/projects/${link.project_id}`, 'paylink_deleted')
  })

  // The QR code of the link's URL, with the UTM tags of the query: SVG to print, PNG to paste.
  app.get<{ Params: { id: string; format: string }; Querystring: Record<string, string> }>(
    '/paylinks/:id/qr.:format',
    async (request, reply) => {
      const format = request.params.format
      if (format !== 'svg' && format !== 'png') return reply.callNotFound()
      const url = await taggedUrl(request, request.params.id, request.query)
      if (typeof url !== 'string') return reply.code(400).type('text/plain').send(url.message)
      const level = qrLevel(url)
      if (!level) return reply.code(422).type('text/plain; charset=utf-8').send(tooLongForQr(url))
      const name = `paylink-${request.params.id.slice(0, 8)}.${format}`
      reply.header(
        'content-disposition',
        `${request.query.download ? 'attachment' : 'inline'}; filename="${name}"`,
      )
      reply.header('cache-control', 'private, no-store')
      if (format === 'svg') {
        return reply
          .type('image/svg+xml')
          .send(await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: level, margin: 2 }))
      }
      return reply
        .type('image/png')
        .send(await QRCode.toBuffer(url, { type: 'png', errorCorrectionLevel: level, margin: 2, width: 512 }))
    },
  )
}

/** The paylink's public URL with the UTM tags given, as the API builds it, or the API's refusal. */
export async function taggedUrl(
  request: FastifyRequest,
  id: string,
  query: Record<string, string | undefined>,
): Promise<string | ApiError> {
  const tags = Object.fromEntries(UTM_FIELDS.map((f) => [f, query[f]?.trim()]))
  const result = await request.admin.call<{ url: string }>('GET', `/paylinks/${encodeURIComponent(id)}/url`, {
    query: tags,
  })
  if (result.ok) return result.body.url
  if (result.status === 404) throw new NotFoundError(result.error.message)
  return result.error
}

/**
 * The error correction of a URL's QR code: M (15 % of the code may be damaged) while the URL fits, then L
 * (7 %) for longer ones; undefined when even the largest code at L cannot hold it (about 2,900 bytes).
 */
export function qrLevel(url: string): 'M' | 'L' | undefined {
  for (const level of ['M', 'L'] as const) {
    try {
      QRCode.create(url, { errorCorrectionLevel: level })
      return level
    } catch (error) {
      // qrcode's only way to say that the data does not fit; anything else is a real failure.
      if (!(error instanceof Error && /too big/i.test(error.message))) throw error
    }
  }
  return undefined
}

export function tooLongForQr(url: string): string {
  return `This URL is too long for a QR code (${url.length} characters, and a QR code holds about 2,900): use shorter UTM tags.`
}
