// Wires the services of every module to one database, clock and configuration.
import type { Config } from './lib/config.js'
import type { Database } from './lib/db.js'
import { batchesAtOnce } from './lib/group-commit.js'
import { createLogger, type Logger } from './lib/logger.js'
import { createMailer, type Mailer } from './lib/mailer.js'
import { dataDirMasterKey, SecretBox } from './lib/secret-box.js'
import type { Clock } from './lib/time.js'
import { StatsCounter } from './modules/analytics/counter.js'
import { StatNames } from './modules/analytics/rollup.js'
import { AnalyticsService } from './modules/analytics/service.js'
import { CheckoutService } from './modules/checkout/service.js'
import { MerchantService } from './modules/merchants/service.js'
import { OrderService } from './modules/orders/service.js'
import { PaylinkService } from './modules/paylinks/service.js'
import { ProviderAccounts, type ProviderRegistry } from './modules/payments/accounts.js'
import { PaymentService } from './modules/payments/service.js'
import { PortalService } from './modules/portals/service.js'
import { ProductService } from './modules/products/service.js'
import { ProjectService } from './modules/projects/service.js'
import { SandboxProvider } from './modules/sandbox/provider.js'
import { SandboxService } from './modules/sandbox/service.js'
import { StripeProvider } from './modules/stripe/provider.js'
import { UserService } from './modules/users/service.js'
import { WebhookDispatcher } from './modules/webhooks/dispatcher.js'
import { WebhookService } from './modules/webhooks/service.js'

export interface Services {
  config: Config
  database: Database
  clock: Clock
  merchants: MerchantService
  users: UserService
  projects: ProjectService
  products: ProductService
  paylinks: PaylinkService
  analytics: AnalyticsService
  /** Counts committed visits into the statistics; started by the server. */
  counter: StatsCounter
  orders: OrderService
  checkout: CheckoutService
  payments: PaymentService
  sandbox: SandboxService
  portals: PortalService
  webhooks: WebhookService
  dispatcher: WebhookDispatcher
  mailer: Mailer
  logger: Logger
}

export interface ServiceOptions {
  /**
   * Providers to use instead of the built-in ones (the sandbox, and Stripe at STRIPE_API_URL), made with the
   * sandbox's service at hand (tests wrap the sandbox's adapter to make its calls fail, or give Stripe's a
   * short timeout).
   */
  providers?: (built: { sandbox: SandboxService; sandboxProvider: SandboxProvider }) => ProviderRegistry
  logger?: Logger
  mailer?: Mailer
}

export function createServices(
  config: Config,
  database: Database,
  clock: Clock,
  options: ServiceOptions = {},
): Services {
  const logger = options.logger ?? createLogger('silent')
  const mailer = options.mailer ?? createMailer(config.smtpUrl, logger)
  const { db } = database
  const box = new SecretBox(() => config.masterKeys ?? [masterKeyOfDataDir(config, logger)])
  const sandbox = new SandboxService(db, clock, config.publicUrl, logger)
  const accounts = new ProviderAccounts(
    db,
    clock,
    box,
    providerRegistry(sandbox, config, options.providers),
    (accountId) => sandbox.signingSecret(accountId),
  )
  const merchants = new MerchantService(db, clock)
  const users = new UserService(db, clock)
  const projects = new ProjectService(db, clock)
  const products = new ProductService(db, clock, projects)
  const statNames = new StatNames()
  const counter = new StatsCounter(db, statNames, clock, logger)
  const paylinks = new PaylinkService(db, clock, config, projects, counter)
  const analytics = new AnalyticsService(database, clock, projects, paylinks, counter)
  const orders = new OrderService(db, clock, config, statNames)
  const checkout = new CheckoutService(database, clock, orders, accounts, {
    concurrency: batchesAtOnce(),
    maxQueue: config.visitQueueLimit,
  })
  const portals = new PortalService(db, clock, config, projects, orders, mailer, logger, accounts)
  const payments = new PaymentService(
    db,
    clock,
    logger,
    accounts,
    orders,
    { apply: (tx, accountId, update, now) => portals.applySetup(tx, accountId, update, now) },
    config.publicUrl,
  )
  const webhooks = new WebhookService(db, clock, config)
  const dispatcher = new WebhookDispatcher(db, clock, config, logger)
  return {
    config,
    database,
    clock,
    merchants,
    users,
    projects,
    products,
    paylinks,
    analytics,
    counter,
    orders,
    checkout,
    payments,
    sandbox,
    portals,
    webhooks,
    dispatcher,
    mailer,
    logger,
  }
}

/** Without PAYLINKS_MASTER_KEY, the key lives in the data directory; made (and said so) on first use. */
function masterKeyOfDataDir(config: Config, logger: Logger): Buffer {
  const { key, created, file } = dataDirMasterKey(config.dataDir)
  if (created)
    logger.warn(
      { file },
      'generated a master key for provider credentials; back it up with the database, or set PAYLINKS_MASTER_KEY',
    )
  return key
}

function providerRegistry(
  sandbox: SandboxService,
  config: Config,
  extra: ServiceOptions['providers'],
): ProviderRegistry {
  const sandboxProvider = new SandboxProvider(sandbox)
  return {
    sandbox: sandboxProvider,
    stripe: new StripeProvider({ apiUrl: config.stripeApiUrl }),
    ...extra?.({ sandbox, sandboxProvider }),
  }
}
