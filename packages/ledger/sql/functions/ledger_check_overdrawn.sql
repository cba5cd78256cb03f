-- ledger.account.overdrawn: `amount` is how far available went below zero (forced effects only).
CREATE OR REPLACE FUNCTION ledger_check_overdrawn (p_account text, p_cause text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  a accounts%ROWTYPE;
BEGIN
  SELECT * INTO a FROM accounts WHERE account_token = p_account;
  IF FOUND AND a.balance - a.held < -a.credit_line THEN
    PERFORM ledger_emit_account_event('ledger.account.overdrawn', p_account, -(a.balance - a.held),
      jsonb_build_object('kind', p_cause, 'forced', true));
  END IF;
END
$$;
