import { describe, expect, it } from 'vitest'
import {
  currencyExponent,
  formatMoney,
  isCurrency,
  sumAmounts,
  toDecimalString,
} from '../../src/lib/money.js'

describe('currencies', () => {
  it.each([
    ['JPY', 0],
    ['USD', 2],
    ['EUR', 2],
    ['KWD', 3],
    ['BHD', 3],
    ['CLP', 0],
  ])('%s has exponent %i', (code, exponent) => {
    expect(currencyExponent(code)).toBe(exponent)
  })

  it('knows ISO 4217 codes and refuses metals, funds, test codes and made-up codes', () => {
    expect(isCurrency('USD')).toBe(true)
    for (const code of ['XAU', 'XXX', 'XTS', 'USN', 'ABC', 'usd', 'US']) expect(isCurrency(code)).toBe(false)
  })
})

describe('toDecimalString', () => {
  it.each([
    [1999, 'USD', '19.99'],
    [5, 'USD', '0.05'],
    [1999, 'JPY', '1999'],
    [5, 'KWD', '0.005'],
    [12345, 'KWD', '12.345'],
    [999_999_999_999, 'USD', '9999999999.99'],
  ])('%i %s is %s', (amount, currency, expected) => {
    expect(toDecimalString(amount, currency)).toBe(expected)
  })

  it('refuses unsafe integers', () => {
    expect(() => toDecimalString(2 ** 53, 'USD')).toThrow(RangeError)
  })
})

describe('formatMoney', () => {
  it.each([
    [1999, 'USD', 'en-US', '$19.99'],
    [1999, 'JPY', 'en-US', '¥1,999'],
    [1999, 'JPY', 'ja-JP', '￥1,999'],
    [1234, 'KWD', 'en-US', 'KWD\u00a01.234'],
    [123456, 'EUR', 'de-DE', '1.234,56\u00a0€'],
  ])('%i %s in %s is %s', (amount, currency, locale, expected) => {
    expect(formatMoney(amount, currency, locale)).toBe(expected)
  })

  it('formats large amounts exactly, without float rounding', () => {
    expect(formatMoney(900_719_925_474_099, 'USD', 'en-US')).toBe('$9,007,199,254,740.99')
  })
})

describe('sumAmounts', () => {
  it('adds integers and refuses to leave the safe range', () => {
    expect(sumAmounts([1, 2, 3])).toBe(6)
    expect(() => sumAmounts([Number.MAX_SAFE_INTEGER, 1])).toThrow(RangeError)
  })
})
