-- A DECLINED (or ERROR) authorization or incremental, typically gateway_log.timed_out: the money
-- we held for it is released (a late approval repaired). Before any decision of ours it leaves
-- a tombstone (the claimed decision row) so our late commit places no hold.
CREATE OR REPLACE FUNCTION ledger_lc_declined (e jsonb, p_kind text, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_claimed boolean;
  v_hold text;
  v_release bigint;
  v_reason text;
  eff effects%ROWTYPE;
  h holds%ROWTYPE;
BEGIN
  v_claimed := ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim(p_kind || '_declined', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_reason := 'late approval repaired: the processor declined ' || (e->>'type')
    || CASE WHEN coalesce((e->>'timed_out')::boolean, false) THEN ' after the gateway timed out' ELSE '' END;

  SELECT * INTO eff FROM effects WHERE kind = p_kind AND key = v_key FOR UPDATE;
  IF FOUND THEN
    v_hold := eff.result->>'hold';
  ELSIF p_kind = 'authorization' THEN
    -- only this token's own hold: following original/preceding links could close another
    -- purchase's hold
    v_hold := (SELECT hold_token FROM holds
               WHERE hold_token = v_key OR (e->>'event_token') = ANY (transaction_tokens)
               ORDER BY hold_token = v_key DESC LIMIT 1);
  END IF;
  IF v_hold IS NOT NULL THEN
    SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  END IF;
  IF v_hold IS NULL OR NOT FOUND THEN
    IF v_claimed THEN
      RETURN ledger_lc_result('applied', 'tombstone', 'no decision yet: a late approval of this token will place no hold');
    END IF;
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'no hold was placed for it');
  END IF;
  h := ledger_lc_link(v_hold, e->>'event_token', p_now);
  IF h.state <> 'OPEN' THEN
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'hold ' || h.state, v_hold);
  END IF;
  IF p_kind = 'authorization' THEN
    -- The purchase never happened: everything still held for it goes back.
    h := ledger_lc_release(v_hold, h.remaining, true, 'CLOSED', 'released', p_kind || '_declined:' || v_key,
      jsonb_build_object('cause', 'authorization.declined', 'reason', v_reason, 'transaction_token', e->>'event_token'), p_now, 'ledger.hold.released');
  ELSE
    v_release := least(coalesce((eff.result->>'amount')::bigint, 0), h.remaining);
    h := ledger_lc_release(v_hold, v_release, false, 'OPEN', 'released', p_kind || '_declined:' || v_key,
      jsonb_build_object('cause', 'incremental.declined', 'reason', v_reason, 'transaction_token', e->>'event_token'), p_now, 'ledger.hold.released');
    UPDATE effects SET result = result || jsonb_build_object('released_by_decline', v_release) WHERE kind = p_kind AND key = v_key;
  END IF;
  RETURN ledger_lc_result('applied', 'hold_released', v_reason, v_hold);
END
$$;
