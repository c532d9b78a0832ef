-- Paylinks: 1 to 6 products of one project, with an expiry. Deleting one only marks it, so that its
-- visits and orders keep their history.

CREATE TABLE paylinks (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
  merchant_id text NOT NULL REFERENCES merchants (id),
  project_id  text NOT NULL REFERENCES projects (id),
  name        text CHECK (length(name) BETWEEN 1 AND 200),
  life_days   integer NOT NULL CHECK (life_days > 0),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE INDEX paylinks_project_idx ON paylinks (project_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE paylink_products (
  paylink_id text     NOT NULL REFERENCES paylinks (id) ON DELETE CASCADE,
  position   smallint NOT NULL CHECK (position BETWEEN 0 AND 5),
  product_id text     NOT NULL REFERENCES products (id),
  PRIMARY KEY (paylink_id, position),
  UNIQUE (paylink_id, product_id)
);
CREATE INDEX paylink_products_product_idx ON paylink_products (product_id);
