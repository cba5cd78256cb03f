-- The hold of a decision's purchase: keyed by the purchase's JIT token (an incremental's: its
-- original's), else the hold that carries the purchase's request token. The second is a stand-in
-- hold its webhook opened before our decision (without jit_funding it is keyed by the message's
-- transaction token): the decision recorded that same token, so it is the same purchase, and a
-- follow-up linked only through the decision's JIT token belongs to that hold.
CREATE OR REPLACE FUNCTION ledger_lc_decision_hold (p_jit text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_purchase text;
  v_tx text;
  v_hold text;
BEGIN
  SELECT CASE WHEN d.kind = 'authorization' THEN d.jit_token ELSE coalesce(d.original_jit_token, d.jit_token) END
  INTO v_purchase FROM decisions d WHERE d.jit_token = p_jit;
  v_purchase := coalesce(v_purchase, p_jit);
  SELECT h.hold_token INTO v_hold FROM holds h WHERE h.hold_token = v_purchase;
  IF v_hold IS NULL THEN
    SELECT transaction_token INTO v_tx FROM decisions WHERE jit_token = v_purchase;
    IF v_tx IS NOT NULL THEN
      SELECT h.hold_token INTO v_hold FROM holds h WHERE h.transaction_tokens @> ARRAY[v_tx] ORDER BY h.opened_at LIMIT 1;
    END IF;
  END IF;
  RETURN v_hold;
END
$$;
