-- Where a portal's buyer goes after paying (successUrl) when that is not the way back (backUrl), and
-- checkout setups asked for without a BackUrl, which end on paylinks' own "saved" page.
ALTER TABLE orders ADD COLUMN success_url text;
ALTER TABLE checkout_setups ALTER COLUMN back_url DROP NOT NULL;
