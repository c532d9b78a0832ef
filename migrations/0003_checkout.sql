-- The buyer's side: visits of public paylinks, the orders they create, and payment attempts.

CREATE TABLE visits (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  paylink_id    text NOT NULL REFERENCES paylinks (id),
  visited_at    timestamptz NOT NULL,
  -- A keyed hash of the client address and user agent, with a key that changes every day: it counts
  -- unique visitors of a day without ever storing an address.
  visitor_hash  text NOT NULL,
  utm_source    text,
  utm_medium    text,
  utm_campaign  text,
  referrer_host text,
  country       text CHECK (country ~ '^[A-Z]{2}$'),
  order_id      text
);
CREATE INDEX visits_paylink_idx ON visits (paylink_id, visited_at);

CREATE TABLE orders (
  id            text PRIMARY KEY CHECK (id ~ '^ord_[0-9a-f]{24}$'),
  merchant_id   text NOT NULL REFERENCES merchants (id),
  project_id    text NOT NULL REFERENCES projects (id),
  paylink_id    text REFERENCES paylinks (id),
  status        text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'paid', 'expired')),
  currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  total_amount  bigint NOT NULL CHECK (total_amount > 0),
  utm_source    text,
  utm_medium    text,
  utm_campaign  text,
  referrer_host text,
  country       text,
  buyer_email   text,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  paid_at       timestamptz,
  CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX orders_project_idx ON orders (project_id, created_at DESC, id DESC);
CREATE INDEX orders_paylink_idx ON orders (paylink_id, created_at DESC) WHERE paylink_id IS NOT NULL;
CREATE INDEX orders_open_expiry_idx ON orders (expires_at) WHERE status = 'created';

CREATE TABLE order_items (
  order_id    text    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  position    integer NOT NULL CHECK (position >= 0),
  product_id  text    NOT NULL REFERENCES products (id),
  name        text    NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  unit_amount bigint  NOT NULL CHECK (unit_amount > 0),
  PRIMARY KEY (order_id, position)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

CREATE TABLE payments (
  id              text PRIMARY KEY,
  order_id        text NOT NULL REFERENCES orders (id),
  -- processing: claimed before the provider is called; then succeeded or failed.
  status          text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
  provider        text NOT NULL,
  provider_ref    text,
  amount          bigint NOT NULL CHECK (amount > 0),
  currency        text NOT NULL,
  card_brand      text,
  card_last4      text CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_exp_month  integer CHECK (card_exp_month BETWEEN 1 AND 12),
  card_exp_year   integer,
  failure_code    text,
  failure_message text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX payments_order_idx ON payments (order_id, created_at);
-- The database, not the application, guarantees that an order has at most one attempt in flight and is
-- paid at most once: a double click or concurrent submits cannot reach the provider twice.
CREATE UNIQUE INDEX payments_one_live_attempt_per_order ON payments (order_id) WHERE status IN ('processing', 'succeeded');
CREATE INDEX payments_processing_idx ON payments (updated_at) WHERE status = 'processing';
