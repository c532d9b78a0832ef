-- Stripe accounts connected to projects. One provider account per Stripe account and mode of a merchant,
-- whichever of its projects use it: its events URL is the one endpoint registered at Stripe, and saving a
-- new key for the same Stripe account (a rolled key) updates it in place, so that URL stays.
CREATE UNIQUE INDEX provider_accounts_one_per_stripe_account
  ON provider_accounts (merchant_id, external_account_id, livemode) WHERE provider = 'stripe';
-- The signing secret may come after the key: the events URL to register at Stripe names the account.
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_stripe_credentials
  CHECK (provider <> 'stripe' OR (secret_key IS NOT NULL AND external_account_id IS NOT NULL));
