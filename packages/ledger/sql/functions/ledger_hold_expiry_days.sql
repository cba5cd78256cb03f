-- Days of inactivity after which an open hold expires: the largest matching MCC range override,
-- else the default.
CREATE OR REPLACE FUNCTION ledger_hold_expiry_days (p_mcc text, p_default integer, p_overrides jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((
    SELECT max((o->>'days')::integer) FROM jsonb_array_elements(coalesce(p_overrides, '[]')) o
    -- CASE, not AND: SQL does not promise to test the pattern before the cast
    WHERE CASE WHEN p_mcc ~ '^[0-9]{1,4}$' THEN p_mcc::integer END BETWEEN (o->>'from')::integer AND (o->>'to')::integer
  ), p_default)
$$;
