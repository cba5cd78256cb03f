-- Money that moves without a hold: force capture and chargeback reversal (forced debits),
-- refund and chargeback credit (credits). Never waits for a purchase; only for the account.
CREATE OR REPLACE FUNCTION ledger_lc_movement (e jsonb, p_kind text, p_direction integer, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_amount bigint;
  v_hold text;
  v_account text;
BEGIN
  IF NOT ledger_lc_claim(p_kind, v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  IF p_kind <> 'force_capture' THEN
    -- A refund or chargeback of a purchase we know goes to that purchase's account.
    v_hold := ledger_lc_find_hold(e);
  END IF;
  IF v_hold IS NOT NULL THEN
    SELECT account_token INTO v_account FROM holds WHERE hold_token = v_hold FOR UPDATE;
    PERFORM ledger_lc_link(v_hold, e->>'event_token', p_now);
  ELSE
    v_account := ledger_lc_account(e);
  END IF;
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = p_kind AND key = v_key;
    RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  IF p_direction > 0 THEN
    PERFORM ledger_lc_credit(v_account, v_amount, p_kind, v_key, e, coalesce(e->>'method', e->>'type'));
  ELSE
    PERFORM ledger_lc_debit(v_account, v_amount, p_kind, v_key, e, coalesce(e->>'method', e->>'type'));
  END IF;
  UPDATE effects SET result = jsonb_strip_nulls(jsonb_build_object('account', v_account, 'amount', v_amount, 'hold', v_hold))
  WHERE kind = p_kind AND key = v_key;
  RETURN ledger_lc_result('applied', CASE WHEN p_direction > 0 THEN 'credited' ELSE 'debited' END, NULL, v_hold);
END
$$;
