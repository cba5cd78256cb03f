-- hold.release (a manual, audited release), once per command message_id. Whether it was applied
-- is read from the hold's history (never purged), not from `effects` (an idempotency record the
-- purge deletes): a repeat after the purge is still a duplicate.
CREATE OR REPLACE FUNCTION ledger_release_hold (p_hold text, p_reason text, p_operator text, p_message_id text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
  v_result jsonb;
  v_released bigint;
  v_claimed boolean;
BEGIN
  v_claimed := ledger_lc_claim('manual_release', p_message_id, clock_timestamp());
  SELECT * INTO h FROM holds WHERE hold_token = p_hold FOR UPDATE;
  SELECT jsonb_build_object('outcome', 'duplicate', 'hold_token', p_hold, 'state', h.state, 'released', hh.amount) INTO v_result
  FROM hold_history hh WHERE hh.hold_token = p_hold AND hh.effect_key = 'manual_release:' || p_message_id;
  IF v_result IS NOT NULL THEN
    RETURN v_result;
  END IF;
  IF NOT v_claimed THEN
    -- answered before without a release (unknown or not open): it changed nothing then either
    RETURN jsonb_build_object('outcome', 'duplicate', 'hold_token', p_hold, 'state', h.state, 'released', 0);
  END IF;
  IF h.hold_token IS NULL THEN
    v_result := jsonb_build_object('outcome', 'not_found', 'hold_token', p_hold, 'released', 0);
  ELSIF h.state <> 'OPEN' THEN
    v_result := jsonb_build_object('outcome', 'not_open', 'hold_token', p_hold, 'state', h.state, 'released', 0);
  ELSE
    v_released := h.remaining;
    h := ledger_lc_release(p_hold, v_released, true, 'CLOSED', 'released_manually', 'manual_release:' || p_message_id,
      jsonb_build_object('cause', 'hold.release', 'reason', p_reason, 'operator', p_operator, 'message_id', p_message_id),
      clock_timestamp(), 'ledger.hold.released', p_message_id);
    v_result := jsonb_build_object('outcome', 'applied', 'hold_token', p_hold, 'state', h.state, 'released', v_released);
  END IF;
  RETURN v_result;
END
$$;
