// Dashboard pages of what a merchant sells: projects (with their statistics) and their products.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { currencyExponent, fromDecimalString, isCurrency, toDecimalString } from '../../lib/money.js'
import {
  type AdminClient,
  ApiFailure,
  allOf,
  type List,
  listProjects,
  type PaylinkJson,
  type ProductJson,
  type ProjectJson,
  projectOf,
} from './api.js'
import { type Form, failed, many, offsetOf, one, PAGE_SIZE, pager } from './form.js'
import type { PageKit } from './routes.js'
import { choosePeriod, readStats } from './stats.js'

/** A project's payment provider as the admin API shows it (never a credential). */
interface PaymentProviderJson {
  provider: 'sandbox' | 'stripe'
  mode: 'test' | 'live'
  external_account_id: string | null
  secret_key_last4: string | null
  webhook_secret_set: boolean
  events_url: string | null
  event_types: string[]
}

const providerOf = (admin: AdminClient, projectId: string) =>
  admin.get<PaymentProviderJson>(`/projects/${encodeURIComponent(projectId)}/payment-provider`)

/** The form's price rows as the API's prices, or the field errors of the rows a person got wrong. */
function readPrices(form: Form): {
  prices: { currency: string; amount: number }[]
  errors: Record<string, string>
} {
  const prices: { currency: string; amount: number }[] = []
  const errors: Record<string, string> = {}
  const refuse = (field: string, rule: string) => {
    errors[field] = rule
    errors.prices ??= `${field}: ${rule}`
  }
  // Rows left blank are skipped, so prices[n] is the n-th row filled in, as the API numbers them.
  formPriceRows(form).forEach((row, n) => {
    const currency = row.currency.toUpperCase()
    if (!isCurrency(currency)) {
      refuse(`prices[${n}].currency`, 'must be an ISO 4217 currency code, e.g. USD')
      return
    }
    const amount = fromDecimalString(row.amount, currency)
    if (amount === undefined) {
      const digits = currencyExponent(currency)
      refuse(
        `prices[${n}].amount`,
        `must be a positive amount with at most ${digits} digit${digits === 1 ? '' : 's'} after the point in ${currency}`,
      )
      return
    }
    prices.push({ currency, amount })
  })
  return { prices, errors }
}

/** Price rows for the form: the product's prices and three empty rows to add more. */
function priceRows(prices: { currency: string; amount: number }[] | { currency: string; amount: string }[]) {
  const rows = prices.map((p) => ({
    currency: p.currency,
    amount: typeof p.amount === 'number' ? toDecimalString(p.amount, p.currency) : p.amount,
  }))
  return [...rows, ...Array.from({ length: 3 }, () => ({ currency: '', amount: '' }))]
}

/** The price rows a person filled in (trimmed; blank rows dropped), in the order of the form. */
function formPriceRows(form: Form) {
  const currencies = many(form, 'currency')
  const amounts = many(form, 'amount')
  return Array.from({ length: Math.max(currencies.length, amounts.length) }, (_, i) => ({
    currency: (currencies[i] ?? '').trim(),
    amount: (amounts[i] ?? '').trim(),
  })).filter((row) => row.currency || row.amount)
}

export async function catalogPages(app: FastifyInstance, kit: PageKit): Promise<void> {
  const { render, done, services } = kit

  const projectsPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    form: { values?: Form; errors?: Record<string, string>; alert?: string } = {},
    status = 200,
  ) => {
    const list = await listProjects(request.admin)
    return render(
      request,
      reply,
      'projects',
      {
        title: 'Projects',
        nav: 'projects',
        projects: list.projects,
        total: list.total,
        values: {},
        errors: {},
        ...form,
      },
      status,
    )
  }

  app.get('/projects', (request, reply) => projectsPage(request, reply))

  app.post<{ Body: Form }>('/projects', async (request, reply) => {
    const body = request.body
    const result = await request.admin.call<ProjectJson>('POST', '/projects', {
      body: {
        name: one(body, 'name'),
        default_currency: one(body, 'default_currency').toUpperCase(),
        ...(one(body, 'success_url') ? { success_url: one(body, 'success_url') } : {}),
        ...(one(body, 'sales_email') ? { sales_email: one(body, 'sales_email') } : {}),
      },
    })
    if (!result.ok)
      return projectsPage(request, reply, { values: body, ...failed(result.error) }, result.status)
    return done(reply, `/projects/${result.body.id}`, 'project_created')
  })

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/projects/:id',
    async (request, reply) => {
      const project = await projectOf(request.admin, request.params.id)
      const period = choosePeriod(request.query, services.clock.now())
      const linksOffset = offsetOf(request.query.offset)
      const [products, paylinks, stats, provider] = await Promise.all([
        allOf<'products', ProductJson>(request.admin, '/products', 'products', {
          project_id: project.id,
          include_archived: true,
        }),
        request.admin.get<List<'paylinks', PaylinkJson>>(`/paylinks/project/${project.id}`, {
          offset: linksOffset,
          limit: PAGE_SIZE,
        }),
        readStats(request.admin, `/projects/${project.id}/dashboard`, period, true),
        providerOf(request.admin, project.id),
      ])
      const names = new Map(products.products.map((p) => [p.id, p.name]))
      return render(request, reply, 'project', {
        title: project.name,
        nav: 'projects',
        project,
        provider,
        products: products.products,
        paylinks: paylinks.paylinks.map((l) => ({
          ...l,
          productNames: l.products.map((p) => names.get(p) ?? p),
        })),
        paylinkPage: pager(paylinks.total, linksOffset),
        // Paging keeps the chosen period.
        pageQuery: new URLSearchParams(
          Object.entries(request.query).filter(([k, v]) => k !== 'offset' && k !== 'notice' && v),
        ).toString(),
        stats: { ...stats, action: `/dashboard/projects/${project.id}` },
      })
    },
  )

  // A project's settings, and deleting it

  /** The settings page: the project's fields, its payment provider, and deleting it. */
  const settingsForm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    project: ProjectJson,
    state: {
      values?: Form
      errors?: Record<string, string>
      alert?: string
      /** The payment provider form's own state: its values never hold a secret sent before. */
      providerForm?: { provider: string; errors: Record<string, string>; alert?: string | undefined }
    } = {},
    status = 200,
  ) => {
    const provider = await providerOf(request.admin, project.id)
    return render(
      request,
      reply,
      'project-settings',
      {
        title: `Settings of ${project.name}`,
        nav: 'projects',
        project,
        values: state.values ?? {
          name: project.name,
          default_currency: project.default_currency,
          success_url: project.success_url ?? '',
          sales_email: project.sales_email ?? '',
        },
        errors: state.errors ?? {},
        alert: state.alert,
        provider,
        providerForm: state.providerForm ?? { provider: provider.provider, errors: {} },
      },
      status,
    )
  }

  app.get<{ Params: { id: string } }>('/projects/:id/settings', async (request, reply) =>
    settingsForm(request, reply, await projectOf(request.admin, request.params.id)),
  )

  app.post<{ Params: { id: string }; Body: Form }>('/projects/:id/settings', async (request, reply) => {
    const project = await projectOf(request.admin, request.params.id)
    const body = request.body
    // Every field is sent, so the project becomes what the form shows; an empty optional field clears it.
    const result = await request.admin.call<ProjectJson>('PATCH', `/projects/${project.id}`, {
      body: {
        name: one(body, 'name'),
        default_currency: one(body, 'default_currency').toUpperCase(),
        success_url: one(body, 'success_url') || null,
        sales_email: one(body, 'sales_email') || null,
      },
    })
    if (!result.ok)
      return settingsForm(request, reply, project, { values: body, ...failed(result.error) }, result.status)
    return done(reply, `/projects/${project.id}`, 'project_updated')
  })

  app.post<{ Params: { id: string }; Body: Form }>(
    '/projects/:id/payment-provider',
    async (request, reply) => {
      const project = await projectOf(request.admin, request.params.id)
      const provider = one(request.body, 'provider')
      // The secret fields count only for Stripe: choosing the sandbox with them filled in drops them.
      const body =
        provider === 'stripe'
          ? {
              provider,
              ...(one(request.body, 'secret_key') ? { secret_key: one(request.body, 'secret_key') } : {}),
              ...(one(request.body, 'webhook_secret')
                ? { webhook_secret: one(request.body, 'webhook_secret') }
                : {}),
            }
          : { provider }
      const refused = (error: { code: string; message: string }, status: number) =>
        settingsForm(request, reply, project, { providerForm: { provider, ...failed(error) } }, status)
      let result: Awaited<ReturnType<typeof request.admin.call>>
      try {
        result = await request.admin.call('PUT', `/projects/${project.id}/payment-provider`, { body })
      } catch (error) {
        // Stripe could not be reached to check the key: nothing was saved, and the form says so.
        if (error instanceof ApiFailure && error.status === 503) return refused(error.error, 503)
        throw error
      }
      if (!result.ok) return refused(result.error, result.status)
      return done(reply, `/projects/${project.id}/settings`, 'project_updated')
    },
  )

  app.post<{ Params: { id: string } }>('/projects/:id/delete', async (request, reply) => {
    const project = await projectOf(request.admin, request.params.id)
    const result = await request.admin.call('DELETE', `/projects/${project.id}`)
    if (!result.ok) return settingsForm(request, reply, project, failed(result.error), result.status)
    return done(reply, '/projects', 'project_deleted')
  })

  // Products

  const productForm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    project: ProjectJson,
    state: {
      product?: ProductJson
      values?: Record<string, unknown>
      errors?: Record<string, string>
      alert?: string
    },
    status = 200,
  ) => {
    const product = state.product
    const values = state.values ?? {
      name: product?.name ?? '',
      description: product?.description ?? '',
      sku: product?.sku ?? '',
      prices: priceRows(product?.prices ?? [{ currency: project.default_currency, amount: '' }]),
    }
    return render(
      request,
      reply,
      'product',
      {
        title: product ? product.name : 'New product',
        nav: 'projects',
        project,
        product,
        values,
        errors: state.errors ?? {},
        alert: state.alert,
      },
      status,
    )
  }
  const formValues = (body: Form) => ({
    name: one(body, 'name'),
    description: one(body, 'description'),
    sku: one(body, 'sku'),
    prices: priceRows(formPriceRows(body)),
  })

  app.get<{ Params: { id: string } }>('/projects/:id/products/new', async (request, reply) => {
    const project = await projectOf(request.admin, request.params.id)
    return productForm(request, reply, project, {})
  })

  /**
   * Creates the product (no `product`) or saves it from the form: prices a person got wrong are named
   * before the API is called, and the API's refusal is shown beside its field.
   */
  const submitProduct = async (
    request: FastifyRequest<{ Body: Form }>,
    reply: FastifyReply,
    project: ProjectJson,
    product?: ProductJson,
  ) => {
    const body = request.body
    const { prices, errors } = readPrices(body)
    const refused = (state: { errors: Record<string, string>; alert?: string | undefined }, status: number) =>
      productForm(request, reply, project, { product, values: formValues(body), ...state }, status)
    if (Object.keys(errors).length) return refused({ errors, alert: errors.prices }, 400)
    const fields = { name: one(body, 'name'), description: one(body, 'description'), sku: one(body, 'sku') }
    const result = product
      ? await request.admin.call<ProductJson>('PATCH', `/products/${product.id}`, {
          // Every field is sent: an emptied description or SKU is cleared.
          body: { ...fields, description: fields.description || null, sku: fields.sku || null, prices },
        })
      : await request.admin.call<ProductJson>('POST', '/products', {
          body: {
            project_id: project.id,
            name: fields.name,
            ...(fields.description ? { description: fields.description } : {}),
            ...(fields.sku ? { sku: fields.sku } : {}),
            prices,
          },
        })
    if (!result.ok) return refused(failed(result.error), result.status)
    return product
      ? done(reply, `/products/${product.id}`, 'product_updated')
      : done(reply, `/projects/${project.id}`, 'product_created')
  }

  app.post<{ Params: { id: string }; Body: Form }>('/projects/:id/products', async (request, reply) =>
    submitProduct(request, reply, await projectOf(request.admin, request.params.id)),
  )

  const loadProduct = async (request: FastifyRequest, id: string) => {
    const product = await request.admin.get<ProductJson>(`/products/${encodeURIComponent(id)}`)
    const project = await projectOf(request.admin, product.project_id)
    return { product, project }
  }

  app.get<{ Params: { id: string } }>('/products/:id', async (request, reply) => {
    const { product, project } = await loadProduct(request, request.params.id)
    return productForm(request, reply, project, { product })
  })

  app.post<{ Params: { id: string }; Body: Form }>('/products/:id', async (request, reply) => {
    const { product, project } = await loadProduct(request, request.params.id)
    return submitProduct(request, reply, project, product)
  })

  app.post<{ Params: { id: string } }>('/products/:id/delete', async (request, reply) => {
    const { product, project } = await loadProduct(request, request.params.id)
    const result = await request.admin.call('DELETE', `/products/${product.id}`)
    if (!result.ok)
      return productForm(request, reply, project, { product, ...failed(result.error) }, result.status)
    // The API archives instead when a paylink or an order refers to the product: say which happened.
    const after = await request.admin.call<ProductJson>('GET', `/products/${product.id}`)
    return done(reply, `/projects/${project.id}`, after.ok ? 'product_archived_in_use' : 'product_deleted')
  })

  app.post<{ Params: { id: string }; Body: Form }>('/products/:id/archive', async (request, reply) => {
    const { product, project } = await loadProduct(request, request.params.id)
    const archived = one(request.body, 'archived') !== 'false'
    const result = await request.admin.call<ProductJson>('PATCH', `/products/${product.id}`, {
      body: { archived },
    })
    if (!result.ok)
      return productForm(request, reply, project, { product, ...failed(result.error) }, result.status)
    return done(reply, `/projects/${project.id}`, archived ? 'product_archived' : 'product_restored')
  })
}
