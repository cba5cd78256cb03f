-- Releases `p_amount` (<= remaining) of a hold; `p_close` also closes it in `p_state`, which the
-- table only allows once nothing remains.
CREATE OR REPLACE FUNCTION ledger_lc_release (
  p_hold text, p_amount bigint, p_close boolean, p_state text, p_action text, p_effect_key text,
  p_detail jsonb, p_now timestamptz, p_routing text, p_correlation text DEFAULT NULL
) RETURNS holds LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
BEGIN
  UPDATE holds SET released = released + p_amount,
    state = CASE WHEN p_close THEN p_state ELSE state END,
    closed_at = CASE WHEN p_close THEN p_now ELSE closed_at END,
    last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = p_hold RETURNING * INTO h;
  IF p_amount <> 0 THEN
    UPDATE accounts SET held = held - p_amount, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  END IF;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (p_hold, p_action, p_amount, p_effect_key, p_detail);
  IF p_amount <> 0 OR p_close THEN
    PERFORM ledger_emit_hold_event(p_routing, h, p_amount, p_detail || jsonb_build_object('effect_key', p_effect_key), p_correlation);
  END IF;
  RETURN h;
END
$$;
