/// <reference lib="dom" />
// A merchant in a real browser: sign in, create a product and a paylink, share it with UTM tags, a buyer
// pays it in another browser context, and the statistics page shows the visit, the order and the revenue.
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, createMerchant } from '../helpers/factories.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
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

const EMAIL = 'owner@dash.example'
const PASSWORD = 'correct horse battery'

let live: LiveApp
let browser: Browser
let merchant: Awaited<ReturnType<typeof createMerchant>>
let desk: BrowserContext
let page: Page
let errors: string[]
let receiver: Receiver

beforeAll(async () => {
  live = await startLiveApp({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true' })
  receiver = await startReceiver()
  browser = await launchBrowser()
  merchant = await createMerchant(live.services, 'Dash Posters')
  await live.services.users.create({ merchantId: merchant.id, email: EMAIL, password: PASSWORD })
  desk = await browser.newContext({
    locale: 'en-US',
    timezoneId: 'UTC',
    viewport: { width: 1280, height: 900 },
  })
  page = await desk.newPage()
  errors = collectPageErrors(page)
})
afterAll(async () => {
  await browser?.close()
  await live?.close()
  await receiver?.close()
})

/** A buyer in a browser of their own pays `url` through the sandbox's page with `card`. */
async function buyerPays(url: string, card = '4242 4242 4242 4242') {
  const context = await browser.newContext({ locale: 'en-US' })
  const buyer = await context.newPage()
  await buyer.goto(url)
  await buyer.waitForURL(/\/pay\/ord_/)
  const orderId = /\/pay\/(ord_[0-9a-f]{24})/.exec(buyer.url())?.[1] as string
  await continueToProvider(buyer)
  await enterCard(buyer, card)
  await buyer.getByRole('button', { name: /^Pay/ }).click()
  await buyer.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
  expect(await buyer.locator('h1').textContent()).toContain('went through')
  await context.close()
  return orderId
}

describe('the merchant dashboard in a browser', () => {
  let paylinkUrl: string
  let taggedUrl: string

  it('asks to sign in, refuses a wrong password, and signs in with the right one', async () => {
    await page.goto(`${live.baseUrl}/dashboard/projects`)
    expect(new URL(page.url()).pathname).toBe('/dashboard/login')
    await screenshot(page, 'dashboard-login')
    // Keyboard only: the fields and the button are reachable with Tab, in order.
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('email')
    await page.keyboard.type(EMAIL)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password')
    await page.keyboard.type('not the password')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain('Wrong email or password')

    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/\/dashboard\/projects$/)
    expect(await page.locator('h1').textContent()).toBe('Projects')
  })

  it('creates a project and a product with a price', async () => {
    await page.getByLabel('Name', { exact: true }).fill('Poster shop')
    await page.getByLabel('Default currency').fill('EUR')
    await page.getByRole('button', { name: 'Create project' }).click()
    await page.waitForURL(/\/dashboard\/projects\/[0-9a-f]{24}\?notice=project_created$/)
    expect(await page.locator('h1').textContent()).toBe('Poster shop')
    await screenshot(page, 'dashboard-project-empty')

    await page.getByRole('link', { name: 'New product' }).click()
    await page.getByLabel('Name', { exact: true }).fill('Harbour poster')
    await page.getByLabel('SKU').fill('POSTER-1')
    // A mistake first: three digits after the point in euros.
    await page.getByLabel('Amount of price 1').fill('12.505')
    await page.getByRole('button', { name: 'Create product' }).click()
    await expect
      .poll(() => page.locator('[role="alert"]').textContent())
      .toContain('prices[0].amount: must be a positive amount with at most 2 digits after the point in EUR')
    await page.getByLabel('Amount of price 1').fill('12.50')
    await page.getByLabel('Currency of price 2').fill('usd')
    await page.getByLabel('Amount of price 2').fill('14')
    await screenshot(page, 'dashboard-product-form')
    await page.getByRole('button', { name: 'Create product' }).click()
    await page.waitForURL(/notice=product_created$/)
    const row = page.locator('tr', { hasText: 'Harbour poster' })
    expect(await row.textContent()).toContain('€12.50')
    expect(await row.textContent()).toContain('$14.00')
  })

  it('edits a product’s prices', async () => {
    await page.getByRole('link', { name: 'Harbour poster' }).click()
    await page.getByLabel('Amount of price 1').fill('11.00')
    await page.getByRole('button', { name: 'Save product' }).click()
    await page.waitForURL(/notice=product_updated$/)
    expect(await page.getByLabel('Amount of price 1').inputValue()).toBe('11.00')
    await page.getByLabel('Amount of price 1').fill('12.50')
    await page.getByRole('button', { name: 'Save product' }).click()
    await page.waitForURL(/notice=product_updated$/)
    await page.getByRole('link', { name: 'Poster shop' }).click()
  })

  it('creates a paylink with the product picker and shares it with UTM tags and a QR code', async () => {
    await page.getByRole('link', { name: 'New paylink' }).click()
    const create = page.getByRole('button', { name: 'Create paylink' })
    // The picker needs one product: the browser refuses the empty choice before it is sent.
    await create.click()
    expect(page.url()).toMatch(/\/paylinks\/new$/)
    expect(await page.locator('[data-picker-count]').textContent()).toBe('0 of 6 chosen.')
    await page.getByLabel('Name').fill('Harbour poster, spring')
    await page.getByRole('checkbox', { name: /Harbour poster/ }).check()
    expect(await page.locator('[data-picker-count]').textContent()).toBe('1 of 6 chosen.')
    await screenshot(page, 'dashboard-paylink-new')
    await create.click()
    await page.waitForURL(/\/dashboard\/paylinks\/[0-9a-f]{32}\?notice=paylink_created$/)
    paylinkUrl = await page.getByLabel('URL to share').inputValue()
    expect(paylinkUrl).toMatch(new RegExp(`^${live.baseUrl}/paylink/[0-9a-f]{32}$`))

    await page.getByLabel('Source').fill('newsletter')
    await page.getByLabel('Campaign').fill('spring')
    await page.getByRole('button', { name: 'Build URL' }).click()
    await page.waitForURL(/utm_source=newsletter/)
    taggedUrl = await page.getByLabel('URL to share').inputValue()
    expect(taggedUrl).toBe(`${paylinkUrl}?utm_campaign=spring&utm_source=newsletter`)

    const qr = page.getByRole('img', { name: /QR code of/ })
    await expect
      .poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0)
    const png = await page.request.get(`${page.url().split('?')[0]}/qr.png?utm_source=newsletter&download=1`)
    expect(png.status()).toBe(200)
    expect(png.headers()['content-type']).toBe('image/png')
    expect((await png.body()).subarray(1, 4).toString()).toBe('PNG')
  })

  it('counts a buyer’s visit, order and payment from another browser on the statistics page', async () => {
    await buyerPays(taggedUrl)

    await page.reload()
    const kpi = (name: string) => page.locator(`[data-kpi="${name}"]`).textContent()
    expect(await kpi('visits')).toBe('1')
    expect(await kpi('orders')).toBe('1')
    expect(await kpi('paid')).toBe('1')
    expect(await kpi('conversion')).toBe('100%')
    expect(await kpi('revenue')).toBe('€12.50')
    expect(await kpi('refunded')).toBe('—')
    expect(await kpi('net')).toBe('€12.50')
    expect(await page.getByTestId('utms').textContent()).toContain('newsletter / – / spring')
    expect(await page.getByTestId('referrers').textContent()).toContain('Direct')
    // Chart.js drew every chart of the page.
    const charts = await page.evaluate(() =>
      Array.from(document.querySelectorAll('canvas[data-chart]')).map((c) => {
        const chart = (
          window as unknown as {
            Chart: { getChart(c: Element): { data: { datasets: { data: number[] }[] } } }
          }
        ).Chart.getChart(c)
        return chart ? chart.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0)) : null
      }),
    )
    expect(charts.length).toBe(5)
    expect(charts[0]).toEqual([1, 1, 1]) // visits, unique visitors, paid orders
    expect(charts[1]).toEqual([12.5, 0, 12.5]) // revenue, refunds and net revenue in EUR
    await screenshot(page, 'dashboard-paylink-stats')
  })

  it('shows the project’s statistics with its top paylinks, and renames the project', async () => {
    await page.locator('.crumbs').getByRole('link', { name: 'Poster shop' }).click()
    await page.waitForURL(/\/dashboard\/projects\/[0-9a-f]{24}$/)
    const kpi = (name: string) => page.locator(`[data-kpi="${name}"]`).textContent()
    expect([await kpi('visits'), await kpi('paid'), await kpi('revenue')]).toEqual(['1', '1', '€12.50'])
    const top = page.getByTestId('paylinks')
    expect(await top.locator('tbody tr').count()).toBe(1)
    expect(await top.getByRole('link').textContent()).toBe('Harbour poster, spring')
    const charts = await page.evaluate(() =>
      Array.from(document.querySelectorAll('canvas[data-chart]')).map(
        (c) => !!(window as unknown as { Chart: { getChart(c: Element): unknown } }).Chart.getChart(c),
      ),
    )
    // Daily figures, revenue, and the top paylinks, countries, referrers and UTM tags.
    expect(charts).toEqual([true, true, true, true, true, true])
    // Times are shown in the reader's zone, with the UTC time the server wrote as the tooltip.
    const expires = page.locator('td time').first()
    expect(await expires.getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/)
    expect(await expires.textContent()).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M$/)
    await screenshot(page, 'dashboard-project-stats')

    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByLabel('Default currency').fill('ABC')
    await page.getByRole('button', { name: 'Save settings' }).click()
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toMatch(/^default_currency: /)
    expect(await page.getByLabel('Default currency').getAttribute('aria-invalid')).toBe('true')
    await page.getByLabel('Default currency').fill('EUR')
    await page.getByLabel('Name').fill('Poster studio')
    await page.getByLabel('Sales email').fill('sales@poster.example')
    await screenshot(page, 'dashboard-project-settings')
    await page.getByRole('button', { name: 'Save settings' }).click()
    await page.waitForURL(/notice=project_updated$/)
    expect(await page.locator('h1').textContent()).toBe('Poster studio')
    expect(await page.locator('[role="status"]').textContent()).toContain('Project saved.')
  })

  it('lists the order with filters and shows its detail', async () => {
    await page.getByRole('link', { name: 'Orders', exact: true }).click()
    await page.getByLabel('Status').selectOption('paid')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/status=paid/)
    const rows = page.getByTestId('orders').locator('tbody tr')
    expect(await rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('buyer@example.com')
    await screenshot(page, 'dashboard-orders')
    await page.getByLabel('Status').selectOption('expired')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/status=expired/)
    expect(await page.getByText('No orders match.').count()).toBe(1)
    await page.goBack()
    await page.getByTestId('orders').locator('tbody tr a').first().click()
    expect(await page.locator('h1').textContent()).toContain('paid')
    expect(await page.locator('main').textContent()).toContain('newsletter / – / spring')
    await screenshot(page, 'dashboard-order')
  })

  it('creates a portal key, a webhook endpoint and an API key (secrets shown once), and resends a delivery', async () => {
    await page.getByRole('link', { name: 'Portals' }).click()
    await page.getByLabel('Name').fill('Customer A')
    await page.getByRole('button', { name: 'Create portal' }).click()
    await page.getByRole('button', { name: 'Create key' }).click()
    expect(await page.getByLabel('New portal key').inputValue()).toMatch(/^sk-[0-9a-f]{64}$/)
    await screenshot(page, 'dashboard-portal')

    await page.getByRole('link', { name: 'Webhooks' }).click()
    await page.getByLabel('URL').fill(receiver.url)
    await page.getByRole('button', { name: 'Add endpoint' }).click()
    expect(await page.locator('[role="alert"]').textContent()).toBe('events: must contain 1 to 20 items')
    await page.getByRole('checkbox', { name: 'order.paid' }).check()
    await page.getByRole('button', { name: 'Add endpoint' }).click()
    expect(await page.getByLabel('Signing secret').inputValue()).toMatch(/^whsec_/)
    await screenshot(page, 'dashboard-webhooks')

    // A second buyer pays: order.paid is delivered for real, then resent from the delivery log.
    await buyerPays(taggedUrl)
    await expect.poll(() => receiver.received.length).toBe(1)
    await page.getByRole('link', { name: receiver.url }).click()
    const delivery = page.locator('details.delivery')
    expect(await delivery.count()).toBe(1)
    expect(await delivery.locator('summary').textContent()).toContain('succeeded')
    await delivery.locator('summary').click()
    await delivery.getByRole('button', { name: /^Resend delivery/ }).click()
    await page.waitForURL(/notice=delivery_resent$/)
    await expect.poll(() => receiver.received.length).toBe(2)
    expect(receiver.received[1]?.headers['webhook-id']).toBe(receiver.received[0]?.headers['webhook-id'])
    await page.reload()
    await page.locator('details.delivery summary').click()
    expect(await page.locator('details.delivery tbody tr').count()).toBe(2)
    await screenshot(page, 'dashboard-webhook-deliveries')

    await page.getByRole('link', { name: 'API keys' }).click()
    await page.getByRole('button', { name: 'Create API key' }).click()
    expect(await page.getByLabel('New API key').inputValue()).toMatch(/^pl_sk_[0-9a-f]{48}$/)
    await screenshot(page, 'dashboard-api-keys')
  })

  it('refunds half of an order from its page: the dialog names the amount, and the refund settles', async () => {
    await page.getByRole('link', { name: 'Orders', exact: true }).click()
    await page.getByLabel('Status').selectOption('paid')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/status=paid/)
    await page.getByTestId('orders').locator('tbody tr a').first().click()
    await page.waitForURL(/\/dashboard\/orders\/ord_[0-9a-f]{24}$/)
    const orderUrl = page.url()
    // Everything left is the default amount.
    expect(await page.getByLabel('Amount in EUR').inputValue()).toBe('12.50')
    await page.getByLabel('Amount in EUR').fill('6.25')
    await page.getByLabel('Reason (optional)').selectOption('requested_by_customer')
    const asked: string[] = []
    page.once('dialog', (dialog) => {
      asked.push(dialog.message())
      void dialog.accept()
    })
    await page.getByRole('button', { name: 'Refund…' }).click()
    await page.waitForURL(/notice=refund_created$/)
    expect(asked).toEqual(['Refund 6.25 EUR to the buyer? A refund cannot be undone.'])
    const money = (name: string) => page.locator(`[data-money="${name}"]`).textContent()
    // Pending until the sandbox's event says it succeeded; the page is reloaded as a person would.
    await expect
      .poll(async () => {
        await page.reload()
        return page.getByTestId('refunds').locator('tbody tr').first().textContent()
      })
      .toContain('succeeded')
    const row = await page.getByTestId('refunds').locator('tbody tr').first().textContent()
    expect(row).toContain('€6.25')
    expect(row).toContain('dashboard')
    expect(row).toContain('Requested by the customer')
    expect(await page.locator('h1').textContent()).toContain('partially refunded')
    expect([await money('refunded'), await money('left')]).toEqual(['€6.25', '€6.25'])
    expect(await page.getByLabel('Amount in EUR').inputValue()).toBe('6.25')
    await screenshot(page, 'dashboard-order-refunded')

    // More than is left: the API's message, beside the amount, and nothing sent.
    await page.getByLabel('Amount in EUR').fill('7')
    page.once('dialog', (dialog) => void dialog.accept())
    await page.getByRole('button', { name: 'Refund…' }).click()
    await expect
      .poll(() => page.locator('#refund-amount-error').textContent())
      .toBe('must be at most 625 (6.25 EUR, the amount left to refund)')
    await screenshot(page, 'dashboard-refund-refused')
    expect(await page.getByTestId('refunds').locator('tbody tr').count()).toBe(1)
    await page.goto(orderUrl)
  })

  it('refunds without JavaScript through a confirmation page', async () => {
    const noScript = await browser.newContext({
      javaScriptEnabled: false,
      locale: 'en-US',
      timezoneId: 'UTC',
    })
    await noScript.addCookies(await desk.cookies())
    const plain = await noScript.newPage()
    const plainErrors = collectPageErrors(plain)
    await plain.goto(`${live.baseUrl}/dashboard/orders?status=paid`)
    await plain.getByTestId('orders').locator('tbody tr a').first().click()
    await plain.getByLabel('Amount in EUR').fill('2.50')
    await plain.getByRole('button', { name: 'Refund…' }).click()
    expect(await plain.locator('h2#refund-h').textContent()).toBe('Confirm the refund')
    expect(await plain.getByTestId('confirm-amount').textContent()).toBe('€2.50')
    await screenshot(plain, 'dashboard-refund-confirm')
    await plain.getByRole('button', { name: 'Refund €2.50' }).click()
    await plain.waitForURL(/notice=refund_created$/)
    const rows = plain.getByTestId('refunds').locator('tbody tr')
    expect(await rows.first().textContent()).toContain('€2.50')
    await expect
      .poll(async () => {
        await plain.reload()
        return rows.first().textContent()
      })
      .toContain('succeeded')
    expect(plainErrors).toEqual([])
    await noScript.close()
  })

  it('simulates the outcome of a sandbox dispute from the order page', async () => {
    const orderId = await buyerPays(taggedUrl, '4000 0000 0000 0259')
    // The sandbox opens the dispute a little later and reports it by event.
    await expect
      .poll(async () => (await api(live.app, merchant, 'GET', `/orders/${orderId}`)).body.status)
      .toBe('disputed')
    await page.goto(`${live.baseUrl}/dashboard/orders/${orderId}`)
    expect(await page.getByTestId('disputes').locator('tbody tr').first().textContent()).toContain('open')
    expect(await page.locator('.simulation').textContent()).toContain('simulates for testing')
    await screenshot(page, 'dashboard-order-disputed')
    await page.getByRole('button', { name: 'Simulate: dispute won' }).click()
    await page.waitForURL(/notice=dispute_simulated$/)
    // The won dispute and the order paid again arrive by the sandbox's event: wait for the page to show
    // both (it reads the order and its disputes one after the other, so a reload may fall between).
    await expect
      .poll(async () => {
        await page.reload()
        const dispute = await page.getByTestId('disputes').locator('tbody tr').first().textContent()
        return `${dispute} / ${await page.locator('h1').textContent()}`
      })
      .toMatch(/won.* \/ .*paid/s)
    expect(await page.locator('.simulation').count()).toBe(0)
    await screenshot(page, 'dashboard-order-dispute-won')
  })

  it('shows the refunds and the net revenue in the paylink’s statistics', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Orders' }).click()
    await page.getByTestId('orders').locator('tbody tr a').first().click()
    await page.locator('a[href^="/dashboard/paylinks/"]').first().click()
    const kpi = (name: string) => page.locator(`[data-kpi="${name}"]`).textContent()
    // Three paid orders of €12.50, €8.75 of them refunded.
    expect([await kpi('paid'), await kpi('revenue'), await kpi('refunded'), await kpi('net')]).toEqual([
      '3',
      '€37.50',
      '€8.75',
      '€28.75',
    ])
    const revenueChart = await page.evaluate(() => {
      const chart = (
        window as unknown as {
          Chart: { getChart(c: Element): { data: { datasets: { label: string; data: number[] }[] } } }
        }
      ).Chart.getChart(document.querySelector('canvas[data-chart="revenue"]') as Element)
      return chart?.data.datasets.map((d) => [d.label, d.data.reduce((a, b) => a + b, 0)])
    })
    expect(revenueChart).toEqual([
      ['EUR revenue', 37.5],
      ['EUR refunded', 8.75],
      ['EUR net revenue', 28.75],
    ])
    await page.getByText('Figures per day').click()
    expect(await page.getByTestId('days').locator('tr').last().textContent()).toContain('€28.75')
    await screenshot(page, 'dashboard-paylink-net-revenue')
  })

  it('fits a phone screen without sideways scrolling', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    })
    await phone.addCookies(await desk.cookies())
    const small = await phone.newPage()
    const smallErrors = collectPageErrors(small)
    for (const path of ['/dashboard/projects', new URL(page.url()).pathname, '/dashboard/orders']) {
      await small.goto(live.baseUrl + path)
      expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(
        true,
      )
    }
    await small.goto(`${live.baseUrl}/dashboard/orders?status=paid`)
    await small.getByTestId('orders').locator('tbody tr a').first().click()
    const link = await small.locator('a[href^="/dashboard/paylinks/"]').getAttribute('href')
    await small.goto(live.baseUrl + link)
    expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(
      true,
    )
    await screenshot(small, 'dashboard-paylink-stats-phone')
    expect(smallErrors).toEqual([])
    await phone.close()
  })

  it('shows the account page with this browser’s session, then signs out and the session no longer opens pages', async () => {
    await page.getByRole('link', { name: EMAIL }).click()
    expect(await page.locator('h1').textContent()).toBe('Your account')
    expect(await page.getByTestId('sessions').textContent()).toContain('this browser')
    expect(await page.getByLabel('Current password').getAttribute('autocomplete')).toBe('current-password')
    await screenshot(page, 'dashboard-account')
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(/\/dashboard\/login$/)
    await page.goto(`${live.baseUrl}/dashboard/orders`)
    expect(new URL(page.url()).pathname).toBe('/dashboard/login')
    // No page logged an error: no CSP violation, no failed script, style or image.
    expect(unexpected(errors)).toEqual([])
  })
})
