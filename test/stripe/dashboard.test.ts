// The dashboard's project settings connect a project to Stripe through the admin API: the key checked at
// Stripe, its refusal beside its field, the events URL and event types to register, the mode shown on
// the project, and no secret ever written back into a page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DashboardClient } from '../helpers/dashboard.js'
import { api, createMerchant, createProject, type TestMerchant } from '../helpers/factories.js'
import { startWorld, type World } from './world.js'

const PASSWORD = 'stripe dashboard password'
let world: World
let owner: TestMerchant
let me: DashboardClient
let intruder: DashboardClient

beforeAll(async () => {
  world = await startWorld()
  owner = await createMerchant(world.services, 'Owner')
  const other = await createMerchant(world.services, 'Other')
  await world.services.users.create({ merchantId: owner.id, email: 'owner@example.com', password: PASSWORD })
  await world.services.users.create({ merchantId: other.id, email: 'other@example.com', password: PASSWORD })
  me = new DashboardClient(world.app, '198.51.100.11')
  intruder = new DashboardClient(world.app, '198.51.100.12')
  expect((await me.signIn('owner@example.com', PASSWORD)).statusCode).toBe(303)
  expect((await intruder.signIn('other@example.com', PASSWORD)).statusCode).toBe(303)
})
afterAll(() => world?.close())

const providerAlert = (html: string) => /id="provider-alert">([^<]*)</.exec(html)?.[1]

describe('the payment provider on a project’s settings page', () => {
  it('connects Stripe with the key, then the signing secret, shows what to register, and switches back', async () => {
    const project = await createProject(world.app, owner, { name: 'Shop' })
    const settings = `/dashboard/projects/${project.id}/settings`
    const form = `/dashboard/projects/${project.id}/payment-provider`
    const stripe = world.double.createAccount()

    let page = await me.get(settings)
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('Buyers pay through <strong>the sandbox</strong>')

    // A key Stripe refuses: the form says so beside the field, keeps nothing, and echoes no secret.
    const wrong = `sk_test_${'w'.repeat(30)}`
    page = await me.post(form, {
      provider: 'stripe',
      secret_key: wrong,
      webhook_secret: stripe.webhookSecret,
    })
    expect(page.statusCode).toBe(400)
    expect(providerAlert(page.body)).toBe(
      'secret_key: Stripe does not accept this key (401 Invalid API Key); copy a current secret key from the API keys page of the Stripe dashboard',
    )
    expect(page.body).toContain('id="f-secret_key" name="secret_key" type="password" value=""')
    expect(page.body).toMatch(/id="f-secret_key"[^>]*aria-invalid="true"/)
    expect(page.body).not.toContain(wrong)
    expect(page.body).not.toContain(stripe.webhookSecret)

    // The key alone: saved, and the page shows the URL to register and what is still missing.
    page = await me.post(form, { provider: 'stripe', secret_key: stripe.secretKey, webhook_secret: '' })
    expect(page.statusCode).toBe(303)
    expect(page.headers.location).toBe(`${settings}?notice=project_updated`)
    page = await me.get(settings)
    const provider = (await api(world.app, owner, 'GET', `/projects/${project.id}/payment-provider`)).body
    expect(page.body).toContain(`<code class="mono" id="events-url">${provider.events_url}</code>`)
    expect(page.body).toContain('<code>checkout.session.completed</code>')
    expect(page.body).toContain('<code>setup_intent.succeeded</code>.')
    expect(page.body).toContain('id="no-signing-secret"')
    expect(page.body).toContain(`key ending in <code>${stripe.secretKey.slice(-4)}</code>`)
    expect(page.body).not.toContain(stripe.secretKey)

    page = await me.post(form, { provider: 'stripe', secret_key: '', webhook_secret: stripe.webhookSecret })
    expect(page.statusCode).toBe(303)
    page = await me.get(settings)
    expect(page.body).not.toContain('id="no-signing-secret"')
    expect(page.body).not.toContain(stripe.webhookSecret)
    const projectPage = await me.get(`/dashboard/projects/${project.id}`)
    expect(projectPage.body).toContain(
      'payments by Stripe <span class="badge test" id="provider-mode">test mode</span>',
    )

    // Back to the sandbox; secrets typed meanwhile are dropped, not refused.
    page = await me.post(form, { provider: 'sandbox', secret_key: 'typed by mistake' })
    expect(page.statusCode).toBe(303)
    expect(
      (await api(world.app, owner, 'GET', `/projects/${project.id}/payment-provider`)).body.provider,
    ).toBe('sandbox')
  })

  it('says in the form that Stripe could not be reached, and saves nothing', async () => {
    const project = await createProject(world.app, owner)
    const stripe = world.double.createAccount()
    world.double.addFault({ kind: 'error', path: '/v1/account', times: 1 })
    const page = await me.post(`/dashboard/projects/${project.id}/payment-provider`, {
      provider: 'stripe',
      secret_key: stripe.secretKey,
    })
    expect(page.statusCode).toBe(503)
    expect(providerAlert(page.body)).toBe(
      'secret_key: Stripe could not be reached to check the key; nothing was saved. Try again in a moment.',
    )
    expect(
      (await api(world.app, owner, 'GET', `/projects/${project.id}/payment-provider`)).body.provider,
    ).toBe('sandbox')
  })

  it('answers 404 for another merchant’s project and changes nothing there', async () => {
    const project = await createProject(world.app, owner)
    const stripe = world.double.createAccount()
    await intruder.get('/dashboard/projects')
    const page = await intruder.post(`/dashboard/projects/${project.id}/payment-provider`, {
      provider: 'stripe',
      secret_key: stripe.secretKey,
    })
    expect(page.statusCode).toBe(404)
    expect((await intruder.get(`/dashboard/projects/${project.id}/settings`)).statusCode).toBe(404)
    expect(
      (await api(world.app, owner, 'GET', `/projects/${project.id}/payment-provider`)).body.provider,
    ).toBe('sandbox')
  })
})
