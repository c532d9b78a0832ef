-- Statistics rollups: counters per paylink and per project, kept up to date in the transaction that
-- records a visit, an order or a payment, so that a dashboard reads counters whose number depends on
-- the period and the keys, never on the number of visits. The raw visits and orders stay: they are
-- the audit trail and the source of `paylinks stats rebuild` (paylinks_rebuild_stats below).

-- A project's dashboard reads the raw visits at the ends of its period by project and time.
ALTER TABLE visits ADD COLUMN project_id text;
UPDATE visits SET project_id = paylinks.project_id FROM paylinks WHERE paylinks.id = visits.paylink_id;
ALTER TABLE visits ALTER COLUMN project_id SET NOT NULL;
CREATE INDEX visits_project_idx ON visits (project_id, visited_at);

-- Who has visited a paylink on a UTC day, and when first. The visitor hash changes every UTC day, so a
-- visitor is one (link, day, hash) row: its first visit is the one that counts it as a unique visitor.
CREATE TABLE visitor_days (
  paylink_id   text        NOT NULL,
  project_id   text        NOT NULL,
  day          date        NOT NULL,
  visitor_hash text        NOT NULL,
  first_seen   timestamptz NOT NULL,
  PRIMARY KEY (paylink_id, day, visitor_hash)
);
CREATE INDEX visitor_days_first_seen_idx ON visitor_days (paylink_id, first_seen);
CREATE INDEX visitor_days_project_idx ON visitor_days (project_id, first_seen);

-- One row per owner (a paylink id or a project id), grain ('q': 15 minutes, 'h': hour, 'd': UTC day), dimension,
-- bucket start, key and currency. Every IANA offset is a multiple of 15 minutes, so local days in any
-- time zone are whole 'q' buckets. Visits live on the row with currency ''; orders, paid orders and
-- revenue on the row of the order's currency, in the bucket where the order was created.
CREATE TABLE link_stats (
  owner_id    text        NOT NULL,
  grain       text        NOT NULL CHECK (grain IN ('q', 'h', 'd')),
  dim         text        NOT NULL CHECK (dim IN ('all', 'country', 'referrer', 'utm')),
  bucket      timestamptz NOT NULL,
  key         text        NOT NULL,
  currency    text        NOT NULL,
  visits      bigint      NOT NULL DEFAULT 0,
  visitors    bigint      NOT NULL DEFAULT 0,
  orders      bigint      NOT NULL DEFAULT 0,
  paid_orders bigint      NOT NULL DEFAULT 0,
  revenue     bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (owner_id, grain, dim, bucket, key, currency)
);

-- Recomputes visitor_days and link_stats from the raw visits and orders. The tables are locked first:
-- writers that have already counted commit before the recount reads, later ones wait and count on top.
CREATE FUNCTION paylinks_rebuild_stats() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE visitor_days, link_stats IN EXCLUSIVE MODE;
  DELETE FROM visitor_days;
  DELETE FROM link_stats;

  INSERT INTO visitor_days (paylink_id, project_id, day, visitor_hash, first_seen)
  SELECT paylink_id, project_id, (visited_at AT TIME ZONE 'UTC')::date, visitor_hash, min(visited_at)
  FROM visits
  GROUP BY 1, 2, 3, 4;

  INSERT INTO link_stats (owner_id, grain, dim, bucket, key, currency, visits, visitors, orders, paid_orders, revenue)
  WITH facts AS (
    SELECT v.paylink_id, v.project_id, v.visited_at AS at, ''::text AS currency,
           v.country, v.referrer_host, v.utm_source, v.utm_medium, v.utm_campaign,
           1 AS visits,
           CASE WHEN d.first_seen = v.visited_at
                 AND NOT EXISTS (SELECT 1 FROM visits w
                                 WHERE w.paylink_id = v.paylink_id AND w.visitor_hash = v.visitor_hash
                                   AND w.visited_at = v.visited_at AND w.id < v.id)
                THEN 1 ELSE 0 END AS visitors,
           0 AS orders, 0 AS paid_orders, 0::bigint AS revenue
    FROM visits v
    JOIN visitor_days d ON d.paylink_id = v.paylink_id AND d.day = (v.visited_at AT TIME ZONE 'UTC')::date
                       AND d.visitor_hash = v.visitor_hash
    UNION ALL
    SELECT o.paylink_id, o.project_id, o.created_at, o.currency,
           o.country, o.referrer_host, o.utm_source, o.utm_medium, o.utm_campaign,
           0, 0, 1, CASE WHEN o.status = 'paid' THEN 1 ELSE 0 END,
           CASE WHEN o.status = 'paid' THEN o.total_amount ELSE 0 END
    FROM orders o
    WHERE o.paylink_id IS NOT NULL
  )
  SELECT owner.id, grain.g,
         dims.dim,
         CASE grain.g WHEN 'q' THEN date_bin('15 minutes', f.at, timestamptz '1970-01-01 00:00:00+00')
                      WHEN 'h' THEN date_trunc('hour', f.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                      ELSE date_trunc('day', f.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END,
         dims.key, f.currency,
         sum(f.visits), sum(CASE WHEN dims.dim = 'all' THEN f.visitors ELSE 0 END),
         sum(f.orders), sum(f.paid_orders), sum(f.revenue)
  FROM facts f
  CROSS JOIN LATERAL (VALUES (f.paylink_id), (f.project_id)) AS owner (id)
  CROSS JOIN (VALUES ('q'), ('h'), ('d')) AS grain (g)
  CROSS JOIN LATERAL (VALUES
    ('all', ''),
    ('country', coalesce(f.country, '')),
    ('referrer', coalesce(f.referrer_host, '')),
    ('utm', coalesce(f.utm_source, '') || chr(31) || coalesce(f.utm_medium, '') || chr(31) || coalesce(f.utm_campaign, ''))
  ) AS dims (dim, key)
  GROUP BY 1, 2, 3, 4, 5, 6;
END
$$;

SELECT paylinks_rebuild_stats();
