// A Stripe project end to end without the internet: the Stripe double on loopback, paylinks in this
// process listening on a real port (the double posts its signed events there), STRIPE_API_URL pointing the
// provider at the double, and a merchant whose project is connected to a double account.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { inject } from 'vitest'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/lib/config.js'
import { type Database, openDatabase } from '../../src/lib/db.js'
import { createLogger } from '../../src/lib/logger.js'
import { migrateToLatest } from '../../src/lib/migrate.js'
import { ManualClock } from '../../src/lib/time.js'
import { StripeProvider } from '../../src/modules/stripe/provider.js'
import { createServices, type Services } from '../../src/services.js'
import { cookiesOf, csrfTokenOf, openPaylink, pathOf } from '../helpers/buyer.js'
import { openTestDatabase } from '../helpers/context.js'
import {
  api,
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
  type TestMerchant,
} from '../helpers/factories.js'
import { freePort } from '../helpers/process.js'
import { type DoubleAccount, type StripeDouble, startStripeDouble } from '../stripe-double/index.js'

export interface World {
  double: StripeDouble
  app: FastifyInstance
  services: Services
  database: Database
  clock: ManualClock
  config: Config
  baseUrl: string
  /** Every log line paylinks wrote, as written (JSON). */
  logs: string[]
  close(): Promise<void>
}

export interface WorldOptions {
  /** How long one Stripe call may take. */
  timeoutMs?: number
  env?: Record<string, string>
  /** PAYLINKS_MASTER_KEY (a fresh key by default). */
  masterKey?: string
  /** A database to use (and keep) instead of a fresh one. */
  databaseUrl?: string
  /** A double to use (and keep running) instead of a fresh one. */
  double?: StripeDouble
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const double = options.double ?? (await startStripeDouble())
  const own = options.databaseUrl ? undefined : await openTestDatabase()
  const database =
    own?.database ?? (await openDatabase({ databaseUrl: options.databaseUrl as string, poolSize: 5 }))
  await migrateToLatest(database)
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const config = loadConfig({
    PUBLIC_URL: baseUrl,
    PUBLIC_RATE_LIMIT: '0',
    DATABASE_URL: options.databaseUrl ?? inject('suiteDatabase').url,
    PAYLINKS_MASTER_KEY: options.masterKey ?? randomBytes(32).toString('hex'),
    STRIPE_API_URL: double.url,
    ...options.env,
  })
  const logs: string[] = []
  const logger = createLogger('info', { destination: { write: (line: string) => void logs.push(line) } })
  // The clock starts now: Stripe's (the double's) checks a session's expiry against the real time.
  const clock = new ManualClock(new Date())
  const services = createServices(config, database, clock, {
    logger,
    // The provider as services.ts makes it from STRIPE_API_URL, with a timeout a test can wait out.
    providers: () => ({
      stripe: new StripeProvider({ apiUrl: config.stripeApiUrl, timeoutMs: options.timeoutMs ?? 10_000 }),
    }),
  })
  const app = await buildApp(services, { logger })
  await app.listen({ port, host: '127.0.0.1' })
  return {
    double,
    app,
    services,
    database,
    clock,
    config,
    baseUrl,
    logs,
    close: async () => {
      await app.close()
      if (!options.double) await double.close()
      if (own) await own.drop()
      else await database.close()
    },
  }
}

export interface StripeShop {
  merchant: TestMerchant
  projectId: string
  stripe: DoubleAccount
  /** paylinks' provider account of the project (pa_…). */
  accountId: string
}

/** A merchant with a project connected to a new account of the double, whose events go to paylinks. */
export async function stripeShop(
  world: World,
  options: { currency?: string; live?: boolean; merchant?: TestMerchant } = {},
): Promise<StripeShop> {
  const merchant = options.merchant ?? (await createMerchant(world.services))
  if (!options.merchant) await listenToEverything(world.services, merchant.id)
  const projectId = (
    await createProject(world.app, merchant, { default_currency: options.currency ?? 'USD' })
  ).id
  const stripe = world.double.createAccount()
  const accountId = await connect(world, merchant, projectId, stripe, options.live)
  return { merchant, projectId, stripe, accountId }
}

/** Saves the double account's keys on the project and registers the events URL at the double. */
export async function connect(
  world: World,
  merchant: TestMerchant,
  projectId: string,
  stripe: DoubleAccount,
  live = false,
): Promise<string> {
  const res = await api(world.app, merchant, 'PUT', `/projects/${projectId}/payment-provider`, {
    provider: 'stripe',
    secret_key: live ? stripe.liveSecretKey : stripe.secretKey,
    webhook_secret: stripe.webhookSecret,
  })
  if (res.status !== 200) throw new Error(`connecting Stripe: ${res.status} ${JSON.stringify(res.body)}`)
  world.double.setWebhook(stripe.id, res.body.events_url)
  return res.body.account_id
}

/** A paylink of one product at `amount` and an order opened from it. */
export async function openOrder(
  world: World,
  shop: StripeShop,
  price: { currency: string; amount: number; name?: string } = { currency: 'USD', amount: 1999 },
): Promise<string> {
  const product = await createProduct(world.app, shop.merchant, shop.projectId, {
    name: price.name ?? 'Starter pack',
    prices: [{ currency: price.currency, amount: price.amount }],
  })
  const link = await createPaylink(world.app, shop.merchant, shop.projectId, [product.id])
  const { orderId } = await openPaylink(
    world.app,
    link.id,
    price.currency === 'USD' ? '' : `?currency=${price.currency}`,
  )
  if (!orderId) throw new Error('the paylink made no order')
  return orderId
}

export interface Checkout {
  /** The buyer's cookies on paylinks, to come back with. */
  cookie: string
  /** paylinks' answer to the form: a 303 to the double's page, or a page. */
  res: Awaited<ReturnType<FastifyInstance['inject']>>
  sessionId: string | undefined
}

/** The buyer gives their email on paylinks' page and is sent to Stripe's (the double's) page. */
export async function goToStripe(
  world: World,
  orderId: string,
  email = 'buyer@example.com',
): Promise<Checkout> {
  const page = await world.app.inject({ method: 'GET', url: `/pay/${orderId}` })
  const cookie = cookiesOf(page)
  const res = await world.app.inject({
    method: 'POST',
    url: `/pay/${orderId}`,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrfTokenOf(page.body), email }).toString(),
  })
  const location = typeof res.headers.location === 'string' ? res.headers.location : ''
  const sessionId = /\/c\/pay\/(cs_test_\w+|cs_live_\w+)$/.exec(location)?.[1]
  return { cookie, res, sessionId }
}

/** The buyer's browser following a redirect back to paylinks (a success or cancel URL). */
export function comeBack(world: World, url: string, cookie: string) {
  return world.app.inject({ method: 'GET', url: pathOf(url), headers: { cookie } })
}

/** The payment of an order (the only one, or the newest). */
export async function paymentOf(world: World, orderId: string) {
  return world.database.db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('created_at', 'desc')
    .executeTakeFirstOrThrow()
}

export async function orderOf(world: World, shop: StripeShop, orderId: string) {
  return (await api(world.app, shop.merchant, 'GET', `/orders/${orderId}`)).body
}
