// Reads the card fields of the sandbox's own page: digits, Luhn, a future expiry, a 3–4 digit CVC. The
// number lives in memory for the length of the request; what is kept is the summary.
import type { CardSummary } from '../payments/provider.js'

export interface CardInput {
  /** Digits only. */
  number: string
  expMonth: number
  /** Four digits. */
  expYear: number
  cvc: string
  name?: string | undefined
}

export interface CardForm {
  card_number?: string | undefined
  card_exp?: string | undefined
  card_cvc?: string | undefined
  card_name?: string | undefined
}

export type CardErrors = Partial<Record<'card_number' | 'card_exp' | 'card_cvc' | 'card_name', string>>

export function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

export function cardBrand(digits: string): string {
  if (/^4/.test(digits)) return 'visa'
  if (/^(5[1-5]|2[2-7])/.test(digits)) return 'mastercard'
  if (/^3[47]/.test(digits)) return 'amex'
  if (/^(6011|65|64[4-9])/.test(digits)) return 'discover'
  return 'unknown'
}

export function summarize(card: CardInput): CardSummary {
  return {
    brand: cardBrand(card.number),
    last4: card.number.slice(-4),
    expMonth: card.expMonth,
    expYear: card.expYear,
  }
}

/** Parses the form; either a card or a message per field, in words a buyer understands. */
export function parseCard(form: CardForm, now: Date): { card: CardInput } | { errors: CardErrors } {
  const errors: CardErrors = {}
  const number = (form.card_number ?? '').replace(/[\s-]/g, '')
  if (!number) errors.card_number = 'Enter your card number.'
  else if (!/^\d{12,19}$/.test(number) || !luhnValid(number))
    errors.card_number = 'This card number is not valid.'

  const exp = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.card_exp ?? '')
  let expMonth = 0
  let expYear = 0
  if (!form.card_exp?.trim()) errors.card_exp = 'Enter the expiry date (MM/YY).'
  else if (!exp) errors.card_exp = 'Write the expiry date as MM/YY.'
  else {
    expMonth = Number(exp[1])
    expYear = Number(exp[2]?.length === 2 ? `20${exp[2]}` : exp[2])
    const monthsNow = now.getUTCFullYear() * 12 + now.getUTCMonth()
    if (expMonth < 1 || expMonth > 12) errors.card_exp = 'The expiry month must be from 01 to 12.'
    else if (expYear * 12 + (expMonth - 1) < monthsNow) errors.card_exp = 'This card has expired.'
    else if (expYear > now.getUTCFullYear() + 50) errors.card_exp = 'The expiry year is too far ahead.'
  }

  const cvc = (form.card_cvc ?? '').trim()
  if (!cvc) errors.card_cvc = 'Enter the security code.'
  else if (!/^\d{3,4}$/.test(cvc)) errors.card_cvc = 'The security code is 3 or 4 digits.'

  const name = form.card_name?.trim()
  if (name && name.length > 100) errors.card_name = 'The name on the card is at most 100 characters.'

  if (Object.keys(errors).length > 0) return { errors }
  return { card: { number, expMonth, expYear, cvc, name: name || undefined } }
}
