-- Webhooks: endpoints, the event outbox, one delivery per event and endpoint, and every attempt.

CREATE TABLE webhook_endpoints (
  id              text PRIMARY KEY CHECK (id ~ '^we_[0-9a-f]{24}$'),
  merchant_id     text NOT NULL REFERENCES merchants (id),
  url             text NOT NULL,
  description     text,
  events          text[] NOT NULL,
  -- The signing secret must be readable to sign with; it is shown to the merchant only when made.
  secret          text NOT NULL,
  -- During a rotation the previous secret signs too, until it expires.
  previous_secret text,
  previous_secret_expires_at timestamptz,
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  deleted_at      timestamptz
);
CREATE INDEX webhook_endpoints_merchant_idx ON webhook_endpoints (merchant_id) WHERE deleted_at IS NULL;

-- The outbox: written in the same transaction as the change that caused the event.
CREATE TABLE events (
  id          text PRIMARY KEY CHECK (id ~ '^msg_[0-9a-f]{24}$'),
  merchant_id text NOT NULL REFERENCES merchants (id),
  type        text NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX events_merchant_idx ON events (merchant_id, created_at DESC);

CREATE TABLE webhook_deliveries (
  id              text PRIMARY KEY CHECK (id ~ '^whd_[0-9a-f]{24}$'),
  event_id        text NOT NULL REFERENCES events (id),
  endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id),
  -- pending: waiting for its next attempt; succeeded; failed: the schedule ran out or the endpoint is gone.
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  -- A worker holds a delivery while it calls the receiver; a lease that runs out (a crash) frees it.
  leased_until    timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id   text NOT NULL REFERENCES webhook_deliveries (id),
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  response_status integer,
  -- At most 1 KB of the receiver's answer.
  response_excerpt text,
  error         text,
  succeeded     boolean NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);
