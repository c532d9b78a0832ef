// `POST /v1/checkout/sessions`: the parameters a Checkout integration sends, checked as Stripe checks them.
// Parameters of Stripe's API that the double does not model are refused by name rather than ignored.
import {
  formatAmount,
  isSupportedCurrency,
  maximumAmount,
  minimumAmount,
  supportedCurrencies,
  THREE_DECIMAL,
} from './currency.js'
import { invalidRequest, missingParam, notImplemented } from './errors.js'
import { objectId, sessionId } from './ids.js'
import type { LineItemRecord, SessionRecord } from './model.js'
import {
  checkKeys,
  child,
  type Params,
  readArray,
  readBoolean,
  readEmail,
  readEnum,
  readInteger,
  readMetadata,
  readObject,
  readString,
  readStringArray,
  readUrl,
  requireInteger,
  requireString,
} from './params.js'
import { threeDecimalError } from './payments.js'

/** The API version whose changes removed `payment_method_types` from Checkout (stripe-node v23). */
const ALLOWED_TYPES_SINCE = '2026-09-30'

const MODELLED = [
  'allow_promotion_codes',
  'allowed_payment_method_types',
  'billing_address_collection',
  'cancel_url',
  'client_reference_id',
  'currency',
  'customer_creation',
  'customer_email',
  'expand',
  'expires_at',
  'line_items',
  'locale',
  'metadata',
  'mode',
  'payment_intent_data',
  'setup_intent_data',
  'submit_type',
  'success_url',
  'ui_mode',
]

/** The rest of Stripe's parameters for this endpoint (stripe-node's `SessionCreateParams`). */
const UNMODELLED = [
  'adaptive_pricing',
  'after_expiration',
  'automatic_tax',
  'branding_settings',
  'consent_collection',
  'custom_fields',
  'custom_text',
  'customer',
  'customer_account',
  'customer_update',
  'discounts',
  'excluded_payment_method_types',
  'integration_identifier',
  'invoice_creation',
  'managed_payments',
  'name_collection',
  'optional_items',
  'origin_context',
  'payment_method_collection',
  'payment_method_configuration',
  'payment_method_data',
  'payment_method_options',
  'permissions',
  'phone_number_collection',
  'redirect_on_completion',
  'return_url',
  'saved_payment_method_options',
  'shipping_address_collection',
  'shipping_options',
  'subscription_data',
  'tax_id_collection',
  'wallet_options',
]

/** The payment method types the hosted page offers: cards, and SEPA debit for asynchronous payments. */
const PAGE_METHOD_TYPES = ['card', 'sepa_debit']

export interface SessionContext {
  account: string
  livemode: boolean
  now: number
  stripeVersion: string
}

function readCurrency(value: unknown, param: string, required: boolean): string | undefined {
  const text = required ? requireString(value, param) : readString(value, param)
  if (text === undefined) return undefined
  const currency = text.toLowerCase()
  if (!isSupportedCurrency(currency)) {
    throw invalidRequest(
      `Invalid currency: ${currency}. Stripe currently supports these currencies: ${supportedCurrencies().join(', ')}`,
      param,
    )
  }
  return currency
}

function readLineItem(value: unknown, index: number): LineItemRecord {
  const path = `line_items[${index}]`
  const item = readObject(value, path)
  if (!item) throw missingParam(`${path}[price_data]`)
  checkKeys(item, path, ['price_data', 'quantity'], ['adjustable_quantity', 'metadata', 'price', 'tax_rates'])
  const pricePath = `${path}[price_data]`
  const price = readObject(item.price_data, pricePath)
  if (!price) throw missingParam(pricePath)
  checkKeys(
    price,
    pricePath,
    ['currency', 'product_data', 'unit_amount'],
    ['product', 'recurring', 'tax_behavior', 'unit_amount_decimal'],
  )
  const currency = readCurrency(price.currency, `${pricePath}[currency]`, true) as string
  const unitAmount = requireInteger(price.unit_amount, `${pricePath}[unit_amount]`, {
    min: 0,
    max: maximumAmount(currency),
  })
  if (THREE_DECIMAL.has(currency) && unitAmount % 10 !== 0) {
    throw threeDecimalError(currency, `${pricePath}[unit_amount]`)
  }
  const productPath = `${pricePath}[product_data]`
  const product = readObject(price.product_data, productPath)
  if (!product) throw missingParam(productPath)
  checkKeys(
    product,
    productPath,
    ['description', 'images', 'metadata', 'name'],
    ['tax_code', 'tax_details', 'unit_label'],
  )
  const images = readStringArray(product.images, `${productPath}[images]`) ?? []
  if (images.length > 8) throw invalidRequest('You can pass at most 8 images.', `${productPath}[images]`)
  return {
    id: objectId('li'),
    priceId: objectId('price'),
    productId: objectId('prod', 14),
    name: requireString(product.name, `${productPath}[name]`, { max: 5000 }),
    description: readString(product.description, `${productPath}[description]`, { max: 40_000 }) ?? null,
    images,
    productMetadata: readMetadata(product.metadata, `${productPath}[metadata]`) ?? {},
    currency,
    unitAmount,
    quantity: requireInteger(item.quantity, `${path}[quantity]`, { min: 1 }),
  }
}

function readPaymentIntentData(value: unknown): SessionRecord['paymentIntentData'] {
  const path = 'payment_intent_data'
  const data = readObject(value, path) ?? {}
  checkKeys(
    data,
    path,
    [
      'capture_method',
      'description',
      'metadata',
      'receipt_email',
      'statement_descriptor',
      'statement_descriptor_suffix',
    ],
    [
      'application_fee_amount',
      'on_behalf_of',
      'setup_future_usage',
      'shipping',
      'transfer_data',
      'transfer_group',
    ],
  )
  const capture = readEnum(data.capture_method, child(path, 'capture_method'), [
    'automatic',
    'automatic_async',
    'manual',
  ])
  if (capture === 'manual') throw notImplemented('payment_intent_data[capture_method]=manual')
  return {
    metadata: readMetadata(data.metadata, child(path, 'metadata')) ?? {},
    description: readString(data.description, child(path, 'description'), { max: 1000 }) ?? null,
    receiptEmail: readEmail(data.receipt_email, child(path, 'receipt_email')) ?? null,
    statementDescriptor:
      readString(data.statement_descriptor, child(path, 'statement_descriptor'), { max: 22 }) ?? null,
    statementDescriptorSuffix:
      readString(data.statement_descriptor_suffix, child(path, 'statement_descriptor_suffix'), { max: 22 }) ??
      null,
    captureMethod: capture ?? 'automatic_async',
  }
}

function readSetupIntentData(value: unknown): SessionRecord['setupIntentData'] {
  const path = 'setup_intent_data'
  const data = readObject(value, path) ?? {}
  checkKeys(data, path, ['description', 'metadata'], ['on_behalf_of'])
  return {
    metadata: readMetadata(data.metadata, child(path, 'metadata')) ?? {},
    description: readString(data.description, child(path, 'description'), { max: 1000 }) ?? null,
  }
}

function readMethodTypes(params: Params, legacy: boolean): string[] | null {
  const param =
    legacy && params.payment_method_types !== undefined
      ? 'payment_method_types'
      : 'allowed_payment_method_types'
  const types = readStringArray(params[param], param)
  if (!types) return null
  types.forEach((type, i) => {
    if (!PAGE_METHOD_TYPES.includes(type)) throw notImplemented(`${child(param, i)}=${type}`)
  })
  return types
}

export function createSession(ctx: SessionContext, params: Params): SessionRecord {
  // Before that version Checkout took `payment_method_types`; from it on Stripe no longer knows the name.
  const legacy = ctx.stripeVersion < ALLOWED_TYPES_SINCE
  checkKeys(params, '', legacy ? [...MODELLED, 'payment_method_types'] : MODELLED, UNMODELLED)
  const mode = readEnum(params.mode, 'mode', ['payment', 'setup', 'subscription'])
  if (!mode) throw missingParam('mode')
  if (mode === 'subscription') throw notImplemented('mode=subscription')
  const uiMode = readEnum(params.ui_mode, 'ui_mode', ['elements', 'embedded_page', 'form', 'hosted_page'])
  if (uiMode && uiMode !== 'hosted_page') throw notImplemented(`ui_mode=${uiMode}`)
  const successUrl = readUrl(params.success_url, 'success_url')
  if (!successUrl) throw missingParam('success_url')
  const expiresAt = readInteger(params.expires_at, 'expires_at') ?? ctx.now + 86_400
  if (expiresAt < ctx.now + 1800) {
    throw invalidRequest(
      'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
      'expires_at',
    )
  }
  if (expiresAt > ctx.now + 86_400) {
    throw invalidRequest(
      'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
      'expires_at',
    )
  }
  const currency = readCurrency(params.currency, 'currency', false)
  const allowedTypes = readMethodTypes(params, legacy)

  let lineItems: LineItemRecord[] = []
  let paymentIntentData = readPaymentIntentData(undefined)
  let setupIntentData = readSetupIntentData(undefined)
  if (mode === 'payment') {
    if (params.setup_intent_data !== undefined) {
      throw invalidRequest('You can not pass `setup_intent_data` in `payment` mode.', 'setup_intent_data')
    }
    const items = readArray(params.line_items, 'line_items')
    if (!items || items.length === 0) throw missingParam('line_items')
    if (items.length > 100) {
      throw invalidRequest(
        `line_items can contain at most 100 items; ${items.length} were given.`,
        'line_items',
      )
    }
    lineItems = items.map((item, i) => readLineItem(item, i))
    lineItems.forEach((item, i) => {
      const expected = currency ?? lineItems[0]?.currency
      if (item.currency !== expected) {
        throw invalidRequest(
          `All line items must have the same currency; line_items[${i}] is in ${item.currency}, not ${expected}.`,
          `line_items[${i}][price_data][currency]`,
        )
      }
    })
    paymentIntentData = readPaymentIntentData(params.payment_intent_data)
    checkTotal(lineItems)
  } else {
    for (const param of ['line_items', 'payment_intent_data'] as const) {
      if (params[param] !== undefined)
        throw invalidRequest(`You can not pass \`${param}\` in \`setup\` mode.`, param)
    }
    if (!currency && !allowedTypes) throw missingParam('currency')
    setupIntentData = readSetupIntentData(params.setup_intent_data)
  }

  return {
    id: sessionId(ctx.livemode),
    object: 'checkout.session',
    account: ctx.account,
    livemode: ctx.livemode,
    created: ctx.now,
    mode,
    status: 'open',
    paymentStatus: mode === 'payment' ? 'unpaid' : 'no_payment_required',
    currency: mode === 'payment' ? (lineItems[0]?.currency ?? null) : (currency ?? null),
    lineItems,
    customerEmail: readEmail(params.customer_email, 'customer_email') ?? null,
    clientReferenceId: readString(params.client_reference_id, 'client_reference_id', { max: 200 }) ?? null,
    metadata: readMetadata(params.metadata, 'metadata') ?? {},
    successUrl,
    cancelUrl: readUrl(params.cancel_url, 'cancel_url') ?? null,
    expiresAt,
    locale: readString(params.locale, 'locale') ?? null,
    submitType:
      readEnum(params.submit_type, 'submit_type', ['auto', 'book', 'donate', 'pay', 'subscribe']) ?? null,
    billingAddressCollection:
      readEnum(params.billing_address_collection, 'billing_address_collection', ['auto', 'required']) ?? null,
    customerCreation:
      readEnum(params.customer_creation, 'customer_creation', ['always', 'if_required']) ?? null,
    allowPromotionCodes: readBoolean(params.allow_promotion_codes, 'allow_promotion_codes') ?? null,
    allowedPaymentMethodTypes: allowedTypes,
    paymentIntentData,
    setupIntentData,
    paymentIntent: null,
    setupIntent: null,
    customerDetails: null,
  }
}

/** The total due must lie within Stripe's minimum and maximum charge amounts for the currency. */
function checkTotal(items: LineItemRecord[]): void {
  const currency = items[0]?.currency as string
  const total = items.reduce((sum, item) => sum + item.unitAmount * item.quantity, 0)
  const minimum = minimumAmount(currency)
  if (total < minimum) {
    throw invalidRequest(
      `The Checkout Session's total amount due must add up to at least ${formatAmount(minimum, currency)} ${currency}`,
      'line_items',
      'amount_too_small',
    )
  }
  const maximum = maximumAmount(currency)
  if (total > maximum) {
    throw invalidRequest(
      `The Checkout Session's total amount due must be no more than ${formatAmount(maximum, currency)} ${currency}`,
      'line_items',
      'amount_too_large',
    )
  }
}
