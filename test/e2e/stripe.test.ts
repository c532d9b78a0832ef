/// <reference lib="dom" />
// Stripe in a real browser, against the Stripe double (STRIPE_API_URL): the merchant connects the demo
// project in the dashboard, a buyer takes the demo paylink through paylinks' page, the double's Checkout
// page and back to a receipt; a declined card and a cancel back to paylinks' page; then a refund, seen in
// the statistics and in a verified webhook.
import type { Browser, Page } from 'playwright-core'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DemoData, seedDemoIfEmpty } from '../../src/demo.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
import { startWorld, type World } from '../stripe/world.js'
import type { DoubleAccount } from '../stripe-double/index.js'
import { collectPageErrors, launchBrowser, screenshot } from './browser.js'

let world: World
let browser: Browser
let demo: DemoData
let stripe: DoubleAccount
let receiver: Receiver
let webhookSecret: string
const headers = () => ({ authorization: `Bearer ${demo.apiKey}`, 'content-type': 'application/json' })

beforeAll(async () => {
  world = await startWorld({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } })
  demo = (await seedDemoIfEmpty(world.services)) as DemoData
  stripe = world.double.createAccount({ displayName: 'Demo Merchant' })
  receiver = await startReceiver()
  const endpoint = await world.app.inject({
    method: 'POST',
    url: '/admin/api/v1/webhooks',
    headers: headers(),
    payload: { url: receiver.url, events: ['*'] },
  })
  webhookSecret = endpoint.json().secret
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await receiver?.close()
  await world?.close()
})

async function buyerPage(): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1024, height: 900 } })
  const page = await context.newPage()
  return { page, errors: collectPageErrors(page), close: () => context.close() }
}

/** On the double's Checkout page: a test card, its expiry and CVC, then Pay. */
async function payOnStripe(page: Page, card: string) {
  await page.getByLabel('Card number').fill(card)
  await page.getByLabel('Expiry (MM / YY)').fill('12 / 34')
  await page.getByLabel('CVC').fill('123')
  await page.getByRole('button', { name: 'Pay', exact: true }).click()
}

const orderIdOf = (url: string) => /\/pay\/(ord_[0-9a-f]{24})/.exec(url)?.[1] as string

describe('Stripe in the browser', () => {
  it('connects the demo project to Stripe in the dashboard: the key, the events URL, the signing secret', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 1000 } })
    const page = await context.newPage()
    const errors = collectPageErrors(page)
    await page.goto(`${world.baseUrl}/dashboard/login`)
    await page.getByLabel('Email').fill(demo.userEmail)
    await page.getByLabel('Password').fill(demo.userPassword)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/\/dashboard\//)
    await page.goto(`${world.baseUrl}/dashboard/projects/${demo.projectId}/settings`)
    await page.getByLabel('Stripe', { exact: true }).check()
    await page.getByLabel('Stripe secret key').fill(stripe.secretKey)
    await page.getByRole('button', { name: 'Save payment provider' }).click()
    await page.waitForURL(/notice=project_updated/)
    const eventsUrl = (await page.locator('#events-url').textContent()) as string
    expect(eventsUrl).toMatch(new RegExp(`^${world.baseUrl}/providers/pa_[0-9a-f]{24}/events$`))
    expect(await page.locator('#no-signing-secret').isVisible()).toBe(true)
    // What the merchant does in Stripe's dashboard: add the endpoint, which shows its signing secret.
    world.double.setWebhook(stripe.id, eventsUrl)
    await page.getByLabel('Stripe', { exact: true }).check()
    await page.getByLabel('Webhook signing secret').fill(stripe.webhookSecret)
    await page.getByRole('button', { name: 'Save payment provider' }).click()
    await page.waitForURL(/notice=project_updated/)
    expect(await page.locator('#no-signing-secret').count()).toBe(0)
    expect(await page.content()).not.toContain(stripe.secretKey)
    await screenshot(page, 'stripe-project-settings')
    expect(errors).toEqual([])
    await context.close()
  })

  it('takes the demo paylink through paylinks’ page, Stripe’s Checkout page and back to a receipt', async () => {
    const buyer = await buyerPage()
    const { page } = buyer
    await page.goto(`${world.baseUrl}/paylink/${demo.paylinkId}?utm_source=e2e`)
    await expect.poll(() => page.locator('h1').textContent()).toBe('Pay $30.00')
    expect(await page.getByText('Test mode: no real money moves').isVisible()).toBe(true)
    expect(await page.getByText('Stripe', { exact: true }).isVisible()).toBe(true)
    await page.getByLabel('Email').fill('ada@example.com')
    await page.getByRole('button', { name: 'Continue to payment' }).click()
    // Stripe's page (the double's, at STRIPE_API_URL): the order's lines and total, and the buyer's email.
    await page.waitForURL(`${world.double.url}/c/pay/**`)
    expect(await page.locator('h1').textContent()).toBe('Pay $30.00')
    expect(await page.getByText('Paylinks T-shirt × 1').isVisible()).toBe(true)
    expect(await page.locator('#email').inputValue()).toBe('ada@example.com')
    await screenshot(page, 'stripe-checkout')
    await payOnStripe(page, '4242 4242 4242 4242')
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
    expect(await page.locator('h1').textContent()).toContain('Your payment of $30.00 went through')
    expect(await page.getByText('Visa ending in 4242').isVisible()).toBe(true)
    expect(await page.getByText('Test mode: no real money moved').isVisible()).toBe(true)
    await screenshot(page, 'stripe-receipt')
    expect(buyer.errors).toEqual([])
    await buyer.close()

    await world.double.eventsSettled()
    const orderId = orderIdOf(page.url())
    const order = await world.app.inject({ url: `/admin/api/v1/orders/${orderId}`, headers: headers() })
    expect(order.json()).toMatchObject({
      status: 'paid',
      livemode: false,
      utm: { source: 'e2e' },
      payments: [{ provider: 'stripe', status: 'succeeded', card_last4: '4242' }],
    })
  })

  it('shows a decline on Stripe’s page, comes back to paylinks’ page on cancel, and pays after', async () => {
    const buyer = await buyerPage()
    const { page } = buyer
    await page.goto(`${world.baseUrl}/paylink/${demo.paylinkId}`)
    await page.getByLabel('Email').fill('bob@example.com')
    await page.getByRole('button', { name: 'Continue to payment' }).click()
    await page.waitForURL(`${world.double.url}/c/pay/**`)
    await payOnStripe(page, '4000 0000 0000 0002')
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Your card was declined.')
    await page.getByRole('link', { name: 'Cancel and go back' }).click()
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}\/cancel\?payment=pay_/)
    expect(await page.getByRole('status').textContent()).toContain('Payment canceled.')
    await screenshot(page, 'stripe-canceled')
    await page.getByRole('button', { name: 'Continue to payment' }).click()
    await page.waitForURL(`${world.double.url}/c/pay/**`)
    await payOnStripe(page, '4242 4242 4242 4242')
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
    expect(await page.locator('h1').textContent()).toContain('went through')
    // The double answers the declined card's page with a 402, which Chromium logs; nothing else may fail.
    expect(buyer.errors.filter((e) => !e.includes('status of 402'))).toEqual([])
    await buyer.close()
  })

  it('refunds half of the first order (the dashboard’s refund call), in the statistics and a verified webhook', async () => {
    const orders = await world.app.inject({
      url: `/admin/api/v1/orders?project_id=${demo.projectId}&status=paid`,
      headers: headers(),
    })
    const first = orders
      .json()
      .orders.find((o: { buyer_email: string }) => o.buyer_email === 'ada@example.com')
    // The dashboard's refund form (branch paydash) makes this call; the refund goes to Stripe.
    const refund = await world.app.inject({
      method: 'POST',
      url: `/admin/api/v1/orders/${first.id}/refunds`,
      headers: headers(),
      payload: { amount: 1500, reason: 'requested_by_customer' },
    })
    expect(refund.json()).toMatchObject({ status: 'succeeded', amount: 1500 })
    await world.double.eventsSettled()
    const summary = await world.app.inject({
      url: `/admin/api/v1/projects/${demo.projectId}/dashboard/summary`,
      headers: headers(),
    })
    expect(summary.json()).toMatchObject({
      revenue: [{ currency: 'USD', amount: 6000 }],
      refunded: [{ currency: 'USD', amount: 1500 }],
      net_revenue: [{ currency: 'USD', amount: 4500 }],
    })
    while ((await world.services.dispatcher.runOnce()) > 0) {}
    const verify = new Webhook(webhookSecret)
    const delivered = receiver.received.map((r) => {
      const flat = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]))
      return verify.verify(r.body, flat) as { type: string; data: { id?: string; amount_refunded?: number } }
    })
    expect(delivered.map((e) => e.type)).toEqual(
      expect.arrayContaining(['order.created', 'order.paid', 'order.refunded', 'refund.succeeded']),
    )
    expect(delivered.find((e) => e.type === 'order.refunded')?.data).toMatchObject({
      id: first.id,
      status: 'partially_refunded',
      amount_refunded: 1500,
      livemode: false,
    })
  })
})
