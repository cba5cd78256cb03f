-- A message in another currency than the account's cannot be applied as is (no conversion here).
CREATE OR REPLACE FUNCTION ledger_lc_check_currency (p_account text, e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_cur text;
BEGIN
  SELECT currency INTO v_cur FROM accounts WHERE account_token = p_account;
  IF e->>'currency' IS NOT NULL AND v_cur IS DISTINCT FROM e->>'currency' THEN
    RAISE EXCEPTION 'event % is in %, account % is in %', e->>'event_token', e->>'currency', p_account, v_cur
      USING ERRCODE = 'JT004';
  END IF;
END
$$;
