-- The one matching rule (docs/ledger.md "Keys"), used by every event type: which decision this very
-- message is, and which purchase's hold it belongs to. A message belongs to a purchase when any
-- identifier the processor gave links them, whichever of them it happened to carry:
--   decision_token  the JIT decision of this network message: its jit_funding.token, its
--                   gateway_log.transaction_id (as a JIT token or a request token), or its own
--                   `token` equal to the request token jit_decide recorded (decisions.transaction_token)
--   hold_token      that decision's hold (an incremental's: its original's; ledger_lc_decision_hold,
--                   which also finds a stand-in hold placed before the decision), else a hold keyed
--                   or linked by this message's own identifiers (a stand-in hold, a redelivery);
--                   `own` is true up to here. Else (own false) original_jit_funding_token, then
--                   preceding_related_transaction_token through the transaction tokens on holds,
--                   the request tokens of our decisions and the messages applied before.
-- A repair (DECLINED) only ever uses an `own` hold: following another message's links could
-- release a different purchase.
CREATE OR REPLACE FUNCTION ledger_lc_match (e jsonb, OUT decision_token text, OUT hold_token text, OUT own boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_jit text := e->>'jit_token';
  v_gw text := e->>'gateway_token';
  v_tx text := e->>'event_token';
  v_orig text := e->>'original_jit_token';
  v_prec text := e->>'preceding_token';
  v_link text;
  d decisions%ROWTYPE;
  a decisions%ROWTYPE;
BEGIN
  IF v_jit IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = v_jit;
  END IF;
  IF d.jit_token IS NULL AND v_gw IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = v_gw OR transaction_token = v_gw
    ORDER BY jit_token = v_gw DESC, created_at LIMIT 1;
  END IF;
  IF d.jit_token IS NULL THEN
    SELECT * INTO d FROM decisions WHERE transaction_token = v_tx ORDER BY created_at LIMIT 1;
  END IF;
  -- The same network message asked again under another JIT token: that later ask was declined
  -- DUPLICATE_TRANSACTION, and the message's decision is the one we approved for its token.
  IF d.jit_token IS NOT NULL AND d.outcome <> 'approved' AND d.transaction_token IS NOT NULL THEN
    SELECT * INTO a FROM decisions
    WHERE transaction_token = d.transaction_token AND kind = d.kind AND outcome = 'approved' ORDER BY created_at LIMIT 1;
    IF a.jit_token IS NOT NULL THEN
      d := a;
    END IF;
  END IF;
  decision_token := d.jit_token;
  own := true;

  IF d.jit_token IS NOT NULL THEN
    hold_token := ledger_lc_decision_hold(d.jit_token);
  END IF;
  -- UNION ALL, not OR: each branch uses its index (an OR of the key and the GIN array scans the table)
  IF hold_token IS NULL THEN
    SELECT x.hold_token INTO hold_token FROM (
      SELECT h.hold_token, h.opened_at FROM holds h WHERE h.hold_token IN (v_jit, v_gw, v_tx)
      UNION ALL
      SELECT h.hold_token, h.opened_at FROM holds h WHERE h.transaction_tokens @> ARRAY[v_tx]
      UNION ALL
      SELECT h.hold_token, h.opened_at FROM holds h WHERE v_gw IS NOT NULL AND h.transaction_tokens @> ARRAY[v_gw]
    ) x ORDER BY x.opened_at LIMIT 1;
  END IF;
  IF hold_token IS NOT NULL THEN
    RETURN;
  END IF;

  own := false;
  IF v_orig IS NOT NULL THEN
    hold_token := ledger_lc_decision_hold(v_orig);
  END IF;
  IF hold_token IS NULL AND v_prec IS NOT NULL THEN
    SELECT x.hold_token INTO hold_token FROM (
      SELECT h.hold_token, h.opened_at FROM holds h WHERE h.hold_token = v_prec
      UNION ALL
      SELECT h.hold_token, h.opened_at FROM holds h WHERE h.transaction_tokens @> ARRAY[v_prec]
    ) x ORDER BY x.opened_at LIMIT 1;
    IF hold_token IS NULL THEN
      SELECT ledger_lc_decision_hold(pd.jit_token) INTO hold_token FROM decisions pd
      WHERE pd.transaction_token = v_prec ORDER BY pd.created_at LIMIT 1;
    END IF;
    IF hold_token IS NULL THEN
      SELECT m.hold_token INTO hold_token FROM ledger_messages m
      WHERE m.message_token = v_prec AND m.hold_token IS NOT NULL ORDER BY m.created_at LIMIT 1;
    END IF;
  END IF;
  -- A parked event's retry: the identifiers its other copies carried, whatever their role (a
  -- JIT token, a request token, a hold's transaction token).
  IF hold_token IS NULL AND e ? 'copy_links' THEN
    FOR v_link IN SELECT jsonb_array_elements_text(e->'copy_links') LOOP
      SELECT ledger_lc_decision_hold(d2.jit_token) INTO hold_token FROM decisions d2
      WHERE d2.jit_token = v_link OR d2.transaction_token = v_link ORDER BY d2.created_at LIMIT 1;
      IF hold_token IS NULL THEN
        SELECT h.hold_token INTO hold_token FROM holds h
        WHERE h.hold_token = v_link OR h.transaction_tokens @> ARRAY[v_link] ORDER BY h.opened_at LIMIT 1;
      END IF;
      EXIT WHEN hold_token IS NOT NULL;
    END LOOP;
  END IF;
  IF hold_token IS NULL THEN
    own := NULL;
  END IF;
END
$$;
