-- A DECLINED single-message debit (typically timed out) whose debit we made, by our decision or
-- by its own forced webhook: the money comes back, once, whatever amount or currency the
-- message carries. Matched to its own decision by any identifier (ledger_lc_match).
CREATE OR REPLACE FUNCTION ledger_lc_immediate_debit_declined (e jsonb, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_claimed boolean;
  v_account text;
  v_on bigint;
  v_back bigint;
  mt record;
  d decisions%ROWTYPE;
  m ledger_messages%ROWTYPE;
  h holds%ROWTYPE;
  v_standin text;
BEGIN
  v_claimed := ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim('immediate_debit_declined', v_tx, p_now)
     OR EXISTS (SELECT 1 FROM ledger_messages WHERE kind = 'immediate_debit' AND message_token = v_tx AND repaired_at IS NOT NULL) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  -- the message row before matching: a decision of this message in flight holds it (jit_decide)
  m := ledger_lc_message('immediate_debit', v_tx);
  SELECT * INTO mt FROM ledger_lc_match(e);
  IF mt.decision_token IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = mt.decision_token;
  END IF;
  IF d.outcome = 'approved' AND d.kind = 'immediate_debit' THEN
    v_account := d.account_token;
    v_on := CASE WHEN m.webhook_at IS NOT NULL THEN m.amount ELSE d.amount END;
  ELSIF m.webhook_at IS NOT NULL THEN
    v_account := m.account_token;
    v_on := m.amount;
  END IF;
  -- its bare copy came first and opened a stand-in hold: the message was declined, so that hold
  -- goes back too, and the copy's row is repaired so its later approval copies move nothing
  FOR h IN SELECT * FROM ledger_lc_standin_debit_hold(v_tx) LOOP
    PERFORM ledger_lc_release(h.hold_token, h.remaining, true, 'CLOSED', 'released', 'immediate_debit_declined:' || v_tx,
      jsonb_build_object('cause', 'immediate_debit.declined', 'transaction_token', v_tx), p_now, 'ledger.hold.released');
    UPDATE ledger_messages SET repaired_at = p_now, repaired_amount = repaired_amount + h.remaining
    WHERE kind = 'authorization' AND message_token = v_tx;
    v_standin := h.hold_token;
  END LOOP;
  v_back := greatest(coalesce(v_on, 0) - m.repaired_amount, 0);
  UPDATE ledger_messages SET repaired_at = p_now, repaired_amount = repaired_amount + v_back,
    jit_token = coalesce(jit_token, d.jit_token), account_token = coalesce(account_token, v_account)
  WHERE kind = 'immediate_debit' AND message_token = v_tx;
  IF (v_account IS NULL OR v_back = 0) AND v_standin IS NOT NULL THEN
    RETURN ledger_lc_result('applied', 'hold_released', 'late approval repaired: the stand-in hold of its bare copy', v_standin);
  END IF;
  IF v_account IS NULL OR v_back = 0 THEN
    RETURN ledger_lc_result('applied', CASE WHEN v_claimed THEN 'tombstone' ELSE 'nothing_to_release' END,
      'no debit was made for it');
  END IF;
  PERFORM ledger_lc_credit(v_account, v_back, 'immediate_debit_declined', v_tx, e,
    'late approval repaired: the processor declined ' || coalesce(e->>'type', 'the debit'));
  RETURN ledger_lc_result('applied', 'credited', 'late approval repaired');
END
$$;
