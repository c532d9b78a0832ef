// Runs the payments sweep on a timer in every server process: reconciling open payments, closing the
// sessions of due orders, expiring orders, applying deferred events and sending refunds. Every step is
// safe in many processes at once (SKIP LOCKED, leases), so no leader is needed.
import type { Logger } from '../../lib/logger.js'
import type { PaymentService } from './service.js'

export function startPaymentSweeper(
  payments: PaymentService,
  logger: Logger,
  intervalMs = 5_000,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve()
  const tick = () => {
    running = running
      .then(() => payments.sweep())
      .then((result) => {
        const { expired, ...counts } = result
        if (expired.length || Object.values(counts).some((n) => n > 0))
          logger.info({ expired: expired.length, ...counts }, 'payments sweep')
      })
      .catch((err) => logger.error({ err }, 'payments sweep failed'))
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
