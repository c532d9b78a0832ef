// The payment provider interface: the built-in sandbox implements it, and real providers (Stripe first)
// plug in behind it. Card data passes through in memory only; what is kept is the CardSummary.

export interface CardInput {
  /** Digits only. */
  number: string
  expMonth: number
  /** Four digits. */
  expYear: number
  cvc: string
  name?: string | undefined
}

export interface CardSummary {
  brand: string
  last4: string
  expMonth: number
  expYear: number
}

export interface ChargeRequest {
  /** Our payment id: the provider's idempotency key, so a retried call never charges twice. */
  paymentId: string
  amount: number
  currency: string
  description: string
  card: CardInput
}

export type ChargeResult =
  | { status: 'succeeded'; reference: string; card: CardSummary }
  | { status: 'declined'; code: string; message: string; card: CardSummary }

export interface SaveCardResult {
  status: 'saved' | 'declined'
  reference: string | null
  card: CardSummary
  code?: string
  message?: string
}

export interface PaymentProvider {
  readonly name: string
  /**
   * Tells whether the card can be sent to this provider at all; a message for the buyer when not
   * (e.g. the sandbox takes test cards only). Checked before a payment attempt is recorded.
   */
  rejectCard(card: CardInput): string | undefined
  charge(request: ChargeRequest): Promise<ChargeResult>
  saveCard(card: CardInput, idempotencyKey: string): Promise<SaveCardResult>
}
