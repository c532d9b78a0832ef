// What the double remembers: accounts and their keys, and Stripe's objects as records from which the API's
// JSON is rendered (render.ts), so that derived fields such as a charge's `amount_refunded` never drift.

export type Mode = 'test' | 'live'

export interface WebhookEndpoint {
  url: string
  /** Event types sent to the endpoint; `*` for all, as Stripe's `enabled_events`. */
  enabledEvents: string[]
}

export interface Account {
  id: string
  created: number
  country: string
  defaultCurrency: string
  displayName: string
  email: string
  /** The version events are rendered for, as an account's default API version. */
  apiVersion: string
  /** Secret and restricted keys, each for test or live mode. */
  keys: { key: string; mode: Mode }[]
  /** The `whsec_` secret events are signed with; it outlives changes of the endpoint's URL. */
  webhookSecret: string
  webhook: WebhookEndpoint | null
}

interface Base {
  id: string
  account: string
  livemode: boolean
  created: number
}

export interface LineItemRecord {
  id: string
  priceId: string
  productId: string
  name: string
  description: string | null
  images: string[]
  productMetadata: Record<string, string>
  currency: string
  unitAmount: number
  quantity: number
}

export interface SessionRecord extends Base {
  object: 'checkout.session'
  mode: 'payment' | 'setup'
  status: 'open' | 'complete' | 'expired'
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required'
  currency: string | null
  lineItems: LineItemRecord[]
  customerEmail: string | null
  clientReferenceId: string | null
  metadata: Record<string, string>
  successUrl: string
  cancelUrl: string | null
  expiresAt: number
  locale: string | null
  submitType: string | null
  billingAddressCollection: string | null
  customerCreation: string | null
  allowPromotionCodes: boolean | null
  allowedPaymentMethodTypes: string[] | null
  paymentIntentData: {
    metadata: Record<string, string>
    description: string | null
    receiptEmail: string | null
    statementDescriptor: string | null
    statementDescriptorSuffix: string | null
    captureMethod: 'automatic' | 'automatic_async'
  }
  setupIntentData: { metadata: Record<string, string>; description: string | null }
  paymentIntent: string | null
  setupIntent: string | null
  /** The buyer as the page collected them, once they paid or saved a method. */
  customerDetails: { email: string; name: string | null } | null
}

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover'

export interface PaymentMethodRecord extends Base {
  object: 'payment_method'
  type: 'card' | 'sepa_debit'
  card: { brand: CardBrand; last4: string; expMonth: number; expYear: number; fingerprint: string } | null
  sepaDebit: { last4: string; bankCode: string; country: string; fingerprint: string } | null
  billingEmail: string | null
  billingName: string | null
  /** What the test card it was made from does after a charge (nothing, for bank debits). */
  aftermath: CardAftermath
}

export interface PaymentError {
  type: 'card_error' | 'invalid_request_error'
  code: string
  declineCode: string | null
  message: string
  charge: string | null
  paymentMethod: string | null
}

export interface PaymentIntentRecord extends Base {
  object: 'payment_intent'
  amount: number
  currency: string
  status: 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled'
  metadata: Record<string, string>
  description: string | null
  receiptEmail: string | null
  statementDescriptor: string | null
  statementDescriptorSuffix: string | null
  captureMethod: 'automatic' | 'automatic_async'
  paymentMethod: string | null
  paymentMethodTypes: string[]
  latestCharge: string | null
  lastPaymentError: PaymentError | null
  /** The 3-D Secure challenge the buyer must pass, while `requires_action`. */
  nextActionUrl: string | null
  canceledAt: number | null
  cancellationReason: string | null
  session: string
}

/** How a test card behaves after a successful charge. */
export interface CardAftermath {
  refund: 'succeeds' | 'fails_later' | 'pending_then_succeeds'
  disputeOpens: boolean
}

export interface ChargeRecord extends Base {
  object: 'charge'
  amount: number
  currency: string
  status: 'succeeded' | 'pending' | 'failed'
  paymentIntent: string
  paymentMethod: string
  failureCode: string | null
  failureMessage: string | null
  declineCode: string | null
  threeDSecure: boolean
  billingEmail: string | null
  billingName: string | null
  balanceTransaction: string | null
}

export interface RefundRecord extends Base {
  object: 'refund'
  amount: number
  currency: string
  charge: string
  paymentIntent: string
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null
  metadata: Record<string, string>
  status: 'pending' | 'succeeded' | 'failed' | 'canceled'
  failureReason: string | null
  balanceTransaction: string
}

export interface SetupIntentRecord extends Base {
  object: 'setup_intent'
  status: 'requires_payment_method' | 'requires_action' | 'succeeded' | 'canceled'
  paymentMethod: string | null
  metadata: Record<string, string>
  description: string | null
  paymentMethodTypes: string[]
  lastSetupError: PaymentError | null
  session: string
}

export interface DisputeRecord extends Base {
  object: 'dispute'
  amount: number
  currency: string
  charge: string
  paymentIntent: string
  reason: string
  status: 'needs_response' | 'under_review' | 'won' | 'lost'
  dueBy: number
}

export type StripeRecord =
  | SessionRecord
  | PaymentIntentRecord
  | ChargeRecord
  | RefundRecord
  | PaymentMethodRecord
  | SetupIntentRecord
  | DisputeRecord

export type RecordOf<T extends StripeRecord['object']> = Extract<StripeRecord, { object: T }>

/** Every record by id, plus the double's clock (seconds, movable forward by tests). */
export class Store {
  readonly accounts = new Map<string, Account>()
  readonly records = new Map<string, StripeRecord>()
  private clockOffset = 0

  /** Unix seconds on the double's clock. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffset
  }

  advanceClock(seconds: number): void {
    this.clockOffset += seconds
  }

  add<T extends StripeRecord>(record: T): T {
    this.records.set(record.id, record)
    return record
  }

  /** The record of that type in the account, whatever its mode (callers check the mode). */
  find<T extends StripeRecord['object']>(object: T, id: string, account: string): RecordOf<T> | undefined {
    const record = this.records.get(id)
    if (!record || record.object !== object || record.account !== account) return undefined
    return record as RecordOf<T>
  }

  all<T extends StripeRecord['object']>(object: T): RecordOf<T>[] {
    return [...this.records.values()].filter((r): r is RecordOf<T> => r.object === object)
  }

  accountByKey(key: string): { account: Account; mode: Mode } | undefined {
    for (const account of this.accounts.values()) {
      const found = account.keys.find((k) => k.key === key)
      if (found) return { account, mode: found.mode }
    }
    return undefined
  }

  refundsOf(chargeId: string): RefundRecord[] {
    return this.all('refund').filter((r) => r.charge === chargeId)
  }

  /** What a charge has given back: refunds that succeeded or are on their way. */
  amountRefunded(chargeId: string): number {
    return this.refundsOf(chargeId)
      .filter((r) => r.status === 'succeeded' || r.status === 'pending')
      .reduce((sum, r) => sum + r.amount, 0)
  }

  disputesOf(chargeId: string): DisputeRecord[] {
    return this.all('dispute').filter((d) => d.charge === chargeId)
  }
}
