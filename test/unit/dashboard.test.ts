// The pure parts of the dashboard: typed amounts, the chosen period, times, the return path after
// sign-in and the password hash.
import { describe, expect, it } from 'vitest'
import { fromDecimalString } from '../../src/lib/money.js'
import { safeNext } from '../../src/modules/dashboard/routes.js'
import { choosePeriod } from '../../src/modules/dashboard/stats.js'
import { fmt } from '../../src/modules/dashboard/view.js'
import {
  generatePassword,
  hashPassword,
  passwordProblem,
  verifyPassword,
} from '../../src/modules/users/password.js'

describe('fromDecimalString', () => {
  it('reads amounts exactly in minor units of the currency', () => {
    expect(fromDecimalString('19.99', 'USD')).toBe(1999)
    expect(fromDecimalString('19.9', 'USD')).toBe(1990)
    expect(fromDecimalString('19.', 'USD')).toBe(1900)
    expect(fromDecimalString(' 0.07 ', 'USD')).toBe(7)
    expect(fromDecimalString('700', 'JPY')).toBe(700)
    expect(fromDecimalString('4.5', 'KWD')).toBe(4500)
    expect(fromDecimalString('0.1', 'USD')).toBe(10) // no float: 0.1 * 100 stays 10
    expect(fromDecimalString('999999999999999', 'JPY')).toBe(999999999999999)
  })
  it('refuses what is not a plain decimal with the currency’s digits', () => {
    for (const [text, currency] of [
      ['19.999', 'USD'],
      ['1.5', 'JPY'],
      ['-1', 'USD'],
      ['1e3', 'USD'],
      ['1,50', 'EUR'],
      ['', 'USD'],
      ['.5', 'USD'],
      ['9999999999999999', 'USD'],
    ] as const) {
      expect(fromDecimalString(text, currency), text).toBeUndefined()
    }
  })
})

describe('choosePeriod', () => {
  const now = new Date('2026-03-29T12:00:00Z')
  it('takes the last N local days, today included, on local midnights', () => {
    const p = choosePeriod({ days: '7', tz: 'Europe/Berlin' }, now)
    expect(p).toMatchObject({ days: 7, from: '2026-03-23', to: '2026-03-29', tz: 'Europe/Berlin' })
    expect(new Date(p.period_from * 1000).toISOString()).toBe('2026-03-22T23:00:00.000Z')
    // Berlin moved to summer time on 29 March: the next local midnight is 22:00 UTC.
    expect(new Date(p.period_to * 1000).toISOString()).toBe('2026-03-29T22:00:00.000Z')
  })
  it('takes whole local days from–to, and names a bad choice while falling back to 30 UTC days', () => {
    const p = choosePeriod({ from: '2026-02-01', to: '2026-02-01', tz: 'Asia/Kathmandu' }, now)
    expect(p.period_to - p.period_from).toBe(86_400)
    expect(new Date(p.period_from * 1000).toISOString()).toBe('2026-01-31T18:15:00.000Z')
    expect(choosePeriod({ from: '2026-02-30', to: '2026-03-01' }, now).error?.message).toBe(
      'from and to: must both be dates (YYYY-MM-DD)',
    )
    expect(choosePeriod({ from: '2026-13-01', to: '2026-13-02' }, now).error?.field).toBe('from')
    const bad = choosePeriod({ tz: 'Nowhere/Land' }, now)
    expect(bad).toMatchObject({ days: 30, tz: 'UTC', from: '2026-02-28', to: '2026-03-29' })
    expect(bad.error?.field).toBe('tz')
  })
})

describe('fmt.time', () => {
  it('marks an instant up as a <time> in UTC, built from the parsed date only', () => {
    expect(fmt.time('2026-11-21T14:03:59.999Z')).toBe(
      '<time datetime="2026-11-21T14:03:59.999Z">2026-11-21 14:03 UTC</time>',
    )
    // Another offset is written as the same instant in UTC.
    expect(fmt.time('2026-11-21T15:03:00+01:00')).toBe(
      '<time datetime="2026-11-21T14:03:00.000Z">2026-11-21 14:03 UTC</time>',
    )
    expect(fmt.seconds({ seconds: 1_790_000_000 })).toBe(
      '<time datetime="2026-09-21T14:13:20.000Z">2026-09-21 14:13 UTC</time>',
    )
    for (const nothing of [null, undefined, '', '<script>alert(1)</script>']) {
      expect(fmt.time(nothing)).toBe('—')
    }
  })
})

describe('fmt.browser', () => {
  it('names the browser and system of common user agents, and says so when it cannot', () => {
    const cases: [string | null, string][] = [
      [
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
        'Chrome on Linux',
      ],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
        'Edge on Windows',
      ],
      [
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
        'Safari on iOS',
      ],
      [
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0',
        'Firefox on macOS',
      ],
      [
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
        'Chrome on Android',
      ],
      ['lightMyRequest', 'Other browser'],
      [null, 'Unknown browser'],
    ]
    for (const [agent, label] of cases) expect(fmt.browser(agent), String(agent)).toBe(label)
  })
})

describe('safeNext', () => {
  it('keeps dashboard paths and drops anything else', () => {
    expect(safeNext('/dashboard/orders?status=paid')).toBe('/dashboard/orders?status=paid')
    expect(safeNext('/dashboard')).toBe('/dashboard')
    for (const next of [
      undefined,
      '',
      'https://evil.example',
      '//evil.example',
      '/dashboard//x',
      '/dashboard\\x',
      '/docs',
    ]) {
      expect(safeNext(next)).toBe('/dashboard/projects')
    }
  })
})

describe('passwords', () => {
  it('verifies the right password only, and refuses a malformed hash', async () => {
    const hash = await hashPassword('correct horse battery', { ln: 10, r: 8, p: 1 })
    expect(hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/)
    expect(await verifyPassword('correct horse battery', hash)).toBe(true)
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false)
    expect(await verifyPassword('correct horse battery', '$scrypt$garbage')).toBe(false)
    // Two hashes of one password differ by their salt.
    expect(await hashPassword('correct horse battery', { ln: 10, r: 8, p: 1 })).not.toBe(hash)
  })
  it('generates passwords that pass the policy, and names what the policy refuses', () => {
    const passwords = new Set(Array.from({ length: 200 }, generatePassword))
    expect(passwords.size).toBe(200)
    for (const p of passwords) {
      expect(p).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/)
      expect(passwordProblem(p)).toBeUndefined()
    }
    expect(passwordProblem('nine char')).toBe('must be at least 10 characters')
    expect(passwordProblem(' padded password')).toBe('must not start or end with a space')
    expect(passwordProblem('x'.repeat(201))).toBe('must be at most 200 characters')
  })
})
