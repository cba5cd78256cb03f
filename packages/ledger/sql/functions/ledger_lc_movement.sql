-- Money that moves without a hold: force capture and chargeback reversal (forced debits),
-- refund and chargeback credit (credits). Never waits for a purchase; only for the account. A
-- refund or chargeback of a purchase we can match goes to that purchase's account. Its currency
-- must be the account's. Effect key: (p_kind, message token).
CREATE OR REPLACE FUNCTION ledger_lc_movement (e jsonb, p_kind text, p_direction integer, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_amount bigint;
  v_hold text;
  v_account text;
  mt record;
BEGIN
  IF NOT ledger_lc_claim(p_kind, v_tx, p_now) OR ledger_lc_seen(p_kind, v_tx) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  SELECT * INTO mt FROM ledger_lc_match(e);
  IF p_kind <> 'force_capture' THEN
    v_hold := mt.hold_token;
  END IF;
  IF v_hold IS NOT NULL THEN
    SELECT account_token INTO v_account FROM holds WHERE hold_token = v_hold FOR UPDATE;
    PERFORM ledger_lc_link(v_hold, v_tx, p_now);
  ELSE
    v_account := ledger_lc_funding_account(e, mt.decision_token);
  END IF;
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = p_kind AND key = v_tx;
    RETURN ledger_lc_park(e, ledger_lc_no_account_reason(e), p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  IF p_direction > 0 THEN
    PERFORM ledger_lc_credit(v_account, v_amount, p_kind, v_tx, e, coalesce(e->>'method', e->>'type'));
  ELSE
    PERFORM ledger_lc_debit(v_account, v_amount, p_kind, v_tx, e, coalesce(e->>'method', e->>'type'));
  END IF;
  PERFORM ledger_lc_record(p_kind, v_tx, NULL, v_hold, v_account, v_amount, p_direction < 0, p_now);
  RETURN ledger_lc_result('applied', CASE WHEN p_direction > 0 THEN 'credited' ELSE 'debited' END, NULL, v_hold);
END
$$;
