// Records → the JSON of Stripe's API reference for each object (checkout.session, payment_intent, charge,
// refund, payment_method, setup_intent, dispute, account), and `expand[]` over the fields Stripe lets expand.
// Fields the double does not model carry the value Stripe gives an integration that does not use them
// (mostly null), so the typed `stripe` client and a provider reading them see a complete object.
import { createHash } from 'node:crypto'
import { invalidRequest } from './errors.js'
import type {
  Account,
  ChargeRecord,
  DisputeRecord,
  PaymentError,
  PaymentIntentRecord,
  PaymentMethodRecord,
  RefundRecord,
  SessionRecord,
  SetupIntentRecord,
  Store,
  StripeRecord,
} from './model.js'

export type Json = Record<string, unknown>

export interface RenderContext {
  store: Store
  /** Base of the URLs the double hands out (hosted pages). */
  publicUrl: string
}

function clientSecret(id: string): string {
  return `${id}_secret_${createHash('sha256').update(id).digest('base64url').slice(0, 25)}`
}

const NO_ADDRESS = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }

function billingDetails(email: string | null, name: string | null): Json {
  return { address: NO_ADDRESS, email, name, phone: null, tax_id: null }
}

export function renderAccount(account: Account): Json {
  return {
    id: account.id,
    object: 'account',
    business_profile: {
      annual_revenue: null,
      estimated_worker_count: null,
      mcc: '5734',
      name: account.displayName,
      product_description: null,
      support_address: null,
      support_email: account.email,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: 'company',
    capabilities: { card_payments: 'active', sepa_debit_payments: 'active', transfers: 'active' },
    charges_enabled: true,
    country: account.country,
    created: account.created,
    default_currency: account.defaultCurrency,
    details_submitted: true,
    email: account.email,
    metadata: {},
    payouts_enabled: true,
    settings: {
      dashboard: { display_name: account.displayName, timezone: 'Etc/UTC' },
      payments: { statement_descriptor: account.displayName.toUpperCase().slice(0, 22) },
    },
    type: 'standard',
  }
}

function lineItems(session: SessionRecord): Json {
  return {
    object: 'list',
    data: session.lineItems.map((item) => ({
      id: item.id,
      object: 'item',
      amount_discount: 0,
      amount_subtotal: item.unitAmount * item.quantity,
      amount_tax: 0,
      amount_total: item.unitAmount * item.quantity,
      currency: item.currency,
      description: item.name,
      metadata: {},
      price: {
        id: item.priceId,
        object: 'price',
        active: false,
        billing_scheme: 'per_unit',
        created: session.created,
        currency: item.currency,
        custom_unit_amount: null,
        livemode: session.livemode,
        lookup_key: null,
        metadata: {},
        nickname: null,
        product: item.productId,
        recurring: null,
        tax_behavior: 'unspecified',
        tiers_mode: null,
        transform_quantity: null,
        type: 'one_time',
        unit_amount: item.unitAmount,
        unit_amount_decimal: String(item.unitAmount),
      },
      quantity: item.quantity,
    })),
    has_more: false,
    url: `/v1/checkout/sessions/${session.id}/line_items`,
  }
}

export function sessionTotal(session: SessionRecord): number {
  return session.lineItems.reduce((sum, item) => sum + item.unitAmount * item.quantity, 0)
}

export function paymentMethodTypes(session: SessionRecord): string[] {
  return session.allowedPaymentMethodTypes ?? (session.mode === 'payment' ? ['card', 'sepa_debit'] : ['card'])
}

export function hostedPageUrl(ctx: RenderContext, sessionId: string): string {
  return `${ctx.publicUrl}/c/pay/${sessionId}`
}

function renderSession(ctx: RenderContext, s: SessionRecord): Json {
  const payment = s.mode === 'payment'
  const total = payment ? sessionTotal(s) : null
  return {
    id: s.id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: s.allowPromotionCodes,
    allowed_payment_method_types: s.allowedPaymentMethodTypes,
    amount_subtotal: total,
    amount_total: total,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: s.billingAddressCollection,
    cancel_url: s.cancelUrl,
    client_reference_id: s.clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: s.created,
    currency: s.currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: null,
    customer_account: null,
    customer_creation: s.customerCreation ?? (payment ? 'if_required' : null),
    customer_details: s.customerDetails
      ? {
          address: null,
          business_name: null,
          email: s.customerDetails.email,
          individual_name: null,
          name: s.customerDetails.name,
          phone: null,
          tax_exempt: 'none',
          tax_ids: [],
        }
      : null,
    customer_email: s.customerEmail,
    discounts: [],
    expires_at: s.expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation: payment
      ? {
          enabled: false,
          invoice_data: {
            account_tax_ids: null,
            custom_fields: null,
            description: null,
            footer: null,
            issuer: null,
            metadata: {},
            rendering_options: null,
          },
        }
      : null,
    livemode: s.livemode,
    locale: s.locale,
    managed_payments: null,
    metadata: s.metadata,
    mode: s.mode,
    origin_context: null,
    payment_intent: s.paymentIntent,
    payment_link: null,
    payment_method_collection: payment ? 'if_required' : 'always',
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: paymentMethodTypes(s),
    payment_status: s.paymentStatus,
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: s.setupIntent,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: s.status,
    submit_type: s.submitType,
    subscription: null,
    success_url: s.successUrl,
    total_details: payment ? { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } : null,
    ui_mode: 'hosted_page',
    url: s.status === 'open' ? hostedPageUrl(ctx, s.id) : null,
    wallet_options: null,
  }
}

function renderPaymentError(ctx: RenderContext, error: PaymentError | null): Json | null {
  if (!error) return null
  const method = error.paymentMethod ? ctx.store.records.get(error.paymentMethod) : undefined
  return {
    type: error.type,
    code: error.code,
    ...(error.declineCode ? { decline_code: error.declineCode } : {}),
    doc_url: `https://docs.stripe.com/error-codes/${error.code.replaceAll('_', '-')}`,
    message: error.message,
    ...(error.charge ? { charge: error.charge } : {}),
    payment_method: method?.object === 'payment_method' ? renderPaymentMethod(method) : null,
  }
}

function renderPaymentIntent(ctx: RenderContext, pi: PaymentIntentRecord): Json {
  return {
    id: pi.id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: pi.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: pi.status === 'succeeded' ? pi.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: pi.canceledAt,
    cancellation_reason: pi.cancellationReason,
    capture_method: pi.captureMethod,
    client_secret: clientSecret(pi.id),
    confirmation_method: 'automatic',
    created: pi.created,
    currency: pi.currency,
    customer: null,
    customer_account: null,
    description: pi.description,
    excluded_payment_method_types: null,
    last_payment_error: renderPaymentError(ctx, pi.lastPaymentError),
    latest_charge: pi.latestCharge,
    livemode: pi.livemode,
    managed_payments: null,
    metadata: pi.metadata,
    next_action:
      pi.status === 'requires_action' && pi.nextActionUrl
        ? { type: 'redirect_to_url', redirect_to_url: { return_url: null, url: pi.nextActionUrl } }
        : null,
    on_behalf_of: null,
    payment_method: pi.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: pi.paymentMethodTypes,
    payment_record: null,
    processing: null,
    receipt_email: pi.receiptEmail,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: pi.statementDescriptor,
    statement_descriptor_suffix: pi.statementDescriptorSuffix,
    status: pi.status,
    transfer_data: null,
    transfer_group: null,
  }
}

function chargeOutcome(c: ChargeRecord): Json | null {
  if (c.status === 'pending') return null
  const base = {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    risk_level: 'normal',
  }
  if (c.status === 'succeeded') {
    return {
      ...base,
      network_status: 'approved_by_network',
      reason: null,
      risk_score: 20,
      seller_message: 'Payment complete.',
      type: 'authorized',
    }
  }
  return {
    ...base,
    network_status: 'declined_by_network',
    reason: c.declineCode,
    risk_score: 20,
    seller_message:
      c.declineCode === 'generic_decline' || !c.declineCode
        ? 'The bank did not return any further details with this decline.'
        : `The bank returned the decline code \`${c.declineCode}\`.`,
    type: 'issuer_declined',
  }
}

function methodDetails(c: ChargeRecord, method: PaymentMethodRecord): Json {
  if (method.card) {
    const card = method.card
    return {
      type: 'card',
      card: {
        amount_authorized: c.status === 'succeeded' ? c.amount : null,
        authorization_code: c.status === 'succeeded' ? '123456' : null,
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
        country: 'US',
        exp_month: card.expMonth,
        exp_year: card.expYear,
        extended_authorization: { status: 'disabled' },
        fingerprint: card.fingerprint,
        funding: 'credit',
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: card.last4,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: card.brand,
        network_token: { used: false },
        network_transaction_id: c.status === 'succeeded' ? c.id.slice(3, 18) : null,
        overcapture: { maximum_amount_capturable: c.amount, status: 'unavailable' },
        regulated_status: 'unregulated',
        three_d_secure: c.threeDSecure
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: `${c.id}-3ds`,
              version: '2.2.0',
            }
          : null,
        wallet: null,
      },
    }
  }
  const sepa = method.sepaDebit
  return {
    type: 'sepa_debit',
    sepa_debit: {
      bank_code: sepa?.bankCode ?? null,
      branch_code: '',
      country: sepa?.country ?? null,
      fingerprint: sepa?.fingerprint ?? null,
      last4: sepa?.last4 ?? null,
      mandate: `mandate_${c.id.slice(3)}`,
    },
  }
}

function renderCharge(ctx: RenderContext, c: ChargeRecord): Json {
  const method = ctx.store.records.get(c.paymentMethod) as PaymentMethodRecord
  const refunded = ctx.store.amountRefunded(c.id)
  return {
    id: c.id,
    object: 'charge',
    amount: c.amount,
    amount_captured: c.status === 'succeeded' ? c.amount : 0,
    amount_refunded: refunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: c.balanceTransaction,
    billing_details: billingDetails(c.billingEmail, c.billingName),
    calculated_statement_descriptor: 'STRIPE DOUBLE',
    captured: c.status !== 'failed',
    created: c.created,
    currency: c.currency,
    customer: null,
    description: null,
    disputed: ctx.store.disputesOf(c.id).length > 0,
    failure_balance_transaction: null,
    failure_code: c.failureCode,
    failure_message: c.failureMessage,
    fraud_details: {},
    livemode: c.livemode,
    metadata: {},
    on_behalf_of: null,
    outcome: chargeOutcome(c),
    paid: c.status === 'succeeded',
    payment_intent: c.paymentIntent,
    payment_method: c.paymentMethod,
    payment_method_details: methodDetails(c, method),
    radar_options: {},
    receipt_email: null,
    receipt_number: null,
    receipt_url: `${ctx.publicUrl}/receipts/${c.id}`,
    refunded: c.status === 'succeeded' && refunded === c.amount,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: c.status,
    transfer_data: null,
    transfer_group: null,
  }
}

function renderRefund(ctx: RenderContext, r: RefundRecord): Json {
  const charge = ctx.store.records.get(r.charge) as ChargeRecord
  const card =
    charge.paymentMethod && (ctx.store.records.get(charge.paymentMethod) as PaymentMethodRecord).card
  return {
    id: r.id,
    object: 'refund',
    amount: r.amount,
    balance_transaction: r.balanceTransaction,
    charge: r.charge,
    created: r.created,
    currency: r.currency,
    customer: null,
    customer_account: null,
    destination_details: card
      ? {
          card: {
            reference: r.status === 'succeeded' ? r.id.slice(3, 19).toUpperCase() : null,
            reference_status: r.status === 'succeeded' ? 'available' : 'pending',
            reference_type: 'acquirer_reference_number',
            type: 'refund',
          },
          type: 'card',
        }
      : { sepa_debit: {}, type: 'sepa_debit' },
    ...(r.status === 'failed'
      ? { failure_balance_transaction: `txn_${r.id.slice(3)}f`, failure_reason: r.failureReason }
      : {}),
    metadata: r.metadata,
    payment_intent: r.paymentIntent,
    payment_method: charge.paymentMethod,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: r.status,
    transfer_reversal: null,
  }
}

export function renderPaymentMethod(m: PaymentMethodRecord): Json {
  return {
    id: m.id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: billingDetails(m.billingEmail, m.billingName),
    ...(m.card
      ? {
          card: {
            brand: m.card.brand,
            checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
            country: 'US',
            display_brand: m.card.brand,
            exp_month: m.card.expMonth,
            exp_year: m.card.expYear,
            fingerprint: m.card.fingerprint,
            funding: 'credit',
            generated_from: null,
            last4: m.card.last4,
            networks: { available: [m.card.brand], preferred: null },
            regulated_status: 'unregulated',
            three_d_secure_usage: { supported: true },
            wallet: null,
          },
        }
      : {}),
    ...(m.sepaDebit
      ? {
          sepa_debit: {
            bank_code: m.sepaDebit.bankCode,
            branch_code: '',
            country: m.sepaDebit.country,
            fingerprint: m.sepaDebit.fingerprint,
            generated_from: { charge: null, setup_attempt: null },
            last4: m.sepaDebit.last4,
          },
        }
      : {}),
    created: m.created,
    customer: null,
    customer_account: null,
    livemode: m.livemode,
    metadata: {},
    type: m.type,
  }
}

function renderSetupIntent(ctx: RenderContext, si: SetupIntentRecord): Json {
  return {
    id: si.id,
    object: 'setup_intent',
    allowed_payment_method_types: null,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: clientSecret(si.id),
    created: si.created,
    customer: null,
    customer_account: null,
    description: si.description,
    excluded_payment_method_types: null,
    flow_directions: null,
    last_setup_error: renderPaymentError(ctx, si.lastSetupError),
    latest_attempt: null,
    livemode: si.livemode,
    mandate: null,
    metadata: si.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: si.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: si.paymentMethodTypes,
    single_use_mandate: null,
    status: si.status,
    usage: 'off_session',
  }
}

function renderDispute(ctx: RenderContext, d: DisputeRecord): Json {
  const charge = ctx.store.records.get(d.charge) as ChargeRecord
  const card = (ctx.store.records.get(charge.paymentMethod) as PaymentMethodRecord).card
  return {
    id: d.id,
    object: 'dispute',
    amount: d.amount,
    balance_transactions: [],
    charge: d.charge,
    created: d.created,
    currency: d.currency,
    enhanced_eligibility_types: [],
    evidence: {
      access_activity_log: null,
      billing_address: null,
      cancellation_policy: null,
      customer_email_address: null,
      customer_name: null,
      product_description: null,
      receipt: null,
      refund_policy: null,
      service_date: null,
      shipping_documentation: null,
      uncategorized_text: null,
    },
    evidence_details: {
      due_by: d.dueBy,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: d.livemode,
    metadata: {},
    network_reason_code: '10.4',
    payment_intent: d.paymentIntent,
    payment_method_details: card
      ? { card: { brand: card.brand, case_type: 'chargeback', network_reason_code: '10.4' }, type: 'card' }
      : { type: 'sepa_debit' },
    reason: d.reason,
    status: d.status,
  }
}

export function render(ctx: RenderContext, record: StripeRecord): Json {
  switch (record.object) {
    case 'checkout.session':
      return renderSession(ctx, record)
    case 'payment_intent':
      return renderPaymentIntent(ctx, record)
    case 'charge':
      return renderCharge(ctx, record)
    case 'refund':
      return renderRefund(ctx, record)
    case 'payment_method':
      return renderPaymentMethod(record)
    case 'setup_intent':
      return renderSetupIntent(ctx, record)
    case 'dispute':
      return renderDispute(ctx, record)
  }
}

/** The fields each object lets `expand[]` replace by the object they name (Stripe's "expandable" fields). */
const EXPANDABLE: Record<string, Record<string, 'object' | 'line_items' | 'refunds'>> = {
  'checkout.session': { payment_intent: 'object', setup_intent: 'object', line_items: 'line_items' },
  payment_intent: { latest_charge: 'object', payment_method: 'object' },
  charge: { payment_intent: 'object', refunds: 'refunds' },
  refund: { charge: 'object', payment_intent: 'object', payment_method: 'object' },
  setup_intent: { payment_method: 'object' },
  dispute: { charge: 'object', payment_intent: 'object' },
}

function expandOne(ctx: RenderContext, json: Json, segments: string[], path: string): void {
  const [field, ...rest] = segments
  const kind = field === undefined ? undefined : EXPANDABLE[String(json.object)]?.[field]
  if (field === undefined || !kind)
    throw invalidRequest(`This property cannot be expanded (${path}).`, 'expand')
  if (kind === 'line_items') {
    const session = ctx.store.records.get(String(json.id)) as SessionRecord
    json.line_items = lineItems(session)
  } else if (kind === 'refunds') {
    const refunds = ctx.store.refundsOf(String(json.id)).sort((a, b) => b.created - a.created)
    json.refunds = {
      object: 'list',
      data: refunds.map((r) => render(ctx, r)),
      has_more: false,
      url: `/v1/charges/${json.id}/refunds`,
    }
  } else if (typeof json[field] === 'string') {
    const target = ctx.store.records.get(json[field] as string)
    if (target) json[field] = render(ctx, target)
  }
  const next = json[field]
  if (rest.length > 0 && next && typeof next === 'object' && !Array.isArray(next)) {
    if ((next as Json).object === 'list')
      throw invalidRequest(`This property cannot be expanded (${path}).`, 'expand')
    expandOne(ctx, next as Json, rest, path)
  }
}

/** Applies `expand[]` to a rendered object: at most four levels deep, as Stripe allows. */
export function expand(ctx: RenderContext, json: Json, paths: string[]): Json {
  for (const path of paths) {
    const segments = path.split('.')
    if (segments.length > 4)
      throw invalidRequest('You cannot expand more than 4 levels of a property.', 'expand')
    expandOne(ctx, json, segments, path)
  }
  return json
}
