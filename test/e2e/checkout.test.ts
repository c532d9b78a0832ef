/// <reference lib="dom" />
// A buyer in a real browser: open a paylink, pay, see the receipt; decline; an expired link.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  type TestMerchant,
} from '../helpers/factories.js'
import { collectPageErrors, type LiveApp, launchBrowser, screenshot, startLiveApp } from './browser.js'

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

async function fillCard(page: import('playwright-core').Page, number: string) {
  await page.getByLabel('Email').fill('buyer@example.com')
  await page.getByLabel('Card number').fill(number)
  await page.getByLabel('Expiry (MM/YY)').fill('12/34')
  await page.getByLabel('Security code').fill('123')
  await page.getByLabel('Name on card (optional)').fill('Ada Buyer')
}

describe('paying a paylink in the browser', () => {
  it('goes from the link with UTM tags to the payment page and a receipt, and the order is paid with its UTM', async () => {
    const link = await createPaylink(live.app, merchant, projectId, productIds)
    const context = await browser.newContext({ locale: 'en-US' })
    const page = await context.newPage()
    const errors = collectPageErrors(page)
    await page.goto(
      `${live.baseUrl}/paylink/${link.id}?utm_source=newsletter&utm_medium=email&utm_campaign=launch`,
    )
    expect(page.url()).toMatch(/\/pay\/ord_[0-9a-f]{24}\?utm_source=newsletter/)
    await expect.poll(() => page.locator('h1').textContent()).toBe('Pay $24.99')
    expect(await page.getByRole('cell', { name: 'Starter pack' }).isVisible()).toBe(true)
    // The stylesheet loaded under the CSP: the card has its width and the button its colour.
    const background = await page
      .getByRole('button', { name: 'Pay $24.99' })
      .evaluate((b) => getComputedStyle(b).backgroundColor)
    expect(background).toBe('rgb(35, 83, 214)')
    await screenshot(page, 'payment-page')

    await fillCard(page, '4242424242424242')
    expect(await page.getByLabel('Card number').inputValue()).toBe('4242 4242 4242 4242')
    await page.getByRole('button', { name: 'Pay $24.99' }).click()
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
    expect(await page.locator('h1').textContent()).toContain('Your payment of $24.99 went through')
    expect(await page.getByText('Visa ending in 4242').isVisible()).toBe(true)
    await screenshot(page, 'receipt')
    expect(errors).toEqual([])

    const orderId = /\/pay\/(ord_[0-9a-f]{24})/.exec(page.url())?.[1]
    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      total_amount: 2499,
      buyer_email: 'buyer@example.com',
      utm: { source: 'newsletter', medium: 'email', campaign: 'launch' },
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

  it('shows a declined card’s reason and then accepts another card', async () => {
    const link = await createPaylink(live.app, merchant, projectId, [productIds[0] as string])
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } })
    const page = await context.newPage()
    await page.goto(`${live.baseUrl}/paylink/${link.id}`)
    await fillCard(page, '4000 0000 0000 0002')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('Payment declined.')
    expect(await page.getByRole('alert').first().textContent()).toContain('card_declined')
    await screenshot(page, 'declined-phone')
    await page.getByLabel('Card number').fill('4242 4242 4242 4242')
    await page.getByLabel('Security code').fill('123')
    await page.getByRole('button', { name: /^Pay/ }).click()
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
    expect(await page.locator('h1').textContent()).toContain('went through')
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
