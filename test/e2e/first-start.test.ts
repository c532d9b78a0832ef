/// <reference lib="dom" />
// A new user's first minutes with the real server process (which runs the sandbox and the payments sweep
// itself): pay the printed demo paylink through the sandbox's own page, see the receipt, sign in to the
// dashboard with the printed credentials, refund half of the order there, and see the refund on the
// order, in a verified order.refunded webhook and in the statistics' net revenue.
import type { Browser, Page } from 'playwright-core'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchJson, freshDatabaseEnv, type ServerProcess, startServer } from '../helpers/process.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
import { collectPageErrors, continueToProvider, enterCard, launchBrowser, screenshot } from './browser.js'

let browser: Browser
let server: ServerProcess
let cleanup: () => Promise<void>
let receiver: Receiver
let key: string
let secret: string
let orderId: string
let paylinkId: string
let desk: Page
let deskErrors: string[]

beforeAll(async () => {
  const fresh = await freshDatabaseEnv()
  cleanup = fresh.cleanup
  server = await startServer({ ...fresh.env, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' })
  browser = await launchBrowser()
  receiver = await startReceiver()
  key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(server.output())?.[1] as string
})
afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await receiver?.close()
  await cleanup?.()
})

const admin = (path: string) =>
  fetchJson(`${server.baseUrl}/admin/api/v1${path}`, { authorization: `Bearer ${key}` })

/** The webhook deliveries of one type, verified with the endpoint's secret (a bad signature throws). */
const verified = (type: string) =>
  receiver.received
    .map(
      (d) =>
        new Webhook(secret).verify(d.body, d.headers as Record<string, string>) as {
          type: string
          data: Record<string, unknown>
        },
    )
    .filter((event) => event.type === type)

describe('a new user’s first minutes', () => {
  it('pays the printed demo paylink through the sandbox’s page: the receipt, its stat, a verified order.paid', async () => {
    const hook = await fetch(`${server.baseUrl}/admin/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, events: ['order.paid', 'order.refunded'] }),
    }).then((r) => r.json())
    secret = hook.secret
    const demoUrl = /Demo paylink.*\n\s+(\S+)/.exec(server.output())?.[1] as string
    expect(demoUrl).toContain(`http://localhost:${server.port}/paylink/`)
    paylinkId = new URL(demoUrl).pathname.split('/').pop() as string

    const page = await browser.newPage()
    const errors = collectPageErrors(page)
    await page.goto(demoUrl)
    expect(page.url()).toMatch(/\/pay\/ord_[0-9a-f]{24}\?utm_source=readme/)
    orderId = /\/pay\/(ord_[0-9a-f]{24})/.exec(page.url())?.[1] as string
    expect(await page.locator('h1').textContent()).toBe('Pay $30.00')
    await continueToProvider(page, 'first@example.com')
    expect(await page.locator('.sandbox-banner').textContent()).toContain('a simulated payment provider')
    await enterCard(page, '4242 4242 4242 4242')
    await page.getByRole('button', { name: 'Pay $30.00' }).click()
    await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
    expect(await page.locator('h1').textContent()).toContain('Your payment of $30.00 went through')
    await screenshot(page, 'demo-receipt')
    expect(errors).toEqual([])
    await page.close()

    const stat = await admin(`/paylinks/${paylinkId}/stat`)
    expect(stat.body).toEqual({
      visits: 1,
      unique_visitors: 1,
      orders: 1,
      paid_orders: 1,
      conversion: 1,
      revenue: [{ currency: 'USD', amount: 3000 }],
      refunded: [],
      net_revenue: [{ currency: 'USD', amount: 3000 }],
    })
    await expect.poll(() => verified('order.paid').length, { timeout: 30_000 }).toBe(1)
    expect(verified('order.paid')[0]).toMatchObject({
      type: 'order.paid',
      data: { id: orderId, status: 'paid', total_amount: 3000 },
    })
  })

  it('signs in to the dashboard with the printed demo credentials and shows the demo project', async () => {
    const [, email, password] = /sign in as (\S+) with the password (\S+)/.exec(server.output()) ?? []
    expect(email).toBe('demo@example.com')
    expect(server.output()).toContain(`Dashboard:  http://localhost:${server.port}/dashboard`)
    const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' })
    desk = await context.newPage()
    deskErrors = collectPageErrors(desk)
    await desk.goto(`${server.baseUrl}/dashboard`)
    await desk.getByLabel('Email').fill(email as string)
    await desk.getByLabel('Password').fill(password as string)
    await desk.getByRole('button', { name: 'Sign in' }).click()
    await desk.waitForURL(/\/dashboard\/projects$/)
    await desk.getByRole('link', { name: 'Demo Store' }).click()
    expect(await desk.locator('h1').textContent()).toBe('Demo Store')
    expect(await desk.locator('main').textContent()).toContain('Demo: T-shirt and stickers')
    await screenshot(desk, 'demo-dashboard-project')
  })

  it('refunds half of the order from the dashboard: on the order, in a verified order.refunded, in the net revenue', async () => {
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Orders' }).click()
    await desk.getByRole('link', { name: orderId }).click()
    await desk.getByLabel('Amount in USD').fill('15.00')
    await desk.getByLabel('Reason (optional)').selectOption('requested_by_customer')
    desk.once('dialog', (dialog) => void dialog.accept())
    await desk.getByRole('button', { name: 'Refund…' }).click()
    await desk.waitForURL(/notice=refund_created$/)
    // The server's sandbox settles the refund a moment later and reports it by event.
    const firstRefund = desk.getByTestId('refunds').locator('tbody tr').first()
    await expect
      .poll(
        async () => {
          await desk.reload()
          return firstRefund.textContent()
        },
        { timeout: 30_000 },
      )
      .toContain('succeeded')
    expect(await firstRefund.textContent()).toContain('$15.00')
    expect(await firstRefund.textContent()).toContain('dashboard')
    expect(await desk.locator('h1').textContent()).toContain('partially refunded')
    expect(await desk.locator('[data-money="left"]').textContent()).toBe('$15.00')
    await screenshot(desk, 'demo-order-refunded')

    await expect.poll(() => verified('order.refunded').length, { timeout: 30_000 }).toBe(1)
    expect(verified('order.refunded')[0]).toMatchObject({
      type: 'order.refunded',
      data: { id: orderId, status: 'partially_refunded', amount_refunded: 1500 },
    })
    const order = await admin(`/orders/${orderId}`)
    expect(order.body.refunds).toMatchObject([{ amount: 1500, origin: 'dashboard', status: 'succeeded' }])

    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click()
    await desk.getByRole('link', { name: 'Demo Store' }).click()
    const kpi = (name: string) => desk.locator(`[data-kpi="${name}"]`).textContent()
    expect([await kpi('revenue'), await kpi('refunded'), await kpi('net')]).toEqual([
      '$30.00',
      '$15.00',
      '$15.00',
    ])
    await screenshot(desk, 'demo-project-net-revenue')
    const stat = await admin(`/paylinks/${paylinkId}/stat`)
    expect(stat.body).toMatchObject({
      refunded: [{ currency: 'USD', amount: 1500 }],
      net_revenue: [{ currency: 'USD', amount: 1500 }],
    })
    // No page logged an error: no CSP violation, no failed script, style or image.
    expect(deskErrors).toEqual([])
  })
})
