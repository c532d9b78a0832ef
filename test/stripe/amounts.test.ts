// Stripe's minor units and amount rules against paylinks' ISO 4217 ones (src/lib/money.ts).
import { describe, expect, it } from 'vitest'
import {
  amountProblem,
  fromStripeAmount,
  stepProblem,
  toStripeAmount,
} from '../../src/modules/stripe/amounts.js'

describe('amounts sent to Stripe', () => {
  it.each([
    ['USD', 1999, 1999],
    ['JPY', 500, 500],
    ['KRW', 15000, 15000],
    ['KWD', 1250, 1250],
    // ISK: zero-decimal in ISO, two decimals at Stripe.
    ['ISK', 500, 50000],
    // MGA: two decimals in ISO, zero-decimal at Stripe.
    ['MGA', 120000, 1200],
    ['HUF', 17500, 17500],
    ['TWD', 3000, 3000],
    ['UGX', 3700, 3700],
  ])('sends %s %i as %i and reads it back', (currency, iso, stripe) => {
    expect(toStripeAmount(iso, currency)).toBe(stripe)
    expect(fromStripeAmount(stripe, currency.toLowerCase())).toBe(iso)
  })

  it('has no Stripe amount for a fraction of an ariary', () => {
    expect(toStripeAmount(120050, 'MGA')).toBeUndefined()
    expect(amountProblem(120050, 'MGA')).toBe(
      'Stripe charges MGA in whole units only, so the amount, MGA\u00a01,200.50, cannot be sent to it.',
    )
  })

  it.each([
    ['USD', 50, undefined],
    ['USD', 49, 'Stripe charges at least $0.50 in USD, and the amount is $0.49.'],
    ['JPY', 49, 'Stripe charges at least ¥50 in JPY, and the amount is ¥49.'],
    ['KWD', 1250, undefined],
    [
      'KWD',
      1255,
      'Stripe takes KWD in steps of 0.010 (the last digit must be 0), so the amount, KWD\u00a01.255, cannot be sent to it.',
    ],
    [
      'BHD',
      5,
      'Stripe takes BHD in steps of 0.010 (the last digit must be 0), so the amount, BHD\u00a00.005, cannot be sent to it.',
    ],
    ['USD', 99_999_999, undefined],
    [
      'USD',
      100_000_000,
      'Stripe charges at most $999,999.99 at once in USD, and the amount is $1,000,000.00.',
    ],
    ['IDR', 100_000_000, undefined],
    ['ISK', 999_999, undefined],
    [
      'ISK',
      1_000_000,
      'Stripe charges at most ISK\u00a0999,999 at once in ISK, and the amount is ISK\u00a01,000,000.',
    ],
    ['XAF', 1000, undefined],
    ['CUP', 1000, 'Stripe does not take payments in CUP.'],
  ])('finds %s %i %s', (currency, amount, problem) => {
    expect(amountProblem(amount, currency)).toBe(problem)
  })

  it('names what it checks a line or a refund for', () => {
    expect(stepProblem(1005, 'KWD', 'the price of Sword')).toBe(
      'Stripe takes KWD in steps of 0.010 (the last digit must be 0), so the price of Sword, KWD\u00a01.005, cannot be sent to it.',
    )
    expect(stepProblem(1000, 'KWD', 'a refund')).toBeUndefined()
  })
})
