// The sandbox's test cards (DESIGN.md): what each one makes the simulated provider do.

/** How a session behaves with the card entered on the sandbox's page. */
export type Behaviour =
  | 'succeed'
  | 'decline'
  | 'insufficient_funds'
  | 'three_d_secure'
  | 'processing'
  | 'refund_fails'
  | 'dispute'
  | 'outage'

export const TEST_CARDS: Readonly<Record<string, Behaviour>> = {
  '4242424242424242': 'succeed',
  '4000000000000002': 'decline',
  '4000000000009995': 'insufficient_funds',
  '4000002760003184': 'three_d_secure',
  '4000000000000077': 'processing',
  '4000000000005126': 'refund_fails',
  '4000000000000259': 'dispute',
  '4000000000000119': 'outage',
}

export const DECLINES: Partial<Record<Behaviour, { code: string; message: string }>> = {
  decline: { code: 'card_declined', message: 'The card was declined.' },
  insufficient_funds: { code: 'insufficient_funds', message: 'The card has insufficient funds.' },
}

/** The hint the sandbox's page shows, one line per card. */
export const CARD_HINTS: [string, string][] = [
  ['4242 4242 4242 4242', 'succeeds'],
  ['4000 0000 0000 0002', 'is declined (card_declined)'],
  ['4000 0000 0000 9995', 'is declined (insufficient_funds)'],
  ['4000 0027 6000 3184', 'asks for 3-D Secure: approve or deny'],
  ['4000 0000 0000 0077', 'is processing, then succeeds a few seconds later'],
  ['4000 0000 0000 5126', 'succeeds; a refund of it fails'],
  ['4000 0000 0000 0259', 'succeeds; a dispute opens shortly after'],
  ['4000 0000 0000 0119', 'meets a simulated outage: unknown at first, then failed'],
]

/** Simulated delays, in the provider's clock. */
export const PROCESSING_MS = 3_000
export const REFUND_SETTLES_MS = 1_000
export const DISPUTE_OPENS_MS = 2_000
export const OUTAGE_MS = 10_000
