// Wires the services of every module to one database, clock and configuration.
import type { Config } from './lib/config.js'
import type { Database } from './lib/db.js'
import { createLogger, type Logger } from './lib/logger.js'
import { createMailer, type Mailer } from './lib/mailer.js'
import type { Clock } from './lib/time.js'
import { AnalyticsService } from './modules/analytics/service.js'
import type { PaymentProvider } from './modules/checkout/provider.js'
import { SandboxProvider } from './modules/checkout/sandbox.js'
import { CheckoutService } from './modules/checkout/service.js'
import { MerchantService } from './modules/merchants/service.js'
import { OrderService } from './modules/orders/service.js'
import { PaylinkService } from './modules/paylinks/service.js'
import { PortalService } from './modules/portals/service.js'
import { ProductService } from './modules/products/service.js'
import { ProjectService } from './modules/projects/service.js'
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
  orders: OrderService
  checkout: CheckoutService
  portals: PortalService
  webhooks: WebhookService
  dispatcher: WebhookDispatcher
  mailer: Mailer
  logger: Logger
}

export interface ServiceOptions {
  provider?: PaymentProvider
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
  const provider = options.provider ?? new SandboxProvider()
  const { db } = database
  const merchants = new MerchantService(db, clock)
  const users = new UserService(db, clock)
  const projects = new ProjectService(db, clock)
  const products = new ProductService(db, clock, projects)
  const paylinks = new PaylinkService(db, clock, config, projects)
  const analytics = new AnalyticsService(db, clock, projects, paylinks)
  const orders = new OrderService(db, clock, config)
  const checkout = new CheckoutService(db, clock, orders, provider, logger, 4)
  const portals = new PortalService(db, clock, config, projects, orders, mailer, logger, provider)
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
    orders,
    checkout,
    portals,
    webhooks,
    dispatcher,
    mailer,
    logger,
  }
}
