-- Portals: customer accounts of a merchant's SaaS, billed through the portal payment API.

CREATE TABLE portals (
  id          text PRIMARY KEY CHECK (id ~ '^por_[0-9a-f]{24}$'),
  merchant_id text NOT NULL REFERENCES merchants (id),
  project_id  text NOT NULL REFERENCES projects (id),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  deleted_at  timestamptz
);
CREATE INDEX portals_merchant_idx ON portals (merchant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE portal_keys (
  id           text PRIMARY KEY,
  portal_id    text NOT NULL REFERENCES portals (id),
  key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix       text NOT NULL,
  created_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX portal_keys_portal_idx ON portal_keys (portal_id);

CREATE TABLE payment_requests (
  id          text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES merchants (id),
  project_id  text NOT NULL REFERENCES projects (id),
  portal_id   text NOT NULL REFERENCES portals (id),
  user_name   text NOT NULL,
  email       text NOT NULL,
  message     text NOT NULL,
  -- What became of the mail to the project's sales address: sent, logged (no SMTP_URL), failed, or
  -- no_recipient (the project has no sales_email).
  mail_status text NOT NULL DEFAULT 'pending' CHECK (mail_status IN ('pending', 'sent', 'logged', 'failed', 'no_recipient')),
  mail_error  text,
  created_at  timestamptz NOT NULL
);
CREATE INDEX payment_requests_merchant_idx ON payment_requests (merchant_id, created_at DESC, id DESC);

CREATE TABLE checkout_setups (
  id           text PRIMARY KEY CHECK (id ~ '^cs_[0-9a-f]{24}$'),
  portal_id    text NOT NULL REFERENCES portals (id),
  back_url     text NOT NULL,
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  completed_at timestamptz
);

-- A portal's saved payment methods; the newest one not detached is the one in use.
CREATE TABLE payment_methods (
  id           text PRIMARY KEY,
  portal_id    text NOT NULL REFERENCES portals (id),
  setup_id     text REFERENCES checkout_setups (id),
  provider     text NOT NULL,
  provider_ref text NOT NULL,
  card_brand   text NOT NULL,
  card_last4   text NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_exp_month integer NOT NULL CHECK (card_exp_month BETWEEN 1 AND 12),
  card_exp_year  integer NOT NULL,
  created_at   timestamptz NOT NULL,
  detached_at  timestamptz
);
CREATE INDEX payment_methods_portal_idx ON payment_methods (portal_id, created_at DESC) WHERE detached_at IS NULL;

ALTER TABLE orders ADD COLUMN portal_id text REFERENCES portals (id);
ALTER TABLE orders ADD COLUMN back_url text;
ALTER TABLE orders ADD CONSTRAINT orders_one_source CHECK (paylink_id IS NULL OR portal_id IS NULL);
CREATE INDEX orders_portal_idx ON orders (portal_id, created_at DESC) WHERE portal_id IS NOT NULL;
