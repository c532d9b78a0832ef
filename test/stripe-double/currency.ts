// Stripe's currency rules as its "Supported currencies" guide states them (docs.stripe.com/currencies):
// which codes it takes, the minor-unit exponent it uses (its own lists, not ISO 4217's), the three-decimal
// rule, and the minimum and maximum charge amounts.

/** Presentment currencies Stripe accepts for card payments, lower case as the API wants them. */
const SUPPORTED = new Set(
  (
    'usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd ' +
    'cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd ' +
    'hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad ' +
    'mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln ' +
    'pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs ' +
    'uah ugx uyu uzs vnd vuv wst xaf xcd xcg xof xpf yer zar zmw'
  ).split(' '),
)

/** Charged as they are: 500 JPY is `amount=500`. */
export const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
])

/** Three decimals, and Stripe's payment partners need the last digit to be 0. */
export const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd'])

/**
 * The documented minimum charge, in minor units, for the currencies of Stripe's table. Stripe states these in
 * the settlement currency and converts them for other presentment currencies; the double has no exchange
 * rates, so it applies a listed currency's own minimum and asks nothing more of the others than one minor
 * unit (ten for three-decimal currencies).
 */
export const MINIMUM_AMOUNTS: Readonly<Record<string, number>> = {
  usd: 50,
  aed: 200,
  aud: 50,
  bgn: 100,
  brl: 50,
  cad: 50,
  chf: 50,
  czk: 1500,
  dkk: 250,
  eur: 50,
  gbp: 30,
  hkd: 400,
  huf: 17500,
  inr: 50,
  jpy: 50,
  mxn: 1000,
  myr: 200,
  nok: 300,
  nzd: 50,
  pln: 200,
  ron: 200,
  sek: 300,
  sgd: 50,
  thb: 1000,
}

export function isSupportedCurrency(code: string): boolean {
  return SUPPORTED.has(code)
}

export function supportedCurrencies(): string[] {
  return [...SUPPORTED]
}

export function exponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0
  if (THREE_DECIMAL.has(currency)) return 3
  return 2
}

export function minimumAmount(currency: string): number {
  return MINIMUM_AMOUNTS[currency] ?? (THREE_DECIMAL.has(currency) ? 10 : 1)
}

/** "The amount value supports up to eight digits"; IDR, whose amounts are large, up to twelve. */
export function maximumAmount(currency: string): number {
  return currency === 'idr' ? 999_999_999_999 : 99_999_999
}

/** An amount as Stripe's messages print it: `$0.50`, `¥50`, `KWD 1.000`. */
export function formatAmount(amount: number, currency: string): string {
  const digits = exponent(currency)
  const text = Math.abs(amount)
    .toString()
    .padStart(digits + 1, '0')
  const decimal = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
  const format = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
  // Intl formats a decimal string exactly, without a detour through a float.
  return format.format(decimal as unknown as number)
}
