// Parses the process environment once, at boot, into the typed configuration every module receives.
import path from 'node:path'
import { parseMasterKey } from './secret-box.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Config {
  port: number
  host: string
  /** Base of every URL the server hands out, without a trailing slash. */
  publicUrl: string
  /** Unset: the embedded PostgreSQL in `dataDir`. */
  databaseUrl: string | undefined
  dataDir: string
  /** Unset: mail is logged instead of sent. */
  smtpUrl: string | undefined
  logLevel: LogLevel
  webhookAllowPrivateUrls: boolean
  /** Allowed values of a paylink's `life_days`, ascending. */
  paylinkLifeDays: number[]
  /** How long an order may wait for its payment before it expires. */
  orderTtlMinutes: number
  /** Fastify's trustProxy: false, true, a hop count, or addresses/CIDRs of the proxies in front. */
  trustProxy: boolean | number | string
  /** A header set by a trusted proxy with the client's country (e.g. CF-IPCountry), lower case. */
  countryHeader: string | undefined
  /** Requests a minute one client may make to each public route; 0 turns the limit off. */
  publicRateLimit: number
  /**
   * Visits of public paylinks (with their orders) waiting to be written at most; past it the link answers
   * 503 with Retry-After until the database catches up.
   */
  visitQueueLimit: number
  /**
   * Master keys sealing provider credentials: the first seals, all open (previous keys during a rotation).
   * Unset: a key generated into the data directory.
   */
  masterKeys: Buffer[] | undefined
  /**
   * Where the Stripe provider sends its API calls (and where its hosted pages are, when it is not Stripe's
   * own API): unset is Stripe itself; a Stripe double's URL for running without the internet.
   */
  stripeApiUrl: string | undefined
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

type Parsed<T> = { value: T } | { error: string }
type Env = Record<string, string | undefined>

/** Reads and validates the environment; throws one ConfigError listing every invalid variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = []
  function read<T>(name: string, fallback: T, parse: (raw: string) => Parsed<T>): T {
    const raw = env[name]?.trim()
    if (!raw) return fallback
    const parsed = parse(raw)
    if ('error' in parsed) {
      problems.push(`${name}=${JSON.stringify(raw)}: ${parsed.error}`)
      return fallback
    }
    return parsed.value
  }

  const port = read<number>('PORT', 3000, (raw) =>
    /^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65535
      ? { value: Number(raw) }
      : { error: 'must be an integer from 1 to 65535' },
  )
  const config: Config = {
    port,
    host: read('HOST', '127.0.0.1', (raw) => ({ value: raw })),
    publicUrl: read('PUBLIC_URL', `http://localhost:${port}`, parsePublicUrl),
    databaseUrl: read<string | undefined>('DATABASE_URL', undefined, (raw) =>
      urlWithProtocol(raw, ['postgres:', 'postgresql:'], 'must be a postgres:// or postgresql:// URL'),
    ),
    dataDir: path.resolve(read('PAYLINKS_DATA_DIR', './data', (raw) => ({ value: raw }))),
    smtpUrl: read<string | undefined>('SMTP_URL', undefined, (raw) =>
      urlWithProtocol(raw, ['smtp:', 'smtps:'], 'must be an smtp:// or smtps:// URL'),
    ),
    logLevel: read<LogLevel>('LOG_LEVEL', 'info', (raw) => {
      const level = raw.toLowerCase()
      return isLogLevel(level) ? { value: level } : { error: `must be one of ${LOG_LEVELS.join(', ')}` }
    }),
    webhookAllowPrivateUrls: read('WEBHOOK_ALLOW_PRIVATE_URLS', false, parseBoolean),
    paylinkLifeDays: read('PAYLINK_LIFE_DAYS', [1, 7, 30], parseLifeDays),
    orderTtlMinutes: read('ORDER_TTL_MINUTES', 1440, (raw) => wholeNumber(raw, 1, 525_600)),
    trustProxy: read<boolean | number | string>('TRUST_PROXY', false, parseTrustProxy),
    countryHeader: read<string | undefined>('COUNTRY_HEADER', undefined, (raw) =>
      /^[A-Za-z0-9-]{1,64}$/.test(raw)
        ? { value: raw.toLowerCase() }
        : { error: 'must be an HTTP header name' },
    ),
    publicRateLimit: read('PUBLIC_RATE_LIMIT', 120, (raw) => wholeNumber(raw, 0, 1_000_000)),
    visitQueueLimit: read('VISIT_QUEUE_LIMIT', 5000, (raw) => wholeNumber(raw, 1, 1_000_000)),
    masterKeys: read<Buffer[] | undefined>('PAYLINKS_MASTER_KEY', undefined, parseMasterKeys),
    stripeApiUrl: read<string | undefined>('STRIPE_API_URL', undefined, parseApiBaseUrl),
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value)
}

function parseBoolean(raw: string): Parsed<boolean> {
  const value = raw.toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return { value: true }
  if (['false', '0', 'no', 'off'].includes(value)) return { value: false }
  return { error: 'must be true or false' }
}

function wholeNumber(raw: string, min: number, max: number): Parsed<number> {
  return /^\d+$/.test(raw) && Number(raw) >= min && Number(raw) <= max
    ? { value: Number(raw) }
    : { error: `must be a whole number from ${min} to ${max}` }
}

function parseTrustProxy(raw: string): Parsed<boolean | number | string> {
  const flag = parseBoolean(raw)
  if ('value' in flag) return flag
  if (/^\d+$/.test(raw)) return { value: Number(raw) }
  if (/^[0-9a-fA-F.:/,\s]+$/.test(raw) || ['loopback', 'linklocal', 'uniquelocal'].includes(raw))
    return { value: raw }
  return { error: 'must be true, false, a hop count, or comma-separated proxy addresses/CIDRs' }
}

function parseMasterKeys(raw: string): Parsed<Buffer[]> {
  const keys = raw.split(',').map((part) => parseMasterKey(part))
  if (keys.some((k) => k === undefined)) {
    return { error: 'must be a 32-byte key as 64 hex digits (or base64), or a comma-separated list of them' }
  }
  return { value: keys as Buffer[] }
}

function parseLifeDays(raw: string): Parsed<number[]> {
  const days = raw.split(',').map((part) => part.trim())
  if (days.some((d) => !/^\d+$/.test(d) || Number(d) < 1 || Number(d) > 3650)) {
    return { error: 'must be a comma-separated list of whole days from 1 to 3650' }
  }
  return { value: [...new Set(days.map(Number))].sort((a, b) => a - b) }
}

function urlWithProtocol(raw: string, protocols: string[], rule: string): Parsed<string> {
  try {
    return protocols.includes(new URL(raw).protocol) ? { value: raw } : { error: rule }
  } catch {
    return { error: rule }
  }
}

/** An API's base URL: scheme, host and port only, since the client builds every path itself. */
function parseApiBaseUrl(raw: string): Parsed<string> {
  const checked = urlWithProtocol(raw, ['http:', 'https:'], 'must be an absolute http:// or https:// URL')
  if ('error' in checked) return checked
  const url = new URL(raw)
  if (url.username || url.password) return { error: 'must not carry a user name or password' }
  if (url.pathname !== '/' || url.search || url.hash)
    return { error: 'must be the base URL only (scheme, host and port), without a path, query or fragment' }
  return { value: url.origin }
}

function parsePublicUrl(raw: string): Parsed<string> {
  const checked = urlWithProtocol(raw, ['http:', 'https:'], 'must be an absolute http:// or https:// URL')
  if ('error' in checked) return checked
  const url = new URL(raw)
  if (url.search || url.hash) return { error: 'must not have a query string or a fragment' }
  return { value: url.toString().replace(/\/+$/, '') }
}
