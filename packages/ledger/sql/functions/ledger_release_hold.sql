-- hold.release (a manual, audited release), once per command message_id.
CREATE OR REPLACE FUNCTION ledger_release_hold (p_hold text, p_reason text, p_operator text, p_message_id text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
  v_result jsonb;
  v_released bigint;
BEGIN
  IF NOT ledger_lc_claim('manual_release', p_message_id, clock_timestamp()) THEN
    SELECT result INTO v_result FROM effects WHERE kind = 'manual_release' AND key = p_message_id;
    RETURN v_result || jsonb_build_object('outcome', 'duplicate');
  END IF;
  SELECT * INTO h FROM holds WHERE hold_token = p_hold FOR UPDATE;
  IF NOT FOUND THEN
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
  UPDATE effects SET result = v_result WHERE kind = 'manual_release' AND key = p_message_id;
  RETURN v_result;
END
$$;
