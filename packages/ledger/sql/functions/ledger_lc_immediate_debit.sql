-- pgfs.auth_plus_capture / single-message pgfs.pindebit*: the webhook of the network message we
-- decided (matched by any identifier, ledger_lc_match) confirms our immediate debit, once; the
-- network's amount wins over ours (the difference is posted); its currency must be the
-- account's. One we never approved is a forced debit. Effect key: (immediate_debit.webhook,
-- message token).
CREATE OR REPLACE FUNCTION ledger_lc_immediate_debit (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_amount bigint := (e->>'amount')::bigint;
  v_account text;
  v_ours bigint;
  v_effect text := 'debit_confirmed';
  mt record;
  d decisions%ROWTYPE;
  m ledger_messages%ROWTYPE;
  h holds%ROWTYPE;
BEGIN
  PERFORM ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim('immediate_debit.webhook', v_tx, p_now) OR ledger_lc_seen('immediate_debit', v_tx) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  -- the message row before matching: a decision of this message in flight holds it (jit_decide)
  m := ledger_lc_message('immediate_debit', v_tx);
  SELECT * INTO mt FROM ledger_lc_match(e);
  IF mt.decision_token IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = mt.decision_token;
  END IF;

  IF d.outcome = 'approved' AND d.kind = 'immediate_debit' THEN
    IF EXISTS (SELECT 1 FROM ledger_messages WHERE kind = 'immediate_debit' AND jit_token = d.jit_token AND webhook_at IS NOT NULL) THEN
      RETURN ledger_lc_result('duplicate', NULL, 'decision already confirmed');
    END IF;
    v_account := d.account_token;
    PERFORM ledger_lc_check_currency(v_account, e);
    -- what stands debited for it now (a DECLINED repair seen first credited it back)
    v_ours := d.amount - m.repaired_amount;
    v_amount := coalesce(v_amount, v_ours);
    IF m.repaired_at IS NULL AND v_amount > v_ours THEN
      PERFORM ledger_lc_debit(v_account, v_amount - v_ours, 'immediate_debit_adjustment', v_tx, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    ELSIF m.repaired_at IS NULL AND v_amount < v_ours THEN
      PERFORM ledger_lc_credit(v_account, v_ours - v_amount, 'immediate_debit_adjustment', v_tx, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    ELSE
      v_amount := v_ours;
    END IF;
    PERFORM ledger_lc_record('immediate_debit', v_tx, d.jit_token, NULL, v_account, v_amount, false, p_now);
    RETURN ledger_lc_result('applied', v_effect, NULL);
  END IF;

  -- Never approved by us, and declined by the processor first: the repair wins in either order,
  -- whichever kind recorded it (a bare DECLINED copy is routed as an authorization).
  IF m.repaired_at IS NOT NULL OR EXISTS (SELECT 1 FROM ledger_messages WHERE kind = 'authorization'
                                            AND message_token = v_tx AND repaired_at IS NOT NULL) THEN
    PERFORM ledger_lc_record('immediate_debit', v_tx, d.jit_token, NULL, NULL, 0, false, p_now);
    RETURN ledger_lc_result('applied', 'declined_before', 'the processor declined this message before it approved it');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  v_account := ledger_lc_funding_account(e, d.jit_token);
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = 'immediate_debit.webhook' AND key = v_tx;
    RETURN ledger_lc_park(e, ledger_lc_no_account_reason(e), p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  -- its bare copy came first and opened a stand-in hold: the debit replaces that hold
  FOR h IN SELECT * FROM ledger_lc_standin_debit_hold(v_tx) LOOP
    PERFORM ledger_lc_release(h.hold_token, h.remaining, true, 'CLOSED', 'released', 'immediate_debit:' || v_tx,
      jsonb_build_object('cause', 'standin_hold_was_a_debit', 'transaction_token', v_tx), p_now, 'ledger.hold.released');
  END LOOP;
  PERFORM ledger_lc_debit(v_account, v_amount, 'immediate_debit', v_tx, e,
    CASE WHEN coalesce((e->>'past_horizon')::boolean, false) THEN 'past_park_horizon.' ELSE 'standin.' END || coalesce(e->>'method', e->>'type'));
  PERFORM ledger_lc_record('immediate_debit', v_tx, d.jit_token, NULL, v_account, v_amount, true, p_now);
  RETURN ledger_lc_result('applied', 'debited', NULL);
END
$$;
