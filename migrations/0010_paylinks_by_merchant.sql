-- GET /paylinks lists a merchant's live links of every project, newest first.
CREATE INDEX paylinks_merchant_idx ON paylinks (merchant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
