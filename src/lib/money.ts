// Money is an integer amount in the currency's minor units plus its ISO 4217 code; this module owns the
// exponent of every currency (JPY 0, USD 2, KWD 3) and never converts through floating point.
import currencyCodes from 'currency-codes'

/** ISO 4217 codes that are not money a buyer can pay with: precious metals, bond units, funds, test codes. */
const NOT_PAYABLE = new Set([
  'XAG',
  'XAU',
  'XPD',
  'XPT',
  'XBA',
  'XBB',
  'XBC',
  'XBD',
  'XDR',
  'XSU',
  'XUA',
  'XTS',
  'XXX',
  'BOV',
  'CHE',
  'CHW',
  'CLF',
  'COU',
  'MXV',
  'USN',
  'UYI',
  'UYW',
])

const EXPONENTS: ReadonlyMap<string, number> = new Map(
  currencyCodes.data
    .filter((c) => !NOT_PAYABLE.has(c.code) && Number.isInteger(c.digits))
    .map((c) => [c.code, c.digits]),
)

/** The largest amount in minor units we accept for a price or an order total. */
export const MAX_AMOUNT = 999_999_999_999

export const CURRENCY_PATTERN = '^[A-Z]{3}$'

export function isCurrency(code: string): boolean {
  return EXPONENTS.has(code)
}

export function supportedCurrencies(): string[] {
  return [...EXPONENTS.keys()].sort()
}

/** The number of minor-unit digits of an ISO 4217 currency. Throws for an unknown code. */
export function currencyExponent(code: string): number {
  const exponent = EXPONENTS.get(code)
  if (exponent === undefined) throw new RangeError(`unknown currency ${code}`)
  return exponent
}

/** Minor units as an exact decimal string: (1999, 'USD') → '19.99'; (5, 'KWD') → '0.005'. */
export function toDecimalString(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amount ${amount} is not a safe integer`)
  const exponent = currencyExponent(currency)
  const sign = amount < 0 ? '-' : ''
  const digits = Math.abs(amount)
    .toString()
    .padStart(exponent + 1, '0')
  if (exponent === 0) return sign + digits
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
}

/** Formats an amount for people, in their locale, with exactly the currency's ISO exponent. */
export function formatMoney(amount: number, currency: string, locale = 'en'): string {
  const exponent = currencyExponent(currency)
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  })
  // Intl accepts a decimal string and formats it exactly, without a detour through a float.
  return format.format(toDecimalString(amount, currency) as unknown as number)
}

/**
 * The position of the first line that brings a running total over MAX_AMOUNT, or -1 when the whole total
 * is within it. Exact whatever the counts (BigInt): 999,999,999,999 × 9,008 is past the safe integers.
 */
export function firstLineOverMaxAmount(lines: { unitAmount: number; quantity: number }[]): number {
  let total = 0n
  for (const [index, line] of lines.entries()) {
    total += BigInt(line.unitAmount) * BigInt(line.quantity)
    if (total > BigInt(MAX_AMOUNT)) return index
  }
  return -1
}

/**
 * Minor units as a number of major units (1999 USD → 19.99, 5 KWD → 0.005), for clients that want a
 * decimal number: it is the double nearest to the exact decimal, which is read from the exact string.
 */
export function toMajorUnits(amount: number, currency: string): number {
  return Number(toDecimalString(amount, currency))
}

/** Sums amounts of one currency, refusing to leave the safe integer range. */
export function sumAmounts(amounts: number[]): number {
  const total = amounts.reduce((sum, amount) => sum + amount, 0)
  if (!Number.isSafeInteger(total)) throw new RangeError('total is out of range')
  return total
}

/**
 * A decimal amount typed by a person ('19.99', '0.005', '700') in minor units of the currency, exactly
 * (string arithmetic, no float); undefined when it is not a plain decimal with at most the currency's
 * digits after the point.
 */
export function fromDecimalString(text: string, currency: string): number | undefined {
  const exponent = currencyExponent(currency)
  const match = /^(\d{1,15})(?:\.(\d*))?$/.exec(text.trim())
  if (!match) return undefined
  const [, whole = '', fraction = ''] = match
  if (fraction.length > exponent) return undefined
  const amount = Number(whole + fraction.padEnd(exponent, '0'))
  return Number.isSafeInteger(amount) ? amount : undefined
}
