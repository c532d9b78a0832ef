-- Stripe accounts connected to projects, and the mode (test or live) of every order.

-- One provider account per Stripe account and mode of a merchant, whichever of its projects use it: its events URL is the one endpoint registered at Stripe, and saving a
-- new key for the same Stripe account (a rolled key) updates it in place, so that URL stays.
CREATE UNIQUE INDEX provider_accounts_one_per_stripe_account
  ON provider_accounts (merchant_id, external_account_id, livemode) WHERE provider = 'stripe';
-- The signing secret may come after the key: the events URL to register at Stripe names the account.
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_stripe_credentials
  CHECK (provider <> 'stripe' OR (secret_key IS NOT NULL AND external_account_id IS NOT NULL));

-- An order is test or live money as its project's provider account was when it was made (and as its
-- latest payment's account is once one starts), so that every view and webhook of it can say so.
ALTER TABLE orders ADD COLUMN livemode boolean NOT NULL DEFAULT false;
UPDATE orders SET livemode = true WHERE EXISTS (SELECT 1 FROM payments p WHERE p.order_id = orders.id AND p.livemode);
