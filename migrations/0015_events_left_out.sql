-- The public path leaves a merchant's order.created events out of its statement when it knows of no
-- endpoint that subscribes to them, and has the statement check that: this function, called for a
-- merchant that does have such an endpoint, aborts the statement (SQLSTATE PL001), nothing of it is
-- kept, and the writer sends it again with the events. What it knew can be stale; what is committed
-- cannot be without its events.
CREATE FUNCTION paylinks_events_left_out(merchant_id text, event_type text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events % of merchant % were left out, but an endpoint subscribes to them', event_type, merchant_id
    USING ERRCODE = 'PL001';
END
$$;
