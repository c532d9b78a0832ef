// Stripe's currency rules at the boundary: paylinks counts money in ISO 4217 minor units (src/lib/money.ts),
// Stripe's API in its own, which differ for a few currencies, and Stripe refuses some amounts outright.
// Everything sent to Stripe is converted here, and everything read back is converted back.
import { currencyExponent, formatMoney, isCurrency } from '../../lib/money.js'

/** Presentment currencies Stripe takes card payments in (its "Supported currencies" guide). */
const SUPPORTED = new Set(
  (
    'USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP BYN BZD ' +
    'CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GNF GTQ GYD ' +
    'HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD ' +
    'MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN ' +
    'PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS ' +
    'UAH UGX UYU UZS VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW'
  ).split(' '),
)

/**
 * Counted in whole units at Stripe. MGA is one of them although ISO 4217 gives it two decimals, so an
 * amount in ariary must be whole to be charged.
 */
const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
])

/** Three decimals at Stripe, whose payment partners need the last digit to be 0. */
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND'])

/**
 * Every other currency has two decimals at Stripe. That includes ISK, zero-decimal in ISO 4217, which
 * Stripe keeps as two decimals for backwards compatibility (5 ISK is `500`); HUF and TWD are zero-decimal
 * at Stripe only for payouts, so their charges have ISO's two decimals.
 */
export function stripeExponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0
  if (THREE_DECIMAL.has(currency)) return 3
  return 2
}

/** ISO's exponent, or Stripe's own for a code paylinks does not know (an amount read from Stripe). */
function isoExponent(currency: string): number {
  return isCurrency(currency) ? currencyExponent(currency) : stripeExponent(currency)
}

/**
 * The documented minimum charge in Stripe's minor units, for the currencies Stripe lists. Stripe states
 * other currencies' minimums in the settlement currency, which paylinks cannot convert: Stripe itself
 * checks those when the session is created.
 */
const MINIMUM: Readonly<Record<string, number>> = {
  USD: 50,
  AED: 200,
  AUD: 50,
  BGN: 100,
  BRL: 50,
  CAD: 50,
  CHF: 50,
  CZK: 1500,
  DKK: 250,
  EUR: 50,
  GBP: 30,
  HKD: 400,
  HUF: 17500,
  INR: 50,
  JPY: 50,
  MXN: 1000,
  MYR: 200,
  NOK: 300,
  NZD: 50,
  PLN: 200,
  RON: 200,
  SEK: 300,
  SGD: 50,
  THB: 1000,
}

/** "The amount value supports up to eight digits"; IDR, whose amounts are large, up to twelve. */
function maximum(currency: string): number {
  return currency === 'IDR' ? 999_999_999_999 : 99_999_999
}

/** ISO minor units → Stripe's; undefined when the amount has no exact equivalent (a fraction of an ariary). */
export function toStripeAmount(amount: number, currency: string): number | undefined {
  const shift = stripeExponent(currency) - isoExponent(currency)
  if (shift >= 0) return amount * 10 ** shift
  const unit = 10 ** -shift
  return amount % unit === 0 ? amount / unit : undefined
}

/** Stripe's minor units → ISO's (an ISK amount of `500` is 5 ISK). */
export function fromStripeAmount(amount: number, currency: string): number {
  const code = currency.toUpperCase()
  const shift = isoExponent(code) - stripeExponent(code)
  // Stripe's ISK amounts are whole krónur now; an old fractional one is counted down to the króna.
  return shift >= 0 ? amount * 10 ** shift : Math.trunc(amount / 10 ** -shift)
}

const shown = (amount: number, currency: string) => formatMoney(amount, currency, 'en')

/** Why Stripe would refuse to charge this amount; undefined when it takes it. The sentence is for buyers. */
export function amountProblem(amount: number, currency: string): string | undefined {
  if (!SUPPORTED.has(currency)) return `Stripe does not take payments in ${currency}.`
  const step = stepProblem(amount, currency, 'the amount')
  if (step) return step
  const units = toStripeAmount(amount, currency) as number
  const minimum = MINIMUM[currency] ?? (THREE_DECIMAL.has(currency) ? 10 : 1)
  if (units < minimum) {
    return `Stripe charges at least ${shown(fromStripeAmount(minimum, currency), currency)} in ${currency}, and the amount is ${shown(amount, currency)}.`
  }
  if (units > maximum(currency)) {
    return `Stripe charges at most ${shown(fromStripeAmount(maximum(currency), currency), currency)} at once in ${currency}, and the amount is ${shown(amount, currency)}.`
  }
  return undefined
}

/**
 * Why Stripe would refuse an amount for its steps alone: a fraction of a unit it counts whole, or a
 * three-decimal amount whose last digit is not 0. Stripe checks each line's unit amount and each refund so,
 * not only the total; `what` names the amount in the sentence ("the amount", "the refund").
 */
export function stepProblem(amount: number, currency: string, what: string): string | undefined {
  const units = toStripeAmount(amount, currency)
  if (units === undefined) {
    return `Stripe charges ${currency} in whole units only, so ${what}, ${shown(amount, currency)}, cannot be sent to it.`
  }
  if (THREE_DECIMAL.has(currency) && units % 10 !== 0) {
    return `Stripe takes ${currency} in steps of 0.010 (the last digit must be 0), so ${what}, ${shown(amount, currency)}, cannot be sent to it.`
  }
  return undefined
}
