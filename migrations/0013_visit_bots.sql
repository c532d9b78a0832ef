-- Visits from link-preview bots and crawlers, and HEAD requests: kept as facts, never counted.
ALTER TABLE visits ADD COLUMN bot boolean NOT NULL DEFAULT false;
