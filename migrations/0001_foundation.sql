-- Merchants, their API keys, projects and products with prices in minor units.

CREATE TABLE merchants (
  id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email      text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  merchant_id  text NOT NULL REFERENCES merchants (id),
  key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);

CREATE TABLE projects (
  id               text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
  merchant_id      text NOT NULL REFERENCES merchants (id),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  default_currency text NOT NULL CHECK (default_currency ~ '^[A-Z]{3}$'),
  success_url      text,
  sales_email      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE INDEX projects_merchant_idx ON projects (merchant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE products (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
  merchant_id text NOT NULL REFERENCES merchants (id),
  project_id  text NOT NULL REFERENCES projects (id),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text,
  sku         text CHECK (length(sku) BETWEEN 1 AND 64),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz
);
CREATE INDEX products_project_idx ON products (project_id, created_at DESC, id DESC);
-- A SKU names one live product of a project; an archived product frees its SKU.
CREATE UNIQUE INDEX products_project_sku_key ON products (project_id, sku) WHERE sku IS NOT NULL AND archived_at IS NULL;

CREATE TABLE product_prices (
  product_id text   NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  currency   text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount     bigint NOT NULL CHECK (amount > 0),
  PRIMARY KEY (product_id, currency)
);

-- Installation-wide facts shared by every instance (e.g. that the demo data was created).
CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
