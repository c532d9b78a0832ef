/// <reference lib="dom" />
// A portal administrator in a real browser: the checkout-setup page and a payment page, each ending on
// the portal's own page (a small HTTP server on loopback). Under /portal-settings/ that portal behaves
// like ONLYOFFICE DocSpace: its page builds the back URL as `location.href + "?complete=true"`
// (DocSpace-client's PaymentStore.fetchCardLinked) from a URL that has a query already, its server asks
// paylinks for the URL (as DocSpace's server asks its billing), and coming back it detects completion
// with `window.location.href.includes("complete=true")` (PaymentStore.walletInit).
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

/** The portal's page: plain for /billing/…, DocSpace's client's behaviour under /portal-settings/. */
function portalPage(url: URL): string {
  const docspace = url.pathname.startsWith('/portal-settings/')
  const script = `
    const complete = window.location.href.includes("complete=true");
    document.getElementById("status").textContent = complete ? "complete" : "not complete";
    if (!complete) {
      const api = window.location.pathname.endsWith("/portal-payments") ? "payment-url" : "setup-url";
      const backUrl = \`\${window.location.href}?complete=true\`;
      fetch("/docspace-server/" + api + "?backUrl=" + encodeURIComponent(backUrl))
        .then((res) => res.json())
        .then((target) => {
          const link = document.getElementById("go");
          link.href = target;
          link.dataset.ready = "true";
        });
    }`
  return `<!doctype html><title>Portal billing</title><h1>Back at the portal</h1><p id="query">${url.search}</p>${
    docspace ? `<p id="status"></p><a id="go">Continue to billing</a><script>${script}</script>` : ''
  }`
}

/** What DocSpace's server does for its client: ask the billing for the page with the client's back URL. */
async function docspaceServer(url: URL): Promise<string> {
  const backUrl = url.searchParams.get('backUrl') ?? ''
  const api = `${live.baseUrl}/api/2.0/portal/payment`
  const res = url.pathname.endsWith('/payment-url')
    ? await fetch(`${api}/url`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ quantity: { admin: 3 }, backUrl }),
      })
    : await fetch(`${api}/chechoutsetupurl?${new URLSearchParams({ backUrl })}`, { headers })
  const json = await res.json()
  if (res.status !== 200) throw new Error(`billing answered ${res.status} ${JSON.stringify(json)}`)
  return JSON.stringify(json.response)
}

beforeAll(async () => {
  portalServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', portalUrl)
    if (url.pathname.startsWith('/docspace-server/')) {
      docspaceServer(url).then(
        (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
        (error: Error) => res.writeHead(502, { 'content-type': 'text/plain' }).end(error.message),
      )
      return
    }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(portalPage(url))
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
  // DocSpace's client asks for quantity: { admin: n }.
  await createProduct(live.app, merchant, project.id, {
    name: 'Admin seat',
    sku: 'admin',
    prices: [{ currency: 'USD', amount: 1500 }],
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

  it('brings DocSpace’s client back from the setup page with complete=true in the URL it built', async () => {
    const start = `${portalUrl}/portal-settings/payments/wallet?tab=methods`
    const page = await browser.newPage()
    await page.goto(start)
    expect(await page.locator('#status').textContent()).toBe('not complete')
    await page.locator('#go[data-ready="true"]').click()
    await page.waitForURL(`${live.baseUrl}/setup/**`)
    const setupId = /cs_[0-9a-f]{24}/.exec(page.url())?.[0]
    await page.getByRole('button', { name: 'Continue to add a card' }).click()
    await page.waitForURL(/\/sandbox\/checkout\/sbx_cs_[0-9a-f]{24}$/)
    await enterCard(page, '4242 4242 4242 4242')
    await page.getByRole('button', { name: 'Save card' }).click()
    await page.waitForURL(`${portalUrl}/**`)
    expect(page.url()).toBe(`${start}?complete=true&setup_id=${setupId}&status=saved`)
    expect(await page.locator('#status').textContent()).toBe('complete')
    await screenshot(page, 'docspace-setup-complete')
    const setup = await live.database.db
      .selectFrom('checkout_setups')
      .select(['back_url', 'status'])
      .where('id', '=', setupId as string)
      .executeTakeFirstOrThrow()
    expect(setup).toEqual({ back_url: `${start}?complete=true`, status: 'completed' })
    await page.close()
  })

  it('brings DocSpace’s client back from the payment page with complete=true in the URL it built', async () => {
    const start = `${portalUrl}/portal-settings/payments/portal-payments?tab=plans`
    const backUrl = `${start}?complete=true`
    const page = await browser.newPage()
    await page.goto(start)
    expect(await page.locator('#status').textContent()).toBe('not complete')
    await page.locator('#go[data-ready="true"]').click()
    await page.waitForURL(`${live.baseUrl}/pay/**`)
    const orderId = /ord_[0-9a-f]{24}/.exec(page.url())?.[0]
    expect(await page.locator('h1').textContent()).toBe('Pay $45.00')
    // The way back is the client's URL as it gave it.
    expect(await page.getByRole('link', { name: 'Cancel and go back' }).getAttribute('href')).toBe(backUrl)
    await continueToProvider(page, 'admin@acme.cloud')
    await enterCard(page, '4242 4242 4242 4242')
    await page.getByRole('button', { name: 'Pay $45.00' }).click()
    await page.waitForURL(`${portalUrl}/**`)
    expect(page.url()).toBe(`${backUrl}&order_id=${orderId}&status=paid`)
    expect(await page.locator('#status').textContent()).toBe('complete')
    await screenshot(page, 'docspace-payment-complete')
    const order = await api(live.app, merchant, 'GET', `/orders/${orderId}`)
    expect(order.body).toMatchObject({
      status: 'paid',
      portal_id: portalId,
      back_url: backUrl,
      total_amount: 4500,
      items: [{ name: 'Admin seat', quantity: 3, unit_amount: 1500 }],
    })
    await page.close()
  })
})
