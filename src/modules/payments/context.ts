// What every payment use case works with.
import type { Db, Tx } from '../../lib/db.js'
import type { Logger } from '../../lib/logger.js'
import type { Clock } from '../../lib/time.js'
import type { OrderService } from '../orders/service.js'
import type { ProviderAccounts } from './accounts.js'
import type { ProviderUpdate } from './provider.js'
import type { Applied, Settlement } from './settle.js'

/** The owner of checkout setups (the portals module) applies what a provider says of a setup. */
export interface SetupUpdates {
  apply(
    tx: Tx,
    accountId: string,
    update: Extract<ProviderUpdate, { kind: 'setup' }>,
    now: Date,
  ): Promise<Applied>
}

export interface PaymentDeps {
  db: Db
  clock: Clock
  logger: Logger
  accounts: ProviderAccounts
  orders: OrderService
  settlement: Settlement
  setups: SetupUpdates
  publicUrl: string
}
