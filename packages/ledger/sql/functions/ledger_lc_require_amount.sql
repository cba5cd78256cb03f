CREATE OR REPLACE FUNCTION ledger_lc_require_amount (e jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF e->>'amount' IS NULL THEN
    RAISE EXCEPTION 'event % (%) carries no amount', e->>'event_token', e->>'action' USING ERRCODE = 'JT005';
  END IF;
  RETURN (e->>'amount')::bigint;
END
$$;
