// The payment provider port. A provider takes the card on its own page, reports outcomes, refunds and
// disputes through signed events, and answers lookups; paylinks' core depends on this shape only. The
// built-in sandbox (src/modules/sandbox) and Stripe implement it.
import type { ProviderName } from '../../lib/schema.js'

/** A provider account with its credentials opened, in memory only for the length of a call. */
export interface ProviderAccount {
  id: string
  merchantId: string
  provider: ProviderName
  livemode: boolean
  secretKey: string | null
  webhookSecret: string | null
}

export interface CardSummary {
  brand: string
  last4: string
  expMonth: number
  expYear: number
}

export interface LineItem {
  name: string
  quantity: number
  /** Minor units of the payment's currency. */
  unitAmount: number
}

export interface StartPaymentInput {
  /** Our payment id: the provider's idempotency key and the reference its events carry back. */
  reference: string
  orderId: string
  amount: number
  currency: string
  lineItems: LineItem[]
  email: string | null
  description: string
  /** Where the provider sends the buyer after paying (or failing), and after giving up. */
  returnUrl: string
  cancelUrl: string
  /** When the session must close at the latest: the order's own expiry. */
  expiresAt: Date
  /** When our payment started: a start sent again later asks exactly what the first one asked. */
  startedAt: Date
}

/** Where the buyer goes to pay: the provider's page of this session. */
export interface StartedPayment {
  providerRef: string
  redirectUrl: string
  snapshot: PaymentSnapshot
}

export type ProviderPaymentStatus =
  | 'pending'
  | 'requires_action'
  | 'processing'
  | 'succeeded'
  | 'failed'
  | 'canceled'

/** What the provider says of a payment, whole: applying the same snapshot twice changes nothing. */
export interface PaymentSnapshot {
  status: ProviderPaymentStatus
  /** The money movement (PaymentIntent, charge) once the provider has one. */
  providerPaymentId?: string | null | undefined
  card?: CardSummary | null | undefined
  failure?: { code: string; message: string } | null | undefined
  /** What was taken, when it differs from what was asked (never more is recorded than the order's total). */
  amount?: number | undefined
  currency?: string | undefined
}

/** Our view of a payment, as the port needs it to find it at the provider. */
export interface PaymentHandle {
  reference: string
  providerRef: string | null
  providerPaymentId: string | null
}

export interface RefundInput {
  /** Our refund id: idempotency key and the reference its events carry back. */
  reference: string
  payment: PaymentHandle
  amount: number
  currency: string
  reason: string | null
}

export type ProviderRefundStatus = 'pending' | 'succeeded' | 'failed' | 'canceled'

export interface RefundSnapshot {
  providerRef: string
  status: ProviderRefundStatus
  amount: number
  failureReason?: string | null | undefined
}

export interface StartSetupInput {
  /** Our checkout-setup id. */
  reference: string
  email: string | null
  description: string
  returnUrl: string
  cancelUrl: string
  expiresAt: Date
}

export type ProviderSetupStatus = 'pending' | 'succeeded' | 'failed' | 'canceled'

export interface SetupSnapshot {
  status: ProviderSetupStatus
  /** The saved payment method at the provider and what may be shown of it. */
  method?: { providerRef: string; card: CardSummary } | null | undefined
  failure?: { code: string; message: string } | null | undefined
}

export interface StartedSetup {
  providerRef: string
  redirectUrl: string
}

/**
 * A verified provider event, turned into what it means for paylinks. `reference` fields carry our own
 * ids where the provider echoes them back; otherwise the provider's ids locate the object.
 */
export type ProviderUpdate =
  | {
      kind: 'payment'
      reference: string | null
      providerRef: string | null
      providerPaymentId: string | null
      snapshot: PaymentSnapshot
    }
  | {
      kind: 'refund'
      /** Our refund id when paylinks asked for the refund; null for one made at the provider. */
      reference: string | null
      payment: { reference: string | null; providerPaymentId: string | null }
      snapshot: RefundSnapshot
      currency: string
      reason: string | null
    }
  | {
      kind: 'dispute'
      payment: { reference: string | null; providerPaymentId: string | null }
      providerRef: string
      status: 'open' | 'won' | 'lost'
      amount: number
      currency: string
      reason: string | null
    }
  | {
      kind: 'setup'
      reference: string | null
      providerRef: string
      snapshot: SetupSnapshot
    }

export interface ProviderEvent {
  /** The provider's event id: the inbox stores each once. */
  id: string
  type: string
  /** The event as received, kept in the inbox. */
  payload: unknown
  /** Empty for event types paylinks does not act on: recorded and ignored. */
  updates: ProviderUpdate[]
}

/** Why a provider call did not give an answer; `unavailable` leaves the object `unknown`. */
export class ProviderError extends Error {
  constructor(
    readonly kind: 'unavailable' | 'refused' | 'unauthorized',
    message: string,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'ProviderError'
  }
}

/** A provider event whose signature does not verify: a 400, and nothing is stored. */
export class EventSignatureError extends Error {
  constructor(message = 'the event signature does not verify') {
    super(message)
    this.name = 'EventSignatureError'
  }
}

export interface PaymentProvider {
  readonly name: ProviderName
  /** A label for people: 'Sandbox', 'Stripe'. */
  readonly label: string
  /**
   * The origin of the provider's own pages, where paylinks' forms send the buyer (Content-Security-Policy
   * form-action); undefined when they are paylinks' own origin.
   */
  readonly pageOrigin: string | undefined
  /** The event types to enable where the account's events URL is registered at the provider. */
  readonly eventTypes?: readonly string[]
  /** Why the provider would refuse this amount before the buyer leaves (e.g. Stripe's minimums). */
  amountProblem(amount: number, currency: string): string | undefined
  /**
   * Checks credentials a merchant saves with a cheap read at the provider, before anything is stored, and
   * answers the provider's id of the account they open. Providers without credentials leave it out.
   */
  verifyCredentials?(credentials: {
    secretKey: string
  }): Promise<{ externalAccountId: string; livemode: boolean }>
  startPayment(account: ProviderAccount, input: StartPaymentInput): Promise<StartedPayment>
  retrievePayment(account: ProviderAccount, payment: PaymentHandle): Promise<PaymentSnapshot>
  /** Closes an open session; answers what became of it (a session completed meanwhile stays succeeded). */
  cancelPayment(account: ProviderAccount, payment: PaymentHandle): Promise<PaymentSnapshot>
  refund(account: ProviderAccount, input: RefundInput): Promise<RefundSnapshot>
  /** Looks a refund up at the provider (the reconciler's, when its events are late or lost). */
  retrieveRefund(
    account: ProviderAccount,
    refund: { reference: string; providerRef: string },
  ): Promise<RefundSnapshot>
  startSetup(account: ProviderAccount, input: StartSetupInput): Promise<StartedSetup>
  retrieveSetup(
    account: ProviderAccount,
    setup: { reference: string; providerRef: string },
  ): Promise<SetupSnapshot>
  /**
   * Verifies and reads an event from its raw body and headers; throws EventSignatureError. It runs before
   * the inbox's transaction, so a provider may look objects up to complete what the event says (a failed
   * lookup is a ProviderError: the event is answered 5xx and the provider sends it again later).
   */
  parseEvent(
    account: ProviderAccount,
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<ProviderEvent>
  /** Reads an event verified before and kept in the inbox (a deferred one, applied again later). */
  readEvent(account: ProviderAccount, payload: unknown): Promise<ProviderEvent>
}
