-- Guesses at dashboard passwords, counted per email in fixed 15-minute windows. The count lives here,
-- not in a process, so that every server instance shares it; a guess is reserved with one atomic
-- upsert before its password is checked, so parallel requests cannot check more than the limit.

CREATE TABLE sign_in_attempts (
  -- SHA-256 of the normalised email (known or not): the count never keeps what people typed.
  email_hash   text PRIMARY KEY CHECK (email_hash ~ '^[0-9a-f]{64}$'),
  -- When the window's first guess was reserved; the window ends 15 minutes later, whatever follows.
  window_start timestamptz NOT NULL,
  -- Guesses of the window that failed or are being checked; a right password gives its own back.
  guesses      integer NOT NULL CHECK (guesses >= 0)
);
CREATE INDEX sign_in_attempts_window_idx ON sign_in_attempts (window_start);
