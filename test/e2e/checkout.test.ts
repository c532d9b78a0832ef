/// <reference lib="dom" />
// A buyer in a real browser: the email on paylinks' page, the card on the sandbox provider's own page, and
// back to a receipt once the provider says so — with 3-D Secure, after a decline, and for a payment that
// stays processing a while; an expired link. No page logs an error (a CSP violation, a failed asset).
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'
import {
  collectPageErrors,
  continueToProvider,
  enterCard,
  type LiveApp,
  launchBrowser,
  screenshot,
  startLiveApp,
  unexpected,
} from './browser.js'

let live: LiveApp
let browser: Browser
let merchant: TestMerchant
let projectId: string
let productIds: string[]

beforeAll(async () => {
  live = await startLiveApp()
  browser = await launchBrowser()
  merchant = await createMerchant(live.services, 'Acme Games')
  projectId = (await createProject(live.app, merchant, { name: 'Acme Store' })).id
  productIds = [
    (
      await createProduct(live.app, merchant, projectId, {
        name: 'Starter pack',
        prices: [{ currency: 'USD', amount: 1999 }],
      })
    ).id,
    (
      await createProduct(live.app, merchant, projectId, {
        name: 'Gold coins',
        prices: [{ currency: 'USD', amount: 500 }],
      })
    ).id,
  ]
})
afterAll(async () => {
  await browser?.close()
  await live?.close()
})

const RECEIPT_URL = /\/pay\/ord_[0-9a-f]{24}$/

/** A buyer's browser on a new order of a paylink of the first product. */
async function buyerOnNewOrder(options: Parameters<Browser['newContext']>[0] = {}) {
  const link = await createPaylink(live.app, merchant, projectId, [productIds[0] as string])
  const context = await browser.newContext({ locale: 'en-US', ...options })
  const page = await context.newPage()
  const errors = collectPageErrors(page)
  await page.goto(`${live.baseUrl}/paylink/${link.id}`)
  return { context, page, errors }
}

const orderIdOf = (page: Page) => /\/pay\/(ord_[0-9a-f]{24})/.exec(page.url())?.[1] as string

describe('paying a paylink in the browser', () => {
  it('goes from the link with UTM tags to the payment page, the sandbox’s card page and a receipt', async () => {
    const link = await createPaylink(live.app, merchant, projectId, productIds)
    const context = await browser.newContext({ locale: 'en-US' })
    const page = await context.newPage()
    const errors = collectPageErrors(page)
    await page.goto(
      `${live.baseUrl}/paylink/${link.id}?utm_source=newsletter&utm_medium=email&utm_campaign=launch`,
    )
    expect(page.url()).toMatch(/\/pay\/ord_[0-9a-f]{24}\?utm_source=newsletter/)
    const orderId = orderIdOf(page)
    await expect.poll(() => page.locator('h1').textContent()).toBe('Pay $24.99')
    expect(await page.getByRole('cell', { name: 'Starter pack' }).isVisible()).toBe(true)
    expect(await page.getByText('Test mode: no real money moves').isVisible()).toBe(true)
    // paylinks' own page asks for no card: the provider's page does.
    expect(await page.getByLabel('Card number').count()).toBe(0)
    // The stylesheet loaded under the CSP: the button has its colour.
    const background = await page
      .getByRole('button', { name: 'Continue to payment' })
      .evaluate((b) => getComputedStyle(b).backgroundColor)
    expect(background).toBe('rgb(35, 83, 214)')
    await screenshot(page, 'payment-page')

    await continueToProvider(page)
    expect(await page.locator('.sandbox-banner').textContent()).toContain('a simulated payment provider')
    expect(await page.locator('h1').textContent()).toBe('Pay $24.99')
    expect(await page.getByText('4242 4242 4242 4242').first().isVisible()).toBe(true)
    await enterCard(page, '4242424242424242')
    // The sandbox's page formats the number as it is typed.
    expect(await page.getByLabel('Card number').inputValue()).toBe('4242 4242 4242 4242')
    await screenshot(page, 'sandbox-card-page')
    await page.getByRole('button', { name: 'Pay $24.99' }).click()
    // The sandbox's "back to the shop" page returns by itself; paylinks looks the payment up first.
    await page.waitForURL(RECEIPT_URL)
    expect(page.url()).toBe(`${live.baseUrl}/pay/${orderId}`)
    expect(await page.locator('h1').textContent()).toContain('Your payment of $24.99 went through')
    expect(await page.getByText('Visa ending in 4242').isVisible()).toBe(true)
    await screenshot(page, 'receipt')
    expect(errors).toEqual([])

    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      total_amount: 2499,
      buyer_email: 'buyer@example.com',
      utm: { source: 'newsletter', medium: 'email', campaign: 'launch' },
      payments: [{ status: 'succeeded', provider: 'sandbox', livemode: false, card_last4: '4242' }],
    })
    const stat = await api(live.app, merchant, 'GET', `/paylinks/${link.id}/stat`)
    expect(stat.body).toMatchObject({
      visits: 1,
      orders: 1,
      paid_orders: 1,
      revenue: [{ currency: 'USD', amount: 2499 }],
    })
    await context.close()
  })

  it('asks for 3-D Secure on the sandbox’s page and pays once approved', async () => {
    const { context, page, errors } = await buyerOnNewOrder()
    const orderId = orderIdOf(page)
    await continueToProvider(page)
    await enterCard(page, '4000 0027 6000 3184')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await expect.poll(() => page.locator('h1').textContent()).toBe('3-D Secure')
    expect(await page.locator('main').textContent()).toContain('card ending in 3184 asks you to approve')
    await screenshot(page, 'sandbox-3d-secure')
    // Until the buyer answers, paylinks learns from the sandbox's event that the payment asks for action.
    await expect
      .poll(async () => (await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body.payments[0].status)
      .toBe('requires_action')
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.waitForURL(RECEIPT_URL)
    expect(await page.locator('h1').textContent()).toContain('went through')
    expect((await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('paid')
    expect(errors).toEqual([])
    await context.close()
  })

  it('shows a declined card’s reason back on paylinks’ page, and then accepts another card', async () => {
    const { context, page, errors } = await buyerOnNewOrder({ viewport: { width: 375, height: 740 } })
    const orderId = orderIdOf(page)
    await continueToProvider(page)
    await enterCard(page, '4000 0000 0000 0002')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await page.waitForURL(new RegExp(`/pay/${orderId}/return\\?payment=`))
    const alert = page.getByRole('alert').first()
    await expect.poll(() => alert.textContent()).toContain('Payment failed.')
    expect(await alert.textContent()).toContain('The card was declined. (card_declined) No money was taken.')
    // The email is kept for the next attempt.
    expect(await page.getByLabel('Email').inputValue()).toBe('buyer@example.com')
    await screenshot(page, 'declined-phone')
    await page.getByRole('button', { name: 'Continue to payment' }).click()
    await page.waitForURL(/\/sandbox\/checkout\//)
    await enterCard(page, '4242 4242 4242 4242')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await page.waitForURL(RECEIPT_URL)
    expect(await page.locator('h1').textContent()).toContain('went through')
    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body.payments.map((p: { status: string }) => p.status)).toEqual(['failed', 'succeeded'])
    // The declined payment's page is a 402, which Chromium logs; nothing else went wrong.
    expect(errors.filter((e) => e.includes('status of 402'))).toHaveLength(1)
    expect(unexpected(errors)).toEqual([])
    await context.close()
  })

  it('shows a processing payment, which ends in a receipt by itself once the provider confirms it', async () => {
    const { context, page, errors } = await buyerOnNewOrder()
    const orderId = orderIdOf(page)
    await continueToProvider(page)
    await enterCard(page, '4000 0000 0000 0077')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await expect.poll(() => page.locator('h1').textContent()).toBe('Your payment is being processed')
    expect(await page.locator('main').textContent()).toContain('This page updates by itself')
    await screenshot(page, 'processing')
    expect((await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body).toMatchObject({
      status: 'created',
      payments: [{ status: 'processing' }],
    })
    // Nobody clicks: the page refreshes itself until the sandbox's event has settled the payment.
    await page.waitForURL(RECEIPT_URL, { timeout: 30_000 })
    expect(await page.locator('h1').textContent()).toContain('went through')
    await screenshot(page, 'processing-receipt')
    expect((await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body.status).toBe('paid')
    expect(errors).toEqual([])
    await context.close()
  })

  it('shows the expired page for an expired link', async () => {
    const link = await createPaylink(live.app, merchant, projectId, [productIds[0] as string], {
      life_days: 1,
    })
    live.clock.advance(2 * 86_400_000)
    const page = await browser.newPage()
    const response = await page.goto(`${live.baseUrl}/paylink/${link.id}`)
    live.clock.advance(-2 * 86_400_000)
    expect(response?.status()).toBe(410)
    expect(await page.locator('h1').textContent()).toBe('This payment link has expired')
    await screenshot(page, 'expired-link')
    await page.close()
  })
})
