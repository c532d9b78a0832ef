// Stripe behind the provider port: Checkout Sessions (payment and setup mode) on Stripe's own page,
// lookups of the session with what it paid with, expiry, refunds on the PaymentIntent, and events
// verified with Stripe's signature over the raw body. Each call uses the account's own secret key, our
// ids as idempotency keys, and the API version paylinks is pinned to.
import type Stripe from 'stripe'
import {
  EventSignatureError,
  type PaymentHandle,
  type PaymentProvider,
  type ProviderAccount,
  ProviderError,
  type ProviderEvent,
  type ProviderUpdate,
  type RefundInput,
  type StartPaymentInput,
  type StartSetupInput,
} from '../payments/provider.js'
import { amountProblem, stepProblem, toStripeAmount } from './amounts.js'
import { StripeClients, stripeCall, stripeWebhooks } from './client.js'
import { EVENT_TYPES, type Lookups, updatesOf } from './events.js'
import {
  idOf,
  PAYMENT_EXPAND,
  paymentSnapshot,
  refundSnapshot,
  SETUP_EXPAND,
  setupSnapshot,
} from './objects.js'

export interface StripeProviderOptions {
  /** STRIPE_API_URL: a Stripe double's base URL; unset is Stripe's own API. */
  apiUrl?: string | undefined
  /** How long one API call may take (a buyer is waiting on most). */
  timeoutMs?: number
}

/** Stripe's hosted Checkout pages; a double serves its own at its API's origin. */
const CHECKOUT_ORIGIN = 'https://checkout.stripe.com'

/**
 * Stripe takes a session's `expires_at` from 30 minutes to 24 hours after the session is made. Counted from
 * when our payment started (not from now), the value is the same when the start is sent again later with
 * the same idempotency key, and a first attempt that never reached Stripe still fits for half an hour. An
 * order that expires sooner closes its session itself (the sweep expires it at Stripe first).
 */
const SESSION_MIN_S = 60 * 60
const SESSION_MAX_S = 23 * 60 * 60

function sessionExpiry(wanted: Date, from: Date): number {
  const start = Math.floor(from.getTime() / 1000)
  const want = Math.floor(wanted.getTime() / 1000)
  return Math.min(Math.max(want, start + SESSION_MIN_S), start + SESSION_MAX_S)
}

/** paylinks' refund reasons that Stripe knows; the others are sent without one. */
const REFUND_REASONS = new Set(['duplicate', 'fraudulent', 'requested_by_customer'])

/** Stripe's long explanation of a signature that does not verify, in one sentence. */
function signatureProblem(message: string): string {
  if (/tolerance/i.test(message)) return 'the signature is older than 5 minutes (a replayed event?)'
  if (/No signatures found/i.test(message))
    return 'no signature matches the body: the saved signing secret is not this endpoint’s, or the body was changed on the way'
  return 'the header is not a Stripe signature (t=…,v1=…)'
}

export class StripeProvider implements PaymentProvider {
  readonly name = 'stripe' as const
  readonly label = 'Stripe'
  readonly pageOrigin: string
  readonly eventTypes = EVENT_TYPES
  private readonly clients: StripeClients

  constructor(options: StripeProviderOptions = {}) {
    this.pageOrigin = options.apiUrl ? new URL(options.apiUrl).origin : CHECKOUT_ORIGIN
    this.clients = new StripeClients({ apiUrl: options.apiUrl, timeoutMs: options.timeoutMs ?? 20_000 })
  }

  private async client(account: Pick<ProviderAccount, 'secretKey'>): Promise<Stripe> {
    if (!account.secretKey)
      throw new ProviderError('unauthorized', 'the Stripe account has no secret key saved')
    return this.clients.for(account.secretKey)
  }

  amountProblem(amount: number, currency: string): string | undefined {
    return amountProblem(amount, currency)
  }

  async verifyCredentials(credentials: { secretKey: string }) {
    const stripe = await this.clients.for(credentials.secretKey)
    const account = await stripeCall('checking the key', () => stripe.accounts.retrieveCurrent())
    // The mode is the key's: a live key reaches the account's live data, a test key its test data.
    return { externalAccountId: account.id, livemode: /^(sk|rk)_live_/.test(credentials.secretKey) }
  }

  async startPayment(account: ProviderAccount, input: StartPaymentInput) {
    const currency = input.currency.toLowerCase()
    for (const line of input.lineItems) {
      // Stripe checks every line's price, not only the total amountProblem looked at.
      const problem = stepProblem(line.unitAmount, input.currency, `the price of ${line.name}`)
      if (problem) throw new ProviderError('refused', problem, 'amount_not_supported')
    }
    const metadata = { order_id: input.orderId, payment_id: input.reference }
    const stripe = await this.client(account)
    const session = await stripeCall('creating the payment session', () =>
      stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: input.lineItems.map((line) => ({
            quantity: line.quantity,
            price_data: {
              currency,
              unit_amount: toStripeAmount(line.unitAmount, input.currency) as number,
              product_data: { name: line.name },
            },
          })),
          currency,
          ...(input.email ? { customer_email: input.email } : {}),
          client_reference_id: input.orderId,
          metadata,
          payment_intent_data: { description: input.description, metadata },
          success_url: input.returnUrl,
          cancel_url: input.cancelUrl,
          expires_at: sessionExpiry(input.expiresAt, input.startedAt),
        },
        { idempotencyKey: input.reference },
      ),
    )
    return {
      providerRef: session.id,
      // A replayed answer of a session closed since has no page: the buyer comes back and it is looked up.
      redirectUrl: session.url ?? input.cancelUrl,
      snapshot: paymentSnapshot(session),
    }
  }

  private sessionRef(payment: PaymentHandle): string {
    if (!payment.providerRef)
      throw new ProviderError('refused', 'the payment has no Checkout Session at Stripe')
    return payment.providerRef
  }

  async retrievePayment(account: ProviderAccount, payment: PaymentHandle) {
    const ref = this.sessionRef(payment)
    const stripe = await this.client(account)
    const session = await stripeCall('looking the payment up', () =>
      stripe.checkout.sessions.retrieve(ref, { expand: PAYMENT_EXPAND }),
    )
    return paymentSnapshot(session)
  }

  /** Expires the open session; a session no longer open (paid meanwhile, say) is answered as it is. */
  async cancelPayment(account: ProviderAccount, payment: PaymentHandle) {
    const ref = this.sessionRef(payment)
    const stripe = await this.client(account)
    try {
      const session = await stripeCall('closing the payment session', () =>
        stripe.checkout.sessions.expire(
          ref,
          { expand: PAYMENT_EXPAND },
          { idempotencyKey: `${payment.reference}-expire` },
        ),
      )
      return paymentSnapshot(session)
    } catch (error) {
      if (!(error instanceof ProviderError) || error.kind !== 'refused') throw error
      return this.retrievePayment(account, payment)
    }
  }

  async refund(account: ProviderAccount, input: RefundInput) {
    const problem = stepProblem(input.amount, input.currency, 'the refund')
    if (problem) throw new ProviderError('refused', problem, 'amount_not_supported')
    const stripe = await this.client(account)
    let intent = input.payment.providerPaymentId
    if (!intent) intent = idOf((await this.session(stripe, this.sessionRef(input.payment))).payment_intent)
    if (!intent) throw new ProviderError('refused', 'the payment has no PaymentIntent at Stripe to refund')
    const paymentIntent = intent
    const refund = await stripeCall('refunding', () =>
      stripe.refunds.create(
        {
          payment_intent: paymentIntent,
          amount: toStripeAmount(input.amount, input.currency) as number,
          ...(input.reason && REFUND_REASONS.has(input.reason)
            ? { reason: input.reason as Stripe.RefundCreateParams.Reason }
            : {}),
          metadata: { refund_id: input.reference, payment_id: input.payment.reference },
        },
        { idempotencyKey: input.reference },
      ),
    )
    return refundSnapshot(refund)
  }

  async retrieveRefund(account: ProviderAccount, refund: { reference: string; providerRef: string }) {
    const stripe = await this.client(account)
    const found = await stripeCall('looking the refund up', () => stripe.refunds.retrieve(refund.providerRef))
    return refundSnapshot(found)
  }

  private session(stripe: Stripe, ref: string, expand = PAYMENT_EXPAND) {
    return stripeCall('looking the session up', () => stripe.checkout.sessions.retrieve(ref, { expand }))
  }

  async startSetup(account: ProviderAccount, input: StartSetupInput) {
    const metadata = { setup_id: input.reference }
    const stripe = await this.client(account)
    const session = await stripeCall('creating the setup session', () =>
      stripe.checkout.sessions.create(
        {
          mode: 'setup',
          // A card: what the portal shows of a saved method is its brand, last 4 digits and expiry.
          allowed_payment_method_types: ['card'],
          ...(input.email ? { customer_email: input.email } : {}),
          client_reference_id: input.reference,
          metadata,
          setup_intent_data: { description: input.description, metadata },
          success_url: input.returnUrl,
          cancel_url: input.cancelUrl,
          expires_at: sessionExpiry(input.expiresAt, new Date()),
        },
        { idempotencyKey: input.reference },
      ),
    )
    if (!session.url) throw new ProviderError('refused', 'Stripe answered a setup session without a page')
    return { providerRef: session.id, redirectUrl: session.url }
  }

  async retrieveSetup(account: ProviderAccount, setup: { reference: string; providerRef: string }) {
    return setupSnapshot(await this.session(await this.client(account), setup.providerRef, SETUP_EXPAND))
  }

  async parseEvent(
    account: ProviderAccount,
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<ProviderEvent> {
    if (!account.webhookSecret) throw new EventSignatureError('the account has no signing secret')
    const header = headers['stripe-signature']
    const signature = Array.isArray(header) ? header[0] : header
    if (!signature) throw new EventSignatureError('Stripe-Signature: the header is missing')
    const { webhooks, SignatureError } = await stripeWebhooks()
    let event: Stripe.Event
    try {
      event = webhooks.constructEvent(rawBody, signature, account.webhookSecret)
    } catch (error) {
      if (error instanceof SignatureError)
        throw new EventSignatureError(`Stripe-Signature: ${signatureProblem(error.message)}`)
      throw error
    }
    // An event of the other mode came to this endpoint by a mistake of configuration: recorded, not applied.
    const updates =
      event.livemode === account.livemode ? await updatesOf(event, await this.lookups(account)) : []
    // What the lookups found is kept with the event, so that applying it again later needs no call.
    return { id: event.id, type: event.type, payload: { event, updates }, updates }
  }

  async readEvent(_account: ProviderAccount, payload: unknown): Promise<ProviderEvent> {
    const stored = payload as { event?: Stripe.Event; updates?: ProviderUpdate[] }
    if (stored.event && Array.isArray(stored.updates))
      return { id: stored.event.id, type: stored.event.type, payload, updates: stored.updates }
    const event = payload as Stripe.Event
    return { id: event.id, type: event.type, payload, updates: await updatesOf(event, undefined) }
  }

  private async lookups(account: ProviderAccount): Promise<Lookups> {
    const stripe = await this.client(account)
    return {
      paymentSession: (id) => this.session(stripe, id),
      setupSession: (id) => this.session(stripe, id, SETUP_EXPAND),
      charge: (id) =>
        stripeCall('looking the charge up', () =>
          stripe.charges.retrieve(id, { expand: ['refunds', 'payment_intent'] }),
        ),
      paymentIntent: (id) => stripeCall('looking the payment up', () => stripe.paymentIntents.retrieve(id)),
      paymentMethod: (id) =>
        stripeCall('looking the payment method up', () => stripe.paymentMethods.retrieve(id)),
    }
  }
}
