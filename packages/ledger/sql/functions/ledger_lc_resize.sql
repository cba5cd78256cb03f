-- Grows (p_delta > 0) or shrinks (p_delta < 0, at most the remainder) a hold's authorization;
-- returns the change applied. Growth here is the processor's word, so it is forced.
CREATE OR REPLACE FUNCTION ledger_lc_resize (p_hold text, p_delta bigint, p_effect_key text, p_cause text, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
  v bigint := p_delta;
BEGIN
  SELECT * INTO h FROM holds WHERE hold_token = p_hold;
  IF NOT FOUND OR h.state <> 'OPEN' OR p_delta = 0 THEN
    RETURN 0;
  END IF;
  IF v < 0 THEN
    v := -least(-v, h.remaining);
  END IF;
  UPDATE holds SET authorized = authorized + v, last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = p_hold RETURNING * INTO h;
  UPDATE accounts SET held = held + v, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (p_hold, CASE WHEN v > 0 THEN 'increased' ELSE 'decreased' END, abs(v), p_effect_key, jsonb_build_object('cause', p_cause));
  PERFORM ledger_emit_hold_event(CASE WHEN v > 0 THEN 'ledger.hold.increased' ELSE 'ledger.hold.released' END,
    h, abs(v), jsonb_build_object('cause', p_cause, 'effect_key', p_effect_key));
  IF v > 0 THEN
    PERFORM ledger_check_overdrawn(h.account_token, p_cause);
  END IF;
  RETURN v;
END
$$;
