// A real browser (Debian's Chromium through playwright-core) against paylinks listening on a real port.
import fs from 'node:fs/promises'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { Clock } from '../../src/lib/time.js'
import { startPaymentSweeper } from '../../src/modules/payments/sweeper.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { freePort } from '../helpers/process.js'

export const SCREENSHOTS = path.resolve('test-results/screenshots')

/** The real clock, which a test may move forward (and back) to see what time does, e.g. expire a link. */
export class OffsetClock implements Clock {
  private offset = 0
  now(): Date {
    return new Date(Date.now() + this.offset)
  }
  advance(ms: number): void {
    this.offset += ms
  }
}

export interface LiveApp extends Omit<TestContext, 'clock'> {
  baseUrl: string
  clock: OffsetClock
}

/**
 * paylinks in this process, listening on loopback, running what its server process runs beside the
 * requests: the sandbox's clock and event deliveries, the payments sweep and webhook deliveries. Tests
 * wait for what those do, as a person at the browser would.
 */
export async function startLiveApp(env: Record<string, string> = {}): Promise<LiveApp> {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const clock = new OffsetClock()
  const ctx = await createTestContext({
    env: { PUBLIC_URL: baseUrl, PUBLIC_RATE_LIMIT: '0', ...env },
    clock,
  })
  await ctx.app.listen({ port, host: '127.0.0.1' })
  const stopSandbox = ctx.services.sandbox.start(250)
  const stopSweeper = startPaymentSweeper(ctx.services.payments, ctx.services.logger, 1_000)
  ctx.services.dispatcher.start()
  return {
    ...ctx,
    baseUrl,
    clock,
    close: async () => {
      await stopSweeper()
      await stopSandbox()
      await ctx.services.dispatcher.stop()
      await ctx.close()
    },
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await fs.mkdir(SCREENSHOTS, { recursive: true })
  const file = path.join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/** Collects what the page logs as errors (a CSP violation, a failed asset) so a test can assert none. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text())
  })
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('requestfailed', (req) => errors.push(`failed: ${req.url()}`))
  return errors
}

/**
 * The errors of a page besides the line Chromium logs for a page answered with a 4xx on purpose (a
 * declined payment is a 402, a refused form a 400): CSP violations, script errors, failed assets.
 */
export function unexpected(errors: string[]): string[] {
  return errors.filter(
    (e) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(e),
  )
}

/** The buyer's email on paylinks' payment page, then on to the provider. */
export async function continueToProvider(page: Page, email = 'buyer@example.com'): Promise<void> {
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Continue to payment' }).click()
  await page.waitForURL(/\/sandbox\/checkout\/sbx_cs_[0-9a-f]{24}$/)
}

/** A test card on the sandbox's own card page. */
export async function enterCard(page: Page, number: string, expiry = '12/34', cvc = '123'): Promise<void> {
  await page.getByLabel('Card number').fill(number)
  await page.getByLabel('Expiry (MM/YY)').fill(expiry)
  await page.getByLabel('Security code').fill(cvc)
}
