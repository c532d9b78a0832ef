// Runs the order expiry sweep on a timer in every server process; the sweep itself is safe to run in
// many processes at once (SKIP LOCKED), so no leader is needed.
import type { Logger } from '../../lib/logger.js'
import type { OrderService } from './service.js'

export function startOrderSweeper(
  orders: OrderService,
  logger: Logger,
  intervalMs = 30_000,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve()
  const tick = () => {
    running = orders
      .sweep()
      .then(({ expired, stalePayments }) => {
        if (expired.length || stalePayments)
          logger.info({ expired: expired.length, stalePayments }, 'order sweep')
      })
      .catch((err) => logger.error({ err }, 'order sweep failed'))
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
