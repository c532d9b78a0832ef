-- A project's paylinks as a rollup dimension: the project's rows with dim 'paylink' and the paylink id
-- as key. A project's top paylinks then read one range of the project's rows per slice of the period,
-- instead of one range per slice of every paylink of the project (369 ms at 1,000 links over 30 days).

ALTER TABLE link_stats DROP CONSTRAINT link_stats_dim_check;
ALTER TABLE link_stats ADD CONSTRAINT link_stats_dim_check
  CHECK (dim IN ('all', 'country', 'referrer', 'utm', 'paylink'));

-- The new rows are exactly each paylink's 'all' rows filed under its project (visitors are counted for
-- 'all' only), so they are derived from them rather than recounted from the raw rows.
INSERT INTO link_stats (owner_id, grain, dim, bucket, key, currency, visits, visitors, orders, paid_orders, revenue)
SELECT p.project_id, s.grain, 'paylink', s.bucket, s.owner_id, s.currency, s.visits, 0, s.orders, s.paid_orders, s.revenue
FROM link_stats s
JOIN paylinks p ON p.id = s.owner_id
WHERE s.dim = 'all';

-- The recount of `paylinks stats rebuild`, with the new dimension.
CREATE OR REPLACE FUNCTION paylinks_rebuild_stats() RETURNS void LANGUAGE plpgsql AS $$
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
  CROSS JOIN LATERAL (VALUES (f.paylink_id, false), (f.project_id, true)) AS owner (id, is_project)
  CROSS JOIN (VALUES ('q'), ('h'), ('d')) AS grain (g)
  CROSS JOIN LATERAL (VALUES
    ('all', ''),
    ('country', coalesce(f.country, '')),
    ('referrer', coalesce(f.referrer_host, '')),
    ('utm', coalesce(f.utm_source, '') || chr(31) || coalesce(f.utm_medium, '') || chr(31) || coalesce(f.utm_campaign, '')),
    ('paylink', f.paylink_id)
  ) AS dims (dim, key)
  WHERE dims.dim <> 'paylink' OR owner.is_project
  GROUP BY 1, 2, 3, 4, 5, 6;
END
$$;
