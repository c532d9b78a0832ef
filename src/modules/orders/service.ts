// Orders: what a buyer is asked to pay, with its items priced when the order was made.
import type { Config } from '../../lib/config.js'
import type { Db } from '../../lib/db.js'
import { AppError } from '../../lib/errors.js'
import type { Clock } from '../../lib/time.js'
import * as repo from './repo.js'
import type { ListOrdersQuery, OrderDetail } from './schemas.js'

/** A payment attempt still `processing` after this long is considered lost. */
const STALE_PAYMENT_MS = 10 * 60 * 1000

export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'orderTtlMinutes'>,
  ) {}

  /** When an order made now expires. */
  expiryFrom(now: Date): Date {
    return new Date(now.getTime() + this.config.orderTtlMinutes * 60_000)
  }

  async get(merchantId: string, id: string): Promise<OrderDetail> {
    const order = await repo.findOrder(this.db, id, merchantId)
    if (!order) throw new AppError('order_not_found')
    return order
  }

  list(merchantId: string, query: ListOrdersQuery) {
    return repo.listOrders(this.db, merchantId, {
      ...query,
      offset: query.offset ?? 0,
      limit: query.limit ?? 10,
    })
  }

  /** One sweep of the expiry job: expires due orders and closes lost payment attempts. */
  async sweep(): Promise<{ expired: string[]; stalePayments: number }> {
    const now = this.clock.now()
    const stalePayments = await repo.failStalePayments(
      this.db,
      new Date(now.getTime() - STALE_PAYMENT_MS),
      now,
    )
    const expired: string[] = []
    for (;;) {
      const batch = await repo.expireDueOrders(this.db, now)
      expired.push(...batch)
      if (batch.length < 500) break
    }
    return { expired, stalePayments }
  }
}
