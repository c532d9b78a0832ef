import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/lib/config.js'

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      databaseUrl: undefined,
      dataDir: path.resolve('./data'),
      smtpUrl: undefined,
      logLevel: 'info',
      webhookAllowPrivateUrls: false,
      paylinkLifeDays: [1, 7, 30],
      orderTtlMinutes: 1440,
      trustProxy: false,
      countryHeader: undefined,
      publicRateLimit: 120,
      visitQueueLimit: 5000,
    })
  })

  it('derives PUBLIC_URL from PORT and strips a trailing slash from an explicit one', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080')
    expect(loadConfig({ PUBLIC_URL: 'https://pay.example.com/base/' }).publicUrl).toBe(
      'https://pay.example.com/base',
    )
  })

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '4000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@db/paylinks',
      PAYLINKS_DATA_DIR: '/var/lib/paylinks',
      SMTP_URL: 'smtp://mail:25',
      LOG_LEVEL: 'DEBUG',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      PAYLINK_LIFE_DAYS: '30, 1,14,1',
      VISIT_QUEUE_LIMIT: '50',
    })
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u@db/paylinks',
      dataDir: '/var/lib/paylinks',
      smtpUrl: 'smtp://mail:25',
      logLevel: 'debug',
      webhookAllowPrivateUrls: true,
      paylinkLifeDays: [1, 14, 30],
      visitQueueLimit: 50,
    })
  })

  it.each([
    ['PORT', '0', 'PORT="0": must be an integer from 1 to 65535'],
    ['PORT', 'http', 'PORT="http": must be an integer from 1 to 65535'],
    [
      'PUBLIC_URL',
      'localhost:3000',
      'PUBLIC_URL="localhost:3000": must be an absolute http:// or https:// URL',
    ],
    [
      'PUBLIC_URL',
      'https://x.test/?a=1',
      'PUBLIC_URL="https://x.test/?a=1": must not have a query string or a fragment',
    ],
    ['DATABASE_URL', 'mysql://x', 'DATABASE_URL="mysql://x": must be a postgres:// or postgresql:// URL'],
    ['SMTP_URL', 'mail.example.com', 'SMTP_URL="mail.example.com": must be an smtp:// or smtps:// URL'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent'],
    ['WEBHOOK_ALLOW_PRIVATE_URLS', 'maybe', 'WEBHOOK_ALLOW_PRIVATE_URLS="maybe": must be true or false'],
    [
      'PAYLINK_LIFE_DAYS',
      '1,x',
      'PAYLINK_LIFE_DAYS="1,x": must be a comma-separated list of whole days from 1 to 3650',
    ],
    [
      'PAYLINK_LIFE_DAYS',
      '0',
      'PAYLINK_LIFE_DAYS="0": must be a comma-separated list of whole days from 1 to 3650',
    ],
    ['VISIT_QUEUE_LIMIT', '0', 'VISIT_QUEUE_LIMIT="0": must be a whole number from 1 to 1000000'],
  ])('rejects %s=%s naming the variable and the rule', (name, value, problem) => {
    expect(() => loadConfig({ [name]: value })).toThrowError(ConfigError)
    try {
      loadConfig({ [name]: value })
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([problem])
    }
  })

  it('lists every invalid variable at once', () => {
    try {
      loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })
      expect.unreachable()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2)
      expect((error as ConfigError).message).toContain('invalid configuration')
    }
  })
})
