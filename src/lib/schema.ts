// Row types of the database, as Kysely sees them; the tables themselves are defined in migrations/.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

type CreatedAt = ColumnType<Date, Date | undefined, never>
type Timestamp = ColumnType<Date, Date, Date>
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>

export interface MerchantsTable {
  id: string
  name: string
  email: string | null
  created_at: CreatedAt
}

export interface ApiKeysTable {
  id: string
  merchant_id: string
  /** SHA-256 of the secret, lowercase hex. The secret itself is never stored. */
  key_hash: string
  /** The first characters of the secret, so a person can tell keys apart. */
  prefix: string
  created_at: CreatedAt
  last_used_at: NullableTimestamp
  revoked_at: NullableTimestamp
}

export interface ProjectsTable {
  id: string
  merchant_id: string
  name: string
  default_currency: string
  success_url: string | null
  sales_email: string | null
  /** Where the project's payments go; null: the merchant's sandbox account. */
  provider_account_id: ColumnType<string | null, string | null | undefined, string | null>
  created_at: CreatedAt
  updated_at: Timestamp
  deleted_at: NullableTimestamp
}

export interface ProductsTable {
  id: string
  merchant_id: string
  project_id: string
  name: string
  description: string | null
  sku: string | null
  created_at: CreatedAt
  updated_at: Timestamp
  archived_at: NullableTimestamp
}

export interface ProductPricesTable {
  product_id: string
  currency: string
  /** Minor units of `currency`. */
  amount: number
}

export interface PaylinksTable {
  id: string
  merchant_id: string
  project_id: string
  name: string | null
  life_days: number
  expires_at: Timestamp
  created_at: CreatedAt
  updated_at: Timestamp
  deleted_at: NullableTimestamp
}

export interface PaylinkProductsTable {
  paylink_id: string
  position: number
  product_id: string
}

export interface SettingsTable {
  key: string
  value: ColumnType<unknown, string, string>
  updated_at: ColumnType<Date, Date | undefined, Date>
}

export interface PortalsTable {
  id: string
  merchant_id: string
  project_id: string
  name: string
  created_at: Date
  updated_at: Date
  deleted_at: NullableTimestamp
}

export interface PortalKeysTable {
  id: string
  portal_id: string
  key_hash: string
  prefix: string
  created_at: Date
  last_used_at: NullableTimestamp
  revoked_at: NullableTimestamp
}

export type MailStatus = 'pending' | 'sent' | 'logged' | 'failed' | 'no_recipient'

export interface PaymentRequestsTable {
  id: string
  merchant_id: string
  project_id: string
  portal_id: string
  user_name: string
  email: string
  message: string
  mail_status: ColumnType<MailStatus, MailStatus | undefined, MailStatus>
  mail_error: string | null
  created_at: Date
}

export type CheckoutSetupStatus = 'open' | 'completed'

export interface CheckoutSetupsTable {
  id: string
  portal_id: string
  back_url: string | null
  status: ColumnType<CheckoutSetupStatus, CheckoutSetupStatus | undefined, CheckoutSetupStatus>
  created_at: Date
  expires_at: Date
  completed_at: Date | null
  provider_account_id: ColumnType<string | null, string | null | undefined, string | null>
  provider_ref: ColumnType<string | null, string | null | undefined, string | null>
  redirect_url: ColumnType<string | null, string | null | undefined, string | null>
}

export interface PaymentMethodsTable {
  id: string
  portal_id: string
  setup_id: string | null
  provider: string
  provider_account_id: ColumnType<string | null, string | null | undefined, string | null>
  provider_ref: string
  card_brand: string
  card_last4: string
  card_exp_month: number
  card_exp_year: number
  created_at: Date
  detached_at: NullableTimestamp
}

export interface WebhookEndpointsTable {
  id: string
  merchant_id: string
  url: string
  description: string | null
  events: string[]
  secret: string
  previous_secret: string | null
  previous_secret_expires_at: Date | null
  enabled: ColumnType<boolean, boolean | undefined, boolean>
  disabled_reason: string | null
  created_at: Date
  updated_at: Date
  deleted_at: NullableTimestamp
}

export interface EventsTable {
  id: string
  merchant_id: string
  type: string
  payload: ColumnType<unknown, string, never>
  created_at: Date
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed'

export interface WebhookDeliveriesTable {
  id: string
  event_id: string
  endpoint_id: string
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: Date | null
  leased_until: ColumnType<Date | null, Date | null | undefined, Date | null>
  created_at: Date
  updated_at: Date
}

export interface WebhookAttemptsTable {
  id: Generated<number>
  delivery_id: string
  attempt: number
  started_at: Date
  duration_ms: number
  response_status: number | null
  response_excerpt: string | null
  error: string | null
  succeeded: boolean
}

export interface UsersTable {
  id: string
  merchant_id: string
  /** Lower case; unique across the installation. */
  email: string
  name: string | null
  /** scrypt in PHC string form. */
  password_hash: string
  created_at: CreatedAt
  last_login_at: NullableTimestamp
  disabled_at: NullableTimestamp
}

export interface UserSessionsTable {
  /** SHA-256 of the session cookie's token, lowercase hex. */
  id: string
  user_id: string
  created_at: CreatedAt
  last_seen_at: Timestamp
  expires_at: Timestamp
  revoked_at: NullableTimestamp
  ip: string | null
  user_agent: string | null
}

/** Guesses at a dashboard password in a fixed window, per email (known or not). */
export interface SignInAttemptsTable {
  /** SHA-256 of the normalised email, lowercase hex. */
  email_hash: string
  window_start: Date
  /** Failed guesses of the window plus those being checked. */
  guesses: number
}

export interface DB {
  settings: SettingsTable
  users: UsersTable
  user_sessions: UserSessionsTable
  sign_in_attempts: SignInAttemptsTable
  merchants: MerchantsTable
  api_keys: ApiKeysTable
  projects: ProjectsTable
  products: ProductsTable
  product_prices: ProductPricesTable
  paylinks: PaylinksTable
  paylink_products: PaylinkProductsTable
  visits: VisitsTable
  stat_names: StatNamesTable
  stat_rollups: StatRollupsTable
  stat_queue: StatQueueTable
  stat_visitors: StatVisitorsTable
  orders: OrdersTable
  order_items: OrderItemsTable
  payments: PaymentsTable
  refunds: RefundsTable
  disputes: DisputesTable
  provider_accounts: ProviderAccountsTable
  provider_events: ProviderEventsTable
  idempotency_keys: IdempotencyKeysTable
  sandbox_sessions: SandboxSessionsTable
  sandbox_refunds: SandboxRefundsTable
  sandbox_disputes: SandboxDisputesTable
  sandbox_events: SandboxEventsTable
  portals: PortalsTable
  portal_keys: PortalKeysTable
  payment_requests: PaymentRequestsTable
  checkout_setups: CheckoutSetupsTable
  payment_methods: PaymentMethodsTable
  webhook_endpoints: WebhookEndpointsTable
  events: EventsTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
}

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>

export type PortalRow = Selectable<PortalsTable>
export type PortalKeyRow = Selectable<PortalKeysTable>
export type PaymentRequestRow = Selectable<PaymentRequestsTable>
export type CheckoutSetupRow = Selectable<CheckoutSetupsTable>
export type PaymentMethodRow = Selectable<PaymentMethodsTable>

export type Merchant = Selectable<MerchantsTable>
export type UserRow = Selectable<UsersTable>
export type ApiKeyRow = Selectable<ApiKeysTable>
export type ProjectRow = Selectable<ProjectsTable>
export type NewProject = Insertable<ProjectsTable>
export type ProjectUpdate = Updateable<ProjectsTable>
export type ProductRow = Selectable<ProductsTable>
export type PaylinkRow = Selectable<PaylinksTable>

export interface VisitsTable {
  id: Generated<number>
  paylink_id: string
  project_id: string
  visited_at: Date
  visitor_hash: string
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
  referrer_host: string | null
  country: string | null
  order_id: string | null
  /** A link-preview bot, a crawler or a HEAD request: kept, never counted. */
  bot: Generated<boolean>
}

/** 'a' all, 'c' country, 'r' referrer, 'u' UTM triple, 'p' paylink (of a project). */
export type StatDim = 'a' | 'c' | 'r' | 'u' | 'p'

export interface StatNamesTable {
  id: Generated<number>
  name: string
}

export interface StatRollupsTable {
  owner: number
  dim: StatDim
  /** The bucket's length in quarters of an hour. */
  grain: number
  /** The bucket's start in quarters of an hour since 1970-01-01 UTC. */
  bucket: number
  key: number
  cur: number
  visits: Generated<number>
  visitors: Generated<number>
  orders: Generated<number>
  paid_orders: Generated<number>
  revenue: Generated<number>
  refunded: Generated<number>
}

export interface StatVisitorsTable {
  owner: number
  day: number
  hash: string
  visit_id: number
}

export interface StatQueueTable {
  visit_id: number
  visited_at: Date
}

export type OrderStatus = 'created' | 'paid' | 'partially_refunded' | 'refunded' | 'disputed' | 'expired'

export interface OrdersTable {
  id: string
  merchant_id: string
  project_id: string
  paylink_id: string | null
  status: ColumnType<OrderStatus, OrderStatus | undefined, OrderStatus>
  currency: string
  total_amount: number
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
  referrer_host: string | null
  country: string | null
  buyer_email: string | null
  created_at: Date
  updated_at: Date
  expires_at: Date
  paid_at: Date | null
  portal_id: ColumnType<string | null, string | null | undefined, string | null>
  back_url: ColumnType<string | null, string | null | undefined, string | null>
  /** The payment that paid the order. */
  payment_id: ColumnType<string | null, string | null | undefined, string | null>
  amount_refunded: ColumnType<number, number | undefined, number>
  success_url: ColumnType<string | null, string | null | undefined, string | null>
  /** Test or live money: the project's provider account when the order was made, its payment's after. */
  livemode: ColumnType<boolean, boolean | undefined, boolean>
}

export interface OrderItemsTable {
  order_id: string
  position: number
  product_id: string
  name: string
  quantity: number
  unit_amount: number
}

export interface PaymentsTable {
  id: string
  order_id: string
  status: PaymentStatus
  provider: string
  provider_account_id: string | null
  /** The provider's session (where the buyer pays). */
  provider_ref: string | null
  /** The provider's money movement (PaymentIntent, charge), once known. */
  provider_payment_id: ColumnType<string | null, string | null | undefined, string | null>
  redirect_url: ColumnType<string | null, string | null | undefined, string | null>
  livemode: ColumnType<boolean, boolean | undefined, boolean>
  amount: number
  currency: string
  amount_refunded: ColumnType<number, number | undefined, number>
  card_brand: string | null
  card_last4: string | null
  card_exp_month: number | null
  card_exp_year: number | null
  failure_code: string | null
  failure_message: string | null
  created_at: Date
  updated_at: Date
  settled_at: NullableTimestamp
  next_check_at: NullableTimestamp
  checks: ColumnType<number, number | undefined, number>
}

/** Open: pending, requires_action, processing, unknown. Final: succeeded, failed, canceled. */
export type PaymentStatus =
  | 'pending'
  | 'requires_action'
  | 'processing'
  | 'unknown'
  | 'succeeded'
  | 'failed'
  | 'canceled'

export type RefundStatus = 'pending' | 'unknown' | 'succeeded' | 'failed' | 'canceled'
export type RefundOrigin = 'api' | 'dashboard' | 'provider' | 'automatic'

export interface RefundsTable {
  id: string
  merchant_id: string
  order_id: string
  payment_id: string
  amount: number
  currency: string
  reason: string | null
  origin: RefundOrigin
  status: RefundStatus
  provider_ref: string | null
  failure_reason: string | null
  created_at: Date
  updated_at: Date
  settled_at: NullableTimestamp
}

export type DisputeStatus = 'open' | 'won' | 'lost'

export interface DisputesTable {
  id: string
  merchant_id: string
  order_id: string
  payment_id: string
  provider_ref: string
  amount: number
  currency: string
  reason: string | null
  status: DisputeStatus
  opened_at: Date
  closed_at: NullableTimestamp
  updated_at: Date
}

export type ProviderName = 'sandbox' | 'stripe'

export interface ProviderAccountsTable {
  id: string
  merchant_id: string
  provider: ProviderName
  livemode: ColumnType<boolean, boolean | undefined, boolean>
  secret_key: string | null
  secret_key_last4: string | null
  webhook_secret: string | null
  external_account_id: string | null
  created_at: Date
  updated_at: Date
  retired_at: NullableTimestamp
}

export type ProviderEventStatus = 'applied' | 'ignored' | 'deferred'

export interface ProviderEventsTable {
  id: Generated<number>
  provider_account_id: string
  event_id: string
  type: string
  payload: ColumnType<unknown, string, never>
  status: ProviderEventStatus
  note: string | null
  received_at: Date
  applied_at: NullableTimestamp
}

export interface IdempotencyKeysTable {
  merchant_id: string
  key: string
  operation: string
  request_hash: string
  status_code: number | null
  response: ColumnType<unknown, string | null, string | null>
  created_at: Date
  completed_at: NullableTimestamp
}

export type SandboxSessionStatus =
  | 'open'
  | 'requires_action'
  | 'processing'
  | 'complete'
  | 'failed'
  | 'expired'

export interface SandboxSessionsTable {
  id: string
  account_id: string
  mode: 'payment' | 'setup'
  reference: string
  amount: number | null
  currency: string | null
  description: string | null
  email: string | null
  return_url: string
  cancel_url: string
  status: SandboxSessionStatus
  behaviour: string | null
  card_brand: string | null
  card_last4: string | null
  card_exp_month: number | null
  card_exp_year: number | null
  failure_code: string | null
  failure_message: string | null
  object_ref: string | null
  amount_refunded: ColumnType<number, number | undefined, number>
  settles_at: NullableTimestamp
  outage_until: NullableTimestamp
  created_at: Date
  expires_at: Date
  completed_at: NullableTimestamp
}

export interface SandboxRefundsTable {
  id: string
  session_id: string
  reference: string | null
  amount: number
  status: 'pending' | 'succeeded' | 'failed'
  settles_at: Date
  created_at: Date
}

export interface SandboxDisputesTable {
  id: string
  session_id: string
  amount: number
  reason: string
  status: 'scheduled' | 'open' | 'won' | 'lost'
  opens_at: Date
  closed_at: NullableTimestamp
  created_at: Date
}

export interface SandboxEventsTable {
  id: string
  account_id: string
  type: string
  payload: ColumnType<unknown, string, never>
  deliver_at: Date
  delivered_at: NullableTimestamp
  attempts: ColumnType<number, number | undefined, number>
  last_error: string | null
  leased_until: NullableTimestamp
  created_at: Date
}

export type RefundRow = Selectable<RefundsTable>
export type DisputeRow = Selectable<DisputesTable>
export type ProviderAccountRow = Selectable<ProviderAccountsTable>
export type SandboxSessionRow = Selectable<SandboxSessionsTable>
export type OrderRow = Selectable<OrdersTable>
export type OrderItemRow = Selectable<OrderItemsTable>
export type PaymentRow = Selectable<PaymentsTable>
