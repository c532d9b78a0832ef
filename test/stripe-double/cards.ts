// Stripe's test cards that the hosted page takes (docs.stripe.com/testing), and what each one does.
import { type CardDecline, DECLINES } from './errors.js'
import type { CardAftermath, CardBrand } from './model.js'

export interface TestCard {
  number: string
  brand: CardBrand
  label: string
  outcome: 'succeeds' | 'declines' | 'requires_3ds'
  decline?: CardDecline
  aftermath: CardAftermath
}

const PLAIN: CardAftermath = { refund: 'succeeds', disputeOpens: false }

export const TEST_CARDS: readonly TestCard[] = [
  { number: '4242424242424242', brand: 'visa', label: 'succeeds', outcome: 'succeeds', aftermath: PLAIN },
  {
    number: '5555555555554444',
    brand: 'mastercard',
    label: 'succeeds',
    outcome: 'succeeds',
    aftermath: PLAIN,
  },
  {
    number: '4000000000000002',
    brand: 'visa',
    label: 'declined (generic_decline)',
    outcome: 'declines',
    decline: DECLINES.generic,
    aftermath: PLAIN,
  },
  {
    number: '4000000000009995',
    brand: 'visa',
    label: 'declined (insufficient_funds)',
    outcome: 'declines',
    decline: DECLINES.insufficientFunds,
    aftermath: PLAIN,
  },
  {
    number: '4000002760003184',
    brand: 'visa',
    label: 'asks for 3-D Secure',
    outcome: 'requires_3ds',
    aftermath: PLAIN,
  },
  {
    number: '4000000000005126',
    brand: 'visa',
    label: 'succeeds; a refund of it fails later',
    outcome: 'succeeds',
    aftermath: { refund: 'fails_later', disputeOpens: false },
  },
  {
    number: '4000000000007726',
    brand: 'visa',
    label: 'succeeds; a refund of it is pending, then succeeds',
    outcome: 'succeeds',
    aftermath: { refund: 'pending_then_succeeds', disputeOpens: false },
  },
  {
    number: '4000000000000259',
    brand: 'visa',
    label: 'succeeds; a dispute opens shortly after',
    outcome: 'succeeds',
    aftermath: { refund: 'succeeds', disputeOpens: true },
  },
]

function luhn(number: string): boolean {
  let sum = 0
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i])
    if (i % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}

/** The test card for what the buyer typed (spaces allowed), or the message Stripe's page shows instead. */
export function findTestCard(typed: string): TestCard | { error: string } {
  const number = typed.replace(/[\s-]/g, '')
  if (number === '') return { error: 'Your card number is incomplete.' }
  if (!/^\d{12,19}$/.test(number) || !luhn(number)) return { error: 'Your card number is invalid.' }
  const card = TEST_CARDS.find((c) => c.number === number)
  if (!card) {
    return {
      error:
        'Your card was declined. Your request was in test mode, but used a non test card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
    }
  }
  return card
}
