-- The number of holds one batch of the sweep expired (see ledger_expire_holds_batch).
CREATE OR REPLACE FUNCTION ledger_expire_stale_holds (p_now timestamptz, p_default integer, p_overrides jsonb, p_limit integer)
RETURNS integer LANGUAGE sql AS $$
  SELECT (ledger_expire_holds_batch(p_now, p_default, p_overrides, p_limit)->>'expired')::integer
$$;
