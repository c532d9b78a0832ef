// The double as its own process (`npm run stripe-double`), driven over HTTP only: the Stripe API through the
// official client, the `/_double/` control API, and events to a receiver, as paylinks will be run against it.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROCESS_TIMEOUT, runToExit } from '../helpers/process.js'
import { type Receiver, startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/wait.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

let child: ChildProcess
let output = ''
let receiver: Receiver
let url: string
let secretKey: string
let webhookSecret: string
let accountId: string
let stripe: Stripe

function printed(label: string): string {
  const value = new RegExp(`${label}\\s+(\\S+)`).exec(output)?.[1]
  if (!value) throw new Error(`the double did not print its ${label}:\n${output}`)
  return value
}

/** The client pointed at a URL, as STRIPE_API_URL will point paylinks' provider. */
function clientAt(base: string, key: string): Stripe {
  const { hostname, port, protocol } = new URL(base)
  return new Stripe(key, {
    host: hostname,
    port,
    protocol: protocol === 'https:' ? 'https' : 'http',
    maxNetworkRetries: 0,
  })
}

async function control(method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}/_double${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, body: await response.json() }
}

beforeAll(async () => {
  receiver = await startReceiver()
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/stripe-double/cli.ts',
      '--port',
      '0',
      '--webhook-url',
      receiver.url,
      '--delay-ms',
      '600000',
    ],
    { cwd: ROOT },
  )
  child.stdout?.on('data', (d) => {
    output += d
  })
  child.stderr?.on('data', (d) => {
    output += d
  })
  await waitFor(() => output.includes('test cards'), `the double to start:\n${output}`, 60_000)
  url = printed('Stripe double listening on')
  secretKey = printed('secret key')
  webhookSecret = printed('webhook secret')
  accountId = printed('account')
  stripe = clientAt(url, secretKey)
}, PROCESS_TIMEOUT)

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL')
  await receiver.close()
})

describe('npm run stripe-double', () => {
  it('prints its URL as STRIPE_API_URL, and an account with keys', () => {
    expect(output).toContain(`STRIPE_API_URL=${url}`)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(accountId).toMatch(/^acct_/)
    expect(secretKey).toMatch(/^sk_test_/)
    expect(webhookSecret).toMatch(/^whsec_/)
  })

  it('serves the API to the official client, and plays the buyer through the control API', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'eur', unit_amount: 990, product_data: { name: 'Map' } } },
      ],
      customer_email: 'buyer@example.com',
      success_url: 'https://shop.example.com/done?s={CHECKOUT_SESSION_ID}',
    })
    expect(session.url).toBe(`${url}/c/pay/${session.id}`)
    const paid = await control('POST', `/checkout/sessions/${session.id}/pay`, { card: '4242424242424242' })
    expect(paid).toEqual({
      status: 200,
      body: { status: 'succeeded', redirect: `https://shop.example.com/done?s=${session.id}` },
    })
    await waitFor(() => receiver.received.length >= 4, 'the payment’s events')
    const types = receiver.received.map(
      (r) =>
        stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, webhookSecret).type,
    )
    expect(types).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ])
    const requests = await control('GET', `/requests?path=/v1/checkout/sessions`)
    expect(requests.body).toMatchObject([
      { method: 'POST', params: { mode: 'payment', customer_email: 'buyer@example.com' } },
    ])
    expect((await control('GET', `/objects/${session.id}`)).body).toMatchObject({
      status: 'complete',
      payment_status: 'paid',
    })
  })

  it('creates accounts, injects and clears faults, holds and releases events, schedules later steps', async () => {
    const created = await control('POST', '/accounts', {
      secret_key: 'sk_test_second_account_key',
      webhook_url: receiver.url,
    })
    expect(created).toMatchObject({
      status: 200,
      body: { secretKey: 'sk_test_second_account_key', webhookUrl: receiver.url },
    })
    const second = clientAt(url, 'sk_test_second_account_key')
    const fault = await control('POST', '/faults', { kind: 'error', account: created.body.id, times: 1 })
    expect(fault.body).toMatchObject({ id: expect.stringMatching(/^fault_/), kind: 'error', hits: 0 })
    await expect(second.accounts.retrieveCurrent()).rejects.toMatchObject({ statusCode: 500 })
    await expect(second.accounts.retrieveCurrent()).resolves.toMatchObject({ id: created.body.id })

    await control('POST', '/events/hold', {})
    const session = await second.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Key' } } },
      ],
      success_url: 'https://shop.example.com/done',
    })
    await control('POST', `/checkout/sessions/${session.id}/pay`, { card: '4000000000000259' })
    expect((await control('GET', '/events/held')).body).toHaveLength(4)
    const before = receiver.received.length
    expect((await control('POST', '/events/release', { order: 'reverse' })).body).toEqual({ released: 4 })
    await waitFor(() => receiver.received.length === before + 4, 'the released events')
    expect(JSON.parse(receiver.received[before]?.body ?? '{}').type).toBe('checkout.session.completed')
    expect((await control('GET', '/scheduled')).body).toEqual([
      expect.stringMatching(/^a dispute opens on ch_/),
    ])
    expect((await control('POST', '/scheduled/run')).body).toHaveLength(1)
    expect((await control('GET', '/events?type=charge.dispute.created')).body).toHaveLength(1)
    const expiring = await second.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Key' } } },
      ],
      success_url: 'https://shop.example.com/done',
    })
    expect((await control('POST', '/clock/advance', { seconds: 86_400 })).body).toEqual({
      expired: [expiring.id],
    })
  })

  it('answers a bad control request with a 4xx saying why', async () => {
    expect(await control('POST', '/faults', '[1]')).toEqual({
      status: 400,
      body: { error: { message: 'the body must be a JSON object' } },
    })
    expect(await control('POST', '/faults', { kind: 'explode' })).toEqual({
      status: 400,
      body: { error: { message: 'kind: must be one of error, hang, card_error, unauthorized, rate_limit' } },
    })
    expect((await control('POST', '/checkout/sessions/cs_test_nope/pay', {})).status).toBe(404)
    expect(await control('GET', '/nowhere')).toEqual({
      status: 404,
      body: { error: { message: 'no control route GET /_double/nowhere' } },
    })
  })

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it(
    'prints its usage for --help and refuses a bad option',
    async () => {
      const help = await runToExit(['test/stripe-double/cli.ts', '--help'], {})
      expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: npm run stripe-double') })
      const bad = await runToExit(['test/stripe-double/cli.ts', '--port', 'eighty'], {})
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--port must be a whole number, not eighty')
    },
    PROCESS_TIMEOUT,
  )
})
