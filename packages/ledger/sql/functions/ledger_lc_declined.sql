-- A DECLINED (or ERROR) authorization or incremental, typically gateway_log.timed_out: what this
-- message holds is released (a late approval repaired). It is matched to its own decision or
-- hold only (ledger_lc_match `own`), never to another purchase through original or preceding
-- links. A repair needs no amount and ignores the currency field: what goes back is what this
-- message holds. Before any decision of ours it leaves a tombstone (the claimed decision row) so
-- our late commit places no hold. Effect key: (p_kind_declined, message token).
CREATE OR REPLACE FUNCTION ledger_lc_declined (e jsonb, p_kind text, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_claimed boolean;
  v_hold text;
  v_on bigint;
  v_release bigint;
  v_reason text;
  v_was_open boolean;
  mt record;
  d decisions%ROWTYPE;
  m ledger_messages%ROWTYPE;
  h holds%ROWTYPE;
BEGIN
  v_claimed := ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim(p_kind || '_declined', v_tx, p_now)
     OR EXISTS (SELECT 1 FROM ledger_messages WHERE kind = p_kind AND message_token = v_tx AND repaired_at IS NOT NULL) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_reason := 'late approval repaired: the processor declined ' || coalesce(e->>'type', p_kind)
    || CASE WHEN coalesce((e->>'timed_out')::boolean, false) THEN ' after the gateway timed out' ELSE '' END;

  -- the message row before matching: a decision of this message in flight holds it (jit_decide)
  m := ledger_lc_message(p_kind, v_tx);
  SELECT * INTO mt FROM ledger_lc_match(e);
  IF mt.decision_token IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = mt.decision_token;
  END IF;
  IF d.outcome = 'approved' AND d.kind = p_kind THEN
    -- its decision's own hold only (an incremental's: the purchase it grew)
    v_hold := CASE WHEN mt.own THEN mt.hold_token END;
    v_on := CASE WHEN m.webhook_at IS NOT NULL THEN m.amount ELSE d.amount END;
  ELSIF m.hold_token IS NOT NULL THEN
    -- a stand-in hold (or growth) this message's own webhook made
    v_hold := m.hold_token;
    v_on := m.amount;
  ELSIF p_kind = 'authorization' AND mt.own AND (d.jit_token IS NULL OR d.kind = 'authorization') THEN
    v_hold := mt.hold_token;
  END IF;
  IF v_hold IS NOT NULL THEN
    SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  END IF;
  IF v_hold IS NULL OR h.hold_token IS NULL THEN
    UPDATE ledger_messages SET repaired_at = p_now, jit_token = coalesce(jit_token, d.jit_token)
    WHERE kind = p_kind AND message_token = v_tx;
    IF v_claimed THEN
      RETURN ledger_lc_result('applied', 'tombstone', 'no decision yet: a late approval of this token will place no hold');
    END IF;
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'no hold was placed for it');
  END IF;
  h := ledger_lc_link(v_hold, v_tx, p_now);
  v_release := 0;
  v_was_open := h.state = 'OPEN';
  IF v_was_open THEN
    IF p_kind = 'authorization' THEN
      -- The purchase never happened: everything still held for it goes back.
      v_release := h.remaining;
      h := ledger_lc_release(v_hold, v_release, true, 'CLOSED', 'released', p_kind || '_declined:' || v_tx,
        jsonb_build_object('cause', 'authorization.declined', 'reason', v_reason, 'transaction_token', v_tx), p_now, 'ledger.hold.released');
    ELSE
      v_release := least(greatest(coalesce(v_on, 0) - m.repaired_amount, 0), h.remaining);
      h := ledger_lc_release(v_hold, v_release, false, 'OPEN', 'released', p_kind || '_declined:' || v_tx,
        jsonb_build_object('cause', 'incremental.declined', 'reason', v_reason, 'transaction_token', v_tx), p_now, 'ledger.hold.released');
    END IF;
  END IF;
  UPDATE ledger_messages SET repaired_at = p_now, repaired_amount = repaired_amount + v_release,
    jit_token = coalesce(jit_token, d.jit_token), hold_token = coalesce(hold_token, v_hold)
  WHERE kind = p_kind AND message_token = v_tx;
  IF NOT v_was_open THEN
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'hold ' || h.state, v_hold);
  END IF;
  RETURN ledger_lc_result('applied', 'hold_released', v_reason, v_hold);
END
$$;
