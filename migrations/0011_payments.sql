-- Payments the way real providers work: a payment is a session at the provider, where the buyer enters
-- the card; the provider reports outcomes, refunds and disputes through signed events, stored once and
-- applied once. The built-in sandbox is a provider like any other, with its own tables (sandbox_*).

-- Where a project's payments go. A merchant's projects use its sandbox account unless they name another.
CREATE TABLE provider_accounts (
  id                  text PRIMARY KEY CHECK (id ~ '^pa_[0-9a-f]{24}$'),
  merchant_id         text NOT NULL REFERENCES merchants (id),
  provider            text NOT NULL CHECK (provider IN ('sandbox', 'stripe')),
  livemode            boolean NOT NULL DEFAULT false,
  -- Credentials sealed with the master key (AES-256-GCM); the sandbox needs none.
  secret_key          text,
  secret_key_last4    text,
  webhook_secret      text,
  -- The account's own id at the provider (acct_… at Stripe).
  external_account_id text,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  retired_at          timestamptz
);
CREATE UNIQUE INDEX provider_accounts_one_sandbox_per_merchant ON provider_accounts (merchant_id) WHERE provider = 'sandbox';
CREATE INDEX provider_accounts_merchant_idx ON provider_accounts (merchant_id);

ALTER TABLE projects ADD COLUMN provider_account_id text REFERENCES provider_accounts (id);

-- Attempts of the old, synchronous card form that were still in flight cannot finish any more.
UPDATE payments SET status = 'failed', failure_code = 'processing_timeout',
  failure_message = 'The payment did not complete; no charge was confirmed.'
WHERE status = 'processing';

ALTER TABLE payments DROP CONSTRAINT payments_status_check;
-- pending: the session is open at the provider; requires_action: the buyer must authenticate;
-- processing: the provider has not decided (e.g. a bank debit); unknown: a call to the provider failed or
-- timed out, so we do not know — it is looked up until it is final, never shown or treated as failed.
ALTER TABLE payments ADD CONSTRAINT payments_status_check
  CHECK (status IN ('pending', 'requires_action', 'processing', 'unknown', 'succeeded', 'failed', 'canceled'));
ALTER TABLE payments ADD COLUMN provider_account_id text REFERENCES provider_accounts (id);
-- The provider's id of the money movement itself (a PaymentIntent, a charge), once known.
ALTER TABLE payments ADD COLUMN provider_payment_id text;
-- Where the buyer pays: the provider's page of this session.
ALTER TABLE payments ADD COLUMN redirect_url text;
ALTER TABLE payments ADD COLUMN livemode boolean NOT NULL DEFAULT false;
ALTER TABLE payments ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
ALTER TABLE payments ADD COLUMN settled_at timestamptz;
-- When the reconciler next looks this payment up at the provider, and how often it has.
ALTER TABLE payments ADD COLUMN next_check_at timestamptz;
ALTER TABLE payments ADD COLUMN checks integer NOT NULL DEFAULT 0;

DROP INDEX payments_one_live_attempt_per_order;
DROP INDEX payments_processing_idx;
-- One open payment per order, enforced here: a new one only once the previous is known failed or canceled.
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id)
  WHERE status IN ('pending', 'requires_action', 'processing', 'unknown');
CREATE UNIQUE INDEX payments_provider_ref_key ON payments (provider_account_id, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_provider_payment_idx ON payments (provider_account_id, provider_payment_id) WHERE provider_payment_id IS NOT NULL;
CREATE INDEX payments_to_check_idx ON payments (next_check_at)
  WHERE status IN ('pending', 'requires_action', 'processing', 'unknown');

-- Orders: paid, then maybe refunded in part or in full, or disputed.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('created', 'paid', 'partially_refunded', 'refunded', 'disputed', 'expired'));
ALTER TABLE orders DROP CONSTRAINT orders_check;
ALTER TABLE orders ADD CONSTRAINT orders_paid_at_check CHECK ((status IN ('created', 'expired')) = (paid_at IS NULL));
-- The payment that paid the order; refunds and disputes of it change the order's state.
ALTER TABLE orders ADD COLUMN payment_id text REFERENCES payments (id);
ALTER TABLE orders ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
UPDATE orders SET payment_id = p.id FROM payments p WHERE p.order_id = orders.id AND p.status = 'succeeded';
CREATE INDEX orders_status_idx ON orders (merchant_id, status, created_at DESC);

CREATE TABLE refunds (
  id             text PRIMARY KEY CHECK (id ~ '^re_[0-9a-f]{24}$'),
  merchant_id    text NOT NULL REFERENCES merchants (id),
  order_id       text NOT NULL REFERENCES orders (id),
  payment_id     text NOT NULL REFERENCES payments (id),
  amount         bigint NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  reason         text,
  -- api, dashboard: asked by the merchant; provider: made in the provider's own dashboard; automatic: a
  -- payment that succeeded for an order that could not take it.
  origin         text NOT NULL CHECK (origin IN ('api', 'dashboard', 'provider', 'automatic')),
  -- pending: not yet answered (or not yet sent: provider_ref is null); unknown: the call failed.
  status         text NOT NULL CHECK (status IN ('pending', 'unknown', 'succeeded', 'failed', 'canceled')),
  provider_ref   text,
  failure_reason text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  settled_at     timestamptz
);
CREATE INDEX refunds_order_idx ON refunds (order_id, created_at);
CREATE UNIQUE INDEX refunds_provider_ref_key ON refunds (payment_id, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX refunds_to_send_idx ON refunds (updated_at) WHERE status IN ('pending', 'unknown');

CREATE TABLE disputes (
  id           text PRIMARY KEY CHECK (id ~ '^dsp_[0-9a-f]{24}$'),
  merchant_id  text NOT NULL REFERENCES merchants (id),
  order_id     text NOT NULL REFERENCES orders (id),
  payment_id   text NOT NULL REFERENCES payments (id),
  provider_ref text NOT NULL,
  amount       bigint NOT NULL CHECK (amount > 0),
  currency     text NOT NULL,
  reason       text,
  status       text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
  opened_at    timestamptz NOT NULL,
  closed_at    timestamptz,
  updated_at   timestamptz NOT NULL,
  UNIQUE (payment_id, provider_ref)
);
CREATE INDEX disputes_order_idx ON disputes (order_id);

-- The inbox: every verified provider event, once (unique on the provider's event id), with what became
-- of it. Deferred events name an object paylinks does not know yet; they are applied when it appears.
CREATE TABLE provider_events (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider_account_id text NOT NULL REFERENCES provider_accounts (id),
  event_id            text NOT NULL,
  type                text NOT NULL,
  payload             jsonb NOT NULL,
  status              text NOT NULL CHECK (status IN ('applied', 'ignored', 'deferred')),
  note                text,
  received_at         timestamptz NOT NULL,
  applied_at          timestamptz,
  UNIQUE (provider_account_id, event_id)
);
CREATE INDEX provider_events_deferred_idx ON provider_events (received_at) WHERE status = 'deferred';

-- Requests made with an Idempotency-Key (refunds): the same key and body answer the same, once.
CREATE TABLE idempotency_keys (
  merchant_id  text NOT NULL REFERENCES merchants (id),
  key          text NOT NULL,
  operation    text NOT NULL,
  request_hash text NOT NULL,
  status_code  integer,
  response     jsonb,
  created_at   timestamptz NOT NULL,
  completed_at timestamptz,
  PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Checkout setups save a payment method at the provider, on its page, like payments.
ALTER TABLE checkout_setups ADD COLUMN provider_account_id text REFERENCES provider_accounts (id);
ALTER TABLE checkout_setups ADD COLUMN provider_ref text;
ALTER TABLE checkout_setups ADD COLUMN redirect_url text;
ALTER TABLE payment_methods ADD COLUMN provider_account_id text REFERENCES provider_accounts (id);

-- Statistics count refunds beside revenue, in the bucket of the order they take money back from.
ALTER TABLE link_stats ADD COLUMN refunded bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION paylinks_rebuild_stats() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE visitor_days, link_stats IN EXCLUSIVE MODE;
  DELETE FROM visitor_days;
  DELETE FROM link_stats;

  INSERT INTO visitor_days (paylink_id, project_id, day, visitor_hash, first_seen)
  SELECT paylink_id, project_id, (visited_at AT TIME ZONE 'UTC')::date, visitor_hash, min(visited_at)
  FROM visits
  GROUP BY 1, 2, 3, 4;

  INSERT INTO link_stats (owner_id, grain, dim, bucket, key, currency, visits, visitors, orders, paid_orders, revenue, refunded)
  WITH facts AS (
    SELECT v.paylink_id, v.project_id, v.visited_at AS at, ''::text AS currency,
           v.country, v.referrer_host, v.utm_source, v.utm_medium, v.utm_campaign,
           1 AS visits,
           CASE WHEN d.first_seen = v.visited_at
                 AND NOT EXISTS (SELECT 1 FROM visits w
                                 WHERE w.paylink_id = v.paylink_id AND w.visitor_hash = v.visitor_hash
                                   AND w.visited_at = v.visited_at AND w.id < v.id)
                THEN 1 ELSE 0 END AS visitors,
           0 AS orders, 0 AS paid_orders, 0::bigint AS revenue, 0::bigint AS refunded
    FROM visits v
    JOIN visitor_days d ON d.paylink_id = v.paylink_id AND d.day = (v.visited_at AT TIME ZONE 'UTC')::date
                       AND d.visitor_hash = v.visitor_hash
    UNION ALL
    SELECT o.paylink_id, o.project_id, o.created_at, o.currency,
           o.country, o.referrer_host, o.utm_source, o.utm_medium, o.utm_campaign,
           0, 0, 1, CASE WHEN o.paid_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN o.paid_at IS NOT NULL THEN o.total_amount ELSE 0 END,
           o.amount_refunded
    FROM orders o
    WHERE o.paylink_id IS NOT NULL
  )
  SELECT owner.id, grain.g,
         dims.dim,
         CASE grain.g WHEN 'q' THEN date_bin('15 minutes', f.at, timestamptz '1970-01-01 00:00:00+00')
                      WHEN 'h' THEN date_trunc('hour', f.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                      ELSE date_trunc('day', f.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END,
         dims.key, f.currency,
         sum(f.visits), sum(CASE WHEN dims.dim = 'all' THEN f.visitors ELSE 0 END),
         sum(f.orders), sum(f.paid_orders), sum(f.revenue), sum(f.refunded)
  FROM facts f
  CROSS JOIN LATERAL (VALUES (f.paylink_id), (f.project_id)) AS owner (id)
  CROSS JOIN (VALUES ('q'), ('h'), ('d')) AS grain (g)
  CROSS JOIN LATERAL (VALUES
    ('all', ''),
    ('country', coalesce(f.country, '')),
    ('referrer', coalesce(f.referrer_host, '')),
    ('utm', coalesce(f.utm_source, '') || chr(31) || coalesce(f.utm_medium, '') || chr(31) || coalesce(f.utm_campaign, ''))
  ) AS dims (dim, key)
  GROUP BY 1, 2, 3, 4, 5, 6;
END
$$;


-- The sandbox: a simulated provider. These tables are its side of the world, as a real provider's
-- database would be: paylinks' own tables never see a card number, and neither do these — the sandbox
-- keeps the brand, the last 4 digits, the expiry and which test behaviour the card asked for.
CREATE TABLE sandbox_sessions (
  id              text PRIMARY KEY CHECK (id ~ '^sbx_cs_[0-9a-f]{24}$'),
  account_id      text NOT NULL,
  mode            text NOT NULL CHECK (mode IN ('payment', 'setup')),
  -- The merchant's reference (paylinks' payment or setup id), also the idempotency key of the creation.
  reference       text NOT NULL,
  amount          bigint,
  currency        text,
  description     text,
  email           text,
  return_url      text NOT NULL,
  cancel_url      text NOT NULL,
  status          text NOT NULL CHECK (status IN ('open', 'requires_action', 'processing', 'complete', 'failed', 'expired')),
  behaviour       text,
  card_brand      text,
  card_last4      text CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_exp_month  integer,
  card_exp_year   integer,
  failure_code    text,
  failure_message text,
  -- The charge (payment mode) or the saved payment method (setup mode) once complete.
  object_ref      text,
  amount_refunded bigint NOT NULL DEFAULT 0,
  -- When a processing payment settles, and until when the simulated outage lasts.
  settles_at      timestamptz,
  outage_until    timestamptz,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  completed_at    timestamptz,
  UNIQUE (account_id, reference)
);
CREATE INDEX sandbox_sessions_settling_idx ON sandbox_sessions (settles_at) WHERE status = 'processing';

CREATE TABLE sandbox_refunds (
  id         text PRIMARY KEY CHECK (id ~ '^sbx_re_[0-9a-f]{24}$'),
  session_id text NOT NULL REFERENCES sandbox_sessions (id),
  reference  text,
  amount     bigint NOT NULL CHECK (amount > 0),
  status     text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  settles_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (session_id, reference)
);
CREATE INDEX sandbox_refunds_settling_idx ON sandbox_refunds (settles_at) WHERE status = 'pending';

CREATE TABLE sandbox_disputes (
  id         text PRIMARY KEY CHECK (id ~ '^sbx_dp_[0-9a-f]{24}$'),
  session_id text NOT NULL REFERENCES sandbox_sessions (id),
  amount     bigint NOT NULL,
  reason     text NOT NULL,
  status     text NOT NULL CHECK (status IN ('scheduled', 'open', 'won', 'lost')),
  opens_at   timestamptz NOT NULL,
  closed_at  timestamptz,
  created_at timestamptz NOT NULL
);
CREATE INDEX sandbox_disputes_opening_idx ON sandbox_disputes (opens_at) WHERE status = 'scheduled';

-- The sandbox's outgoing events, delivered to paylinks' inbox with a signature, retried until answered 2xx.
CREATE TABLE sandbox_events (
  id           text PRIMARY KEY CHECK (id ~ '^sbx_evt_[0-9a-f]{24}$'),
  account_id   text NOT NULL,
  type         text NOT NULL,
  payload      jsonb NOT NULL,
  deliver_at   timestamptz NOT NULL,
  delivered_at timestamptz,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  leased_until timestamptz,
  created_at   timestamptz NOT NULL
);
CREATE INDEX sandbox_events_due_idx ON sandbox_events (deliver_at) WHERE delivered_at IS NULL;
