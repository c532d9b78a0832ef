/// <reference lib="dom" />
// A new user's first minutes: start the real server, open the printed demo paylink, pay, read the stat.

import type { Browser } from 'playwright-core'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { fetchJson, freshDatabaseEnv, type ServerProcess, startServer } from '../helpers/process.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
import { launchBrowser, screenshot } from './browser.js'

let browser: Browser
let server: ServerProcess
let cleanup: () => Promise<void>
let receiver: Receiver

beforeAll(async () => {
  const fresh = await freshDatabaseEnv()
  cleanup = fresh.cleanup
  server = await startServer({ ...fresh.env, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' })
  browser = await launchBrowser()
  receiver = await startReceiver()
})
afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await receiver?.close()
  await cleanup?.()
})

it('pays the printed demo paylink: one visit, one paid order and the revenue in its stat, one verified order.paid', async () => {
  const out = server.output()
  const key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(out)?.[1] as string
  const hook = await fetch(`${server.baseUrl}/admin/api/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: ['order.paid'] }),
  }).then((r) => r.json())
  const demoUrl = /Demo paylink.*\n\s+(\S+)/.exec(out)?.[1] as string
  expect(demoUrl).toContain(`http://localhost:${server.port}/paylink/`)

  const page = await browser.newPage()
  await page.goto(demoUrl)
  expect(page.url()).toMatch(/\/pay\/ord_[0-9a-f]{24}\?utm_source=readme/)
  await page.getByLabel('Email').fill('first@example.com')
  await page.getByLabel('Card number').fill('4242 4242 4242 4242')
  await page.getByLabel('Expiry (MM/YY)').fill('12/34')
  await page.getByLabel('Security code').fill('123')
  await page.getByRole('button', { name: /^Pay/ }).click()
  await page.waitForURL(/\/pay\/ord_[0-9a-f]{24}$/)
  expect(await page.locator('h1').textContent()).toContain('went through')
  await screenshot(page, 'demo-receipt')

  const paylinkId = new URL(demoUrl).pathname.split('/').pop()
  const stat = await fetchJson(`${server.baseUrl}/admin/api/v1/paylinks/${paylinkId}/stat`, {
    authorization: `Bearer ${key}`,
  })
  expect(stat.body).toEqual({
    visits: 1,
    unique_visitors: 1,
    orders: 1,
    paid_orders: 1,
    conversion: 1,
    revenue: [{ currency: 'USD', amount: 3000 }],
  })

  await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBe(1)
  const [delivery] = receiver.received
  const event = new Webhook(hook.secret).verify(
    delivery?.body as string,
    delivery?.headers as Record<string, string>,
  )
  expect(event).toMatchObject({ type: 'order.paid', data: { status: 'paid', total_amount: 3000 } })
})

it('signs in to the dashboard with the printed demo credentials and shows the demo project', async () => {
  const out = server.output()
  const [, email, password] = /sign in as (\S+) with the password (\S+)/.exec(out) ?? []
  expect(email).toBe('demo@example.com')
  expect(out).toContain(`Dashboard:  http://localhost:${server.port}/dashboard`)
  const page = await browser.newPage()
  await page.goto(`${server.baseUrl}/dashboard`)
  await page.getByLabel('Email').fill(email as string)
  await page.getByLabel('Password').fill(password as string)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(/\/dashboard\/projects$/)
  await page.getByRole('link', { name: 'Demo Store' }).click()
  expect(await page.locator('h1').textContent()).toBe('Demo Store')
  expect(await page.locator('main').textContent()).toContain('Demo: T-shirt and stickers')
  await screenshot(page, 'demo-dashboard-project')
  await page.close()
})
