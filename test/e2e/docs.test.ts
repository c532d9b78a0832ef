/// <reference lib="dom" />
// The interactive API reference under its Content-Security-Policy: Swagger UI renders, and "Try it out"
// reaches the server, with no violation and no failed asset.

import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createMerchant, type TestMerchant } from '../helpers/factories.js'
import { collectPageErrors, type LiveApp, launchBrowser, screenshot, startLiveApp } from './browser.js'

let live: LiveApp
let browser: Browser
let merchant: TestMerchant

beforeAll(async () => {
  live = await startLiveApp()
  merchant = await createMerchant(live.services, 'Docs Co')
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await live?.close()
})

it('renders /docs and runs a request from it with no CSP violation', async () => {
  const page = await browser.newPage()
  const errors = collectPageErrors(page)
  const violations: string[] = []
  await page.exposeFunction('reportViolation', (text: string) => violations.push(text))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { reportViolation(text: string): void }).reportViolation
      report(`${event.effectiveDirective} blocked ${event.blockedURI}`)
    })
  })

  const res = await page.goto(`${live.baseUrl}/docs`)
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self'")
  await expect.poll(() => page.locator('.swagger-ui .info .title').textContent()).toContain('paylinks')

  await page.getByRole('button', { name: 'Authorize' }).first().click()
  const dialog = page.locator('.modal-ux')
  await dialog.getByLabel('auth-bearer-value').fill(merchant.key)
  await dialog.getByRole('button', { name: 'Apply credentials' }).first().click()
  await dialog.getByRole('button', { name: 'Close' }).first().click()

  const operation = page.locator('#operations-merchant-get_admin_api_v1_merchant')
  await operation.locator('.opblock-summary').first().click()
  await operation.getByRole('button', { name: 'Try it out' }).click()
  await operation.getByRole('button', { name: 'Execute' }).click()
  await expect
    .poll(() => operation.locator('.live-responses-table tbody .response-col_status').first().textContent(), {
      timeout: 15_000,
    })
    .toBe('200')
  expect(
    await operation.locator('.live-responses-table tbody .response-col_description').textContent(),
  ).toContain(merchant.id)
  await screenshot(page, 'docs')

  expect(violations).toEqual([])
  expect(errors).toEqual([])
  await page.close()
})
