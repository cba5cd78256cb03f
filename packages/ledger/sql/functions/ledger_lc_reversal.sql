-- authorization.reversal, or an advice with method pgfs.authorization.reversal: release
-- min(A, R), all of R without an amount. A reversal that leaves nothing closes the hold.
CREATE OR REPLACE FUNCTION ledger_lc_reversal (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_hold text;
  v_release bigint;
  h holds%ROWTYPE;
BEGIN
  IF NOT ledger_lc_claim('reversal', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_hold := ledger_lc_find_hold(e);
  IF v_hold IS NULL THEN
    DELETE FROM effects WHERE kind = 'reversal' AND key = v_key;
    RETURN ledger_lc_park(e, 'the reversed authorization is not known yet', p_park, p_now);
  END IF;
  SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  h := ledger_lc_link(v_hold, e->>'event_token', p_now);
  IF h.state <> 'OPEN' THEN
    UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', 0) WHERE kind = 'reversal' AND key = v_key;
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'hold ' || h.state, v_hold);
  END IF;
  v_release := CASE WHEN e->>'amount' IS NULL THEN h.remaining ELSE least((e->>'amount')::bigint, h.remaining) END;
  h := ledger_lc_release(v_hold, v_release, h.remaining - v_release = 0, 'CLOSED', 'released', 'reversal:' || v_key,
    jsonb_strip_nulls(jsonb_build_object('cause', coalesce(e->>'method', e->>'type'), 'transaction_token', e->>'event_token',
      'requested', (e->>'amount')::bigint)), p_now, 'ledger.hold.released');
  UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', v_release) WHERE kind = 'reversal' AND key = v_key;
  RETURN ledger_lc_result('applied', 'hold_released', NULL, v_hold);
END
$$;
