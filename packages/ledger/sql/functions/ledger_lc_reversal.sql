-- authorization.reversal, or an advice with method pgfs.authorization.reversal: release
-- min(A, R), all of R without an amount; a reversal that leaves nothing closes the hold. Its
-- currency must be the hold's. Effect key: (reversal, message token).
CREATE OR REPLACE FUNCTION ledger_lc_reversal (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_hold text;
  v_release bigint;
  h holds%ROWTYPE;
BEGIN
  IF NOT ledger_lc_claim('reversal', v_tx, p_now) OR ledger_lc_seen('reversal', v_tx) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_hold := (ledger_lc_match(e)).hold_token;
  IF v_hold IS NULL THEN
    DELETE FROM effects WHERE kind = 'reversal' AND key = v_tx;
    RETURN ledger_lc_park(e, 'the reversed authorization is not known yet', p_park, p_now);
  END IF;
  SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  PERFORM ledger_lc_check_currency(h.account_token, e);
  h := ledger_lc_link(v_hold, v_tx, p_now);
  IF h.state <> 'OPEN' THEN
    PERFORM ledger_lc_record('reversal', v_tx, NULL, v_hold, h.account_token, 0, false, p_now);
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'hold ' || h.state, v_hold);
  END IF;
  v_release := CASE WHEN e->>'amount' IS NULL THEN h.remaining ELSE least((e->>'amount')::bigint, h.remaining) END;
  h := ledger_lc_release(v_hold, v_release, h.remaining - v_release = 0, 'CLOSED', 'released', 'reversal:' || v_tx,
    jsonb_strip_nulls(jsonb_build_object('cause', coalesce(e->>'method', e->>'type'), 'transaction_token', v_tx,
      'requested', (e->>'amount')::bigint)), p_now, 'ledger.hold.released');
  PERFORM ledger_lc_record('reversal', v_tx, NULL, v_hold, h.account_token, v_release, false, p_now);
  RETURN ledger_lc_result('applied', 'hold_released', NULL, v_hold);
END
$$;
