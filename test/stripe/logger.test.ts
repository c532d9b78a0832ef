// Provider credentials in log lines: redacted where they are fields (as the API takes them and as an
// opened account holds them), and scrubbed wherever else they turn up in a line (a message, an error).
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/lib/logger.js'

const SECRET_KEY = 'sk_live_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789'
const RESTRICTED_KEY = 'rk_test_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789'
const WEBHOOK_SECRET = 'whsec_0123456789abcdefABCDEF0123456789'

function capture() {
  const lines: string[] = []
  const logger = createLogger('info', { destination: { write: (line: string) => void lines.push(line) } })
  return { logger, lines }
}

describe('the logger', () => {
  it('redacts credentials given as fields, at the top or one level down', () => {
    const { logger, lines } = capture()
    logger.info({ secret_key: SECRET_KEY, webhook_secret: WEBHOOK_SECRET }, 'saving')
    logger.info({ body: { secret_key: RESTRICTED_KEY, webhook_secret: WEBHOOK_SECRET } }, 'request')
    logger.info({ account: { id: 'pa_1', secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } }, 'account')
    const [first, second, third] = lines.map((l) => JSON.parse(l))
    expect(first).toMatchObject({ secret_key: '[redacted]', webhook_secret: '[redacted]' })
    expect(second.body).toEqual({ secret_key: '[redacted]', webhook_secret: '[redacted]' })
    expect(third.account).toEqual({ id: 'pa_1', secretKey: '[redacted]', webhookSecret: '[redacted]' })
  })

  it('scrubs Stripe keys and signing secrets from messages and errors', () => {
    const { logger, lines } = capture()
    logger.warn({ err: new Error(`Invalid API Key provided: ${SECRET_KEY}`) }, `checking ${RESTRICTED_KEY}`)
    logger.info({ note: { deep: { deeper: `secret ${WEBHOOK_SECRET}.` } } }, 'nested')
    const text = lines.join('')
    for (const secret of [SECRET_KEY, RESTRICTED_KEY, WEBHOOK_SECRET]) expect(text).not.toContain(secret)
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      msg: 'checking [redacted]',
      err: { message: 'Invalid API Key provided: [redacted]' },
    })
    expect(JSON.parse(lines[1] as string).note.deep.deeper).toBe('secret [redacted].')
    // Stripe's own way of showing a key, the last 4 characters after stars, is no secret and stays.
    logger.info('Invalid API Key provided: sk_test_************************6789')
    expect(lines[2]).toContain('sk_test_************************6789')
  })
})
