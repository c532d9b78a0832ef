/// <reference lib="dom" />
// A portal administrator in a real browser: the checkout-setup page and a payment page, each ending on
// the portal's own page at backUrl (a small HTTP server on loopback).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, createMerchant, createProduct, createProject, type TestMerchant } from '../helpers/factories.js'
import {
  collectPageErrors,
  continueToProvider,
  enterCard,
  type LiveApp,
  launchBrowser,
  screenshot,
  startLiveApp,
} from './browser.js'

let live: LiveApp
let browser: Browser
let portalServer: http.Server
let portalUrl: string
let merchant: TestMerchant
let portalId: string
let headers: Record<string, string>

beforeAll(async () => {
  portalServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(
      `<!doctype html><title>Portal billing</title><h1>Back at the portal</h1><p id="query">${new URL(req.url ?? '/', 'http://x').search}</p>`,
    )
  })
  await new Promise<void>((resolve) => portalServer.listen(0, '127.0.0.1', resolve))
  portalUrl = `http://127.0.0.1:${(portalServer.address() as AddressInfo).port}`
  live = await startLiveApp()
  browser = await launchBrowser()
  merchant = await createMerchant(live.services, 'SaaS Inc')
  const project = await createProject(live.app, merchant, { name: 'Cloud Office' })
  await createProduct(live.app, merchant, project.id, {
    name: 'User seat',
    sku: '1001',
    prices: [{ currency: 'USD', amount: 600 }],
  })
  portalId = (
    await api(live.app, merchant, 'POST', '/portals', { project_id: project.id, name: 'acme.cloud' })
  ).body.id
  const key = (await api(live.app, merchant, 'POST', `/portals/${portalId}/keys`)).body.key
  headers = { Accept: 'application/json', Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
})
afterAll(async () => {
  await browser?.close()
  await live?.close()
  await new Promise((resolve) => portalServer?.close(resolve))
})

describe('portal pages in the browser', () => {
  it('saves a payment method on the checkout-setup page and returns to BackUrl', async () => {
    const backUrl = `${portalUrl}/billing/return`
    const res = await fetch(
      `${live.baseUrl}/api/2.0/portal/payment/chechoutsetupurl?BackUrl=${encodeURIComponent(backUrl)}`,
      { headers },
    )
    const setupUrl = (await res.json()).response
    const page = await browser.newPage()
    const errors = collectPageErrors(page)
    await page.goto(setupUrl)
    await screenshot(page, 'checkout-setup')
    // The card is entered on the provider's page, not on paylinks'.
    expect(await page.getByLabel('Card number').count()).toBe(0)
    await page.getByRole('button', { name: 'Continue to add a card' }).click()
    await page.waitForURL(/\/sandbox\/checkout\/sbx_cs_[0-9a-f]{24}$/)
    await enterCard(page, '4242 4242 4242 4242', '10/33', '321')
    await screenshot(page, 'checkout-setup-sandbox')
    await page.getByRole('button', { name: 'Save card' }).click()
    await page.waitForURL(`${portalUrl}/**`)
    expect(await page.locator('h1').textContent()).toBe('Back at the portal')
    expect(await page.locator('#query').textContent()).toMatch(/^\?setup_id=cs_[0-9a-f]{24}&status=saved$/)
    const method = await api(live.app, merchant, 'GET', `/portals/${portalId}/payment-method`)
    expect(method.body).toMatchObject({
      card_brand: 'visa',
      card_last4: '4242',
      card_exp_month: 10,
      card_exp_year: 2033,
    })
    expect(errors).toEqual([])
    await page.close()
  })

  it('pays the payment page URL for quantities and returns to backUrl with the order id and status', async () => {
    const backUrl = `${portalUrl}/billing/return`
    const res = await fetch(`${live.baseUrl}/api/2.0/portal/payment/url`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ backUrl, quantity: { '1001': 4 } }),
    })
    const paymentUrl = (await res.json()).response
    const page = await browser.newPage()
    const errors = collectPageErrors(page)
    await page.goto(paymentUrl)
    expect(await page.locator('h1').textContent()).toBe('Pay $24.00')
    await continueToProvider(page, 'admin@acme.cloud')
    await enterCard(page, '4242 4242 4242 4242', '10/33', '321')
    await page.getByRole('button', { name: 'Pay $24.00' }).click()
    await page.waitForURL(`${portalUrl}/**`)
    const orderId = /ord_[0-9a-f]{24}/.exec(paymentUrl)?.[0]
    expect(await page.locator('#query').textContent()).toBe(`?order_id=${orderId}&status=paid`)
    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      portal_id: portalId,
      total_amount: 2400,
      buyer_email: 'admin@acme.cloud',
    })
    expect(errors).toEqual([])
    await page.close()
  })
})
