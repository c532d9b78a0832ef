// pino, JSON by default and pretty on a terminal; credentials and card data are redacted wherever they appear.
import { createRequire } from 'node:module'
import pino, { type Logger } from 'pino'
import type PinoPretty from 'pino-pretty'
import type { LogLevel } from './config.js'

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-paylinks-internal"]',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  '*.api_key',
  '*.key',
  '*.secret',
  '*.password',
  '*.card_number',
  '*.cvc',
  // Payment provider credentials, as the API takes them and as an opened account holds them.
  'secret_key',
  'webhook_secret',
  'secretKey',
  'webhookSecret',
  '*.secret_key',
  '*.webhook_secret',
  '*.secretKey',
  '*.webhookSecret',
  'res.headers["set-cookie"]',
]

/**
 * Credentials that may still turn up inside a message or an error's text (a provider quoting the key it
 * refused, say): Stripe secret and restricted keys, signing secrets, paylinks' own secret keys. Paths
 * alone cannot catch those, so every line is scrubbed once more just before it is written.
 */
const SECRET_TEXT =
  /\b(?:(?:sk|rk)_(?:test|live)_[0-9A-Za-z]{8,}|whsec_[0-9A-Za-z+/=_-]{8,}|pl_sk_[0-9a-f]{16,})/g

export function scrubSecrets(line: string): string {
  return line.replace(SECRET_TEXT, '[redacted]')
}

export function createLogger(
  level: LogLevel,
  options: { pretty?: boolean; destination?: pino.DestinationStream } = {},
): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true
  const settings = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
  }
  if (options.destination) return pino(settings, options.destination)
  // In this thread and synchronous, so that what the server prints itself (the start-up banner) lands after
  // the log lines written before it, not among them.
  if (pretty) {
    // Loaded for a terminal only: a server whose log goes to a file or a collector does not hold it.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
    return pino(settings, prettyStream({ translateTime: 'SYS:HH:MM:ss.l', sync: true }))
  }
  return pino(settings)
}

export type { Logger }
