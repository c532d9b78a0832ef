// The sandbox behind the provider port: what paylinks' core sees of the simulated provider, exactly as it
// would see a real one — sessions with a page of their own, lookups, refunds, and signed events.
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import {
  EventSignatureError,
  type PaymentProvider,
  type PaymentSnapshot,
  ProviderError,
  type ProviderEvent,
  type ProviderPaymentStatus,
  type ProviderUpdate,
  type SetupSnapshot,
} from '../payments/provider.js'
import {
  type DisputeView,
  type RefundView,
  type SandboxEvent,
  SandboxRefusal,
  type SandboxService,
  SandboxUnavailable,
  type SessionView,
} from './service.js'

const PAYMENT_STATUS: Record<SessionView['status'], ProviderPaymentStatus> = {
  open: 'pending',
  requires_action: 'requires_action',
  processing: 'processing',
  complete: 'succeeded',
  failed: 'failed',
  expired: 'canceled',
}

function paymentSnapshot(s: SessionView): PaymentSnapshot {
  return {
    status: PAYMENT_STATUS[s.status],
    providerPaymentId: s.payment,
    card: s.card
      ? { brand: s.card.brand, last4: s.card.last4, expMonth: s.card.exp_month, expYear: s.card.exp_year }
      : null,
    failure: s.failure,
  }
}

function setupSnapshot(s: SessionView): SetupSnapshot {
  const status =
    s.status === 'complete'
      ? 'succeeded'
      : s.status === 'failed'
        ? 'failed'
        : s.status === 'expired'
          ? 'canceled'
          : 'pending'
  return {
    status,
    method:
      s.payment_method && s.card
        ? {
            providerRef: s.payment_method,
            card: {
              brand: s.card.brand,
              last4: s.card.last4,
              expMonth: s.card.exp_month,
              expYear: s.card.exp_year,
            },
          }
        : null,
    failure: s.failure,
  }
}

/** Turns the sandbox's own errors into the port's: an outage leaves objects unknown. */
async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof SandboxUnavailable) throw new ProviderError('unavailable', error.message)
    if (error instanceof SandboxRefusal) throw new ProviderError('refused', error.message, error.code)
    throw error
  }
}

export class SandboxProvider implements PaymentProvider {
  readonly name = 'sandbox' as const
  readonly label = 'Sandbox'
  /** The sandbox's pages are served by paylinks itself. */
  readonly pageOrigin = undefined

  constructor(private readonly sandbox: SandboxService) {}

  amountProblem(): string | undefined {
    return undefined
  }

  async startPayment(
    account: Parameters<PaymentProvider['startPayment']>[0],
    input: Parameters<PaymentProvider['startPayment']>[1],
  ) {
    const session = await call(() =>
      this.sandbox.createSession({
        accountId: account.id,
        mode: 'payment',
        reference: input.reference,
        amount: input.amount,
        currency: input.currency,
        description: input.description,
        email: input.email,
        returnUrl: input.returnUrl,
        cancelUrl: input.cancelUrl,
        expiresAt: input.expiresAt,
      }),
    )
    return { providerRef: session.id, redirectUrl: session.url, snapshot: paymentSnapshot(session) }
  }

  async retrievePayment(
    account: Parameters<PaymentProvider['retrievePayment']>[0],
    payment: Parameters<PaymentProvider['retrievePayment']>[1],
  ) {
    if (!payment.providerRef) throw new ProviderError('refused', 'the payment has no session at the sandbox')
    const ref = payment.providerRef
    return paymentSnapshot(await call(() => this.sandbox.retrieveSession(account.id, ref)))
  }

  async cancelPayment(
    account: Parameters<PaymentProvider['cancelPayment']>[0],
    payment: Parameters<PaymentProvider['cancelPayment']>[1],
  ) {
    if (!payment.providerRef) throw new ProviderError('refused', 'the payment has no session at the sandbox')
    const ref = payment.providerRef
    return paymentSnapshot(await call(() => this.sandbox.expireSession(account.id, ref)))
  }

  async refund(
    account: Parameters<PaymentProvider['refund']>[0],
    input: Parameters<PaymentProvider['refund']>[1],
  ) {
    if (!input.payment.providerRef)
      throw new ProviderError('refused', 'the payment has no session at the sandbox')
    const session = input.payment.providerRef
    const refund = await call(() =>
      this.sandbox.createRefund(account.id, { session, amount: input.amount, reference: input.reference }),
    )
    return {
      providerRef: refund.id,
      status: refund.status,
      amount: refund.amount,
      failureReason: refund.failure_reason,
    }
  }

  async retrieveRefund(
    account: Parameters<PaymentProvider['retrieveRefund']>[0],
    refund: { reference: string; providerRef: string },
  ) {
    const found = await call(() => this.sandbox.retrieveRefund(account.id, refund.providerRef))
    return {
      providerRef: found.id,
      status: found.status,
      amount: found.amount,
      failureReason: found.failure_reason,
    }
  }

  async startSetup(
    account: Parameters<PaymentProvider['startSetup']>[0],
    input: Parameters<PaymentProvider['startSetup']>[1],
  ) {
    const session = await call(() =>
      this.sandbox.createSession({
        accountId: account.id,
        mode: 'setup',
        reference: input.reference,
        description: input.description,
        email: input.email,
        returnUrl: input.returnUrl,
        cancelUrl: input.cancelUrl,
        expiresAt: input.expiresAt,
      }),
    )
    return { providerRef: session.id, redirectUrl: session.url }
  }

  async retrieveSetup(
    account: Parameters<PaymentProvider['retrieveSetup']>[0],
    setup: { reference: string; providerRef: string },
  ) {
    return setupSnapshot(await call(() => this.sandbox.retrieveSession(account.id, setup.providerRef)))
  }

  async parseEvent(
    account: Parameters<PaymentProvider['parseEvent']>[0],
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<ProviderEvent> {
    if (!account.webhookSecret) throw new EventSignatureError('the account has no signing secret')
    const flat = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? (v[0] ?? '') : (v ?? '')]),
    )
    let event: unknown
    try {
      event = new Webhook(account.webhookSecret).verify(rawBody.toString('utf8'), flat)
    } catch (error) {
      if (error instanceof WebhookVerificationError)
        throw new EventSignatureError(`signature: ${error.message}`)
      throw error
    }
    const parsed = await this.readEvent(account, event)
    if ((event as SandboxEvent).account !== account.id)
      throw new EventSignatureError('the event is for another account')
    return parsed
  }

  async readEvent(_account: unknown, payload: unknown): Promise<ProviderEvent> {
    const event = payload as SandboxEvent
    return { id: event.id, type: event.type, payload: event, updates: updatesOf(event) }
  }
}

function updatesOf(event: SandboxEvent): ProviderUpdate[] {
  const object = event.data.object
  switch (object.object) {
    case 'sandbox.session':
      if (object.mode === 'setup') {
        return [
          {
            kind: 'setup',
            reference: object.reference,
            providerRef: object.id,
            snapshot: setupSnapshot(object),
          },
        ]
      }
      return [
        {
          kind: 'payment',
          reference: object.reference,
          providerRef: object.id,
          providerPaymentId: object.payment,
          snapshot: paymentSnapshot(object),
        },
      ]
    case 'sandbox.refund': {
      const refund = object as RefundView
      if (refund.status === 'pending') return []
      return [
        {
          kind: 'refund',
          reference: refund.reference,
          payment: { reference: refund.session_reference, providerPaymentId: refund.payment },
          snapshot: {
            providerRef: refund.id,
            status: refund.status,
            amount: refund.amount,
            failureReason: refund.failure_reason,
          },
          currency: refund.currency ?? '',
          reason: null,
        },
      ]
    }
    case 'sandbox.dispute': {
      const dispute = object as DisputeView
      return [
        {
          kind: 'dispute',
          payment: { reference: dispute.session_reference, providerPaymentId: dispute.payment },
          providerRef: dispute.id,
          status: dispute.status,
          amount: dispute.amount,
          currency: dispute.currency ?? '',
          reason: dispute.reason,
        },
      ]
    }
    default:
      return []
  }
}
