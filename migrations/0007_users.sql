-- People who sign in to the dashboard, and their sessions. A user acts for one merchant.

CREATE TABLE users (
  id            text PRIMARY KEY CHECK (id ~ '^usr_[0-9a-f]{24}$'),
  merchant_id   text NOT NULL REFERENCES merchants (id),
  email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  name          text CHECK (length(name) BETWEEN 1 AND 200),
  -- scrypt in PHC string form: $scrypt$ln=…,r=…,p=…$<salt>$<hash>; never the password.
  password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz,
  disabled_at   timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_merchant_idx ON users (merchant_id);

CREATE TABLE user_sessions (
  -- SHA-256 of the cookie's token: a stolen table does not sign anyone in.
  id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
  user_id      text NOT NULL REFERENCES users (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  ip           text,
  user_agent   text
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);
