// pino, JSON by default and pretty on a terminal; credentials and card data are redacted wherever they appear.
import pino, { type Logger } from 'pino'
import PinoPretty from 'pino-pretty'
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
  const settings = { level, redact: { paths: REDACT, censor: '[redacted]' } }
  // In this thread and synchronous, so that what the server prints itself (the start-up banner) lands after
  // the log lines written before it, not among them.
  if (pretty) return pino(settings, PinoPretty({ translateTime: 'SYS:HH:MM:ss.l', sync: true }))
  return pino(settings)
}

export type { Logger }
