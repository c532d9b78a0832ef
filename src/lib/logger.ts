// pino, JSON by default and pretty on a terminal; credentials and card data are redacted wherever they appear.
import pino, { type Logger } from 'pino'
import type { LogLevel } from './config.js'

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-paylinks-internal"]',
  'headers.authorization',
  '*.api_key',
  '*.key',
  '*.secret',
  '*.password',
  '*.card_number',
  '*.cvc',
  'res.headers["set-cookie"]',
]

export function createLogger(level: LogLevel, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  })
}

export type { Logger }
