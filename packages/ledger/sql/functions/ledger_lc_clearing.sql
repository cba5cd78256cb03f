-- authorization.clearing / pgfs.authorization.capture: balance -= A against network_settlement;
-- captured += min(A, R); the excess is an over-capture; is_final_clearing releases the rest.
-- A closed or expired hold: a plain debit. No hold yet: parked (unless nothing could ever link
-- it, or it outlived the park horizon: the network settled it, so it is a forced plain debit).
-- Its currency must be the hold's or account's. Effect key: (clearing, message token), so
-- several partial clearings of one purchase are several effects.
CREATE OR REPLACE FUNCTION ledger_lc_clearing (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_key text := e->>'event_token';
  v_amount bigint;
  v_hold text;
  v_account text;
  v_capture bigint;
  v_over bigint;
  v_rest bigint;
  v_final boolean := coalesce((e->>'is_final')::boolean, false);
  v_late boolean := coalesce((e->>'past_horizon')::boolean, false);
  mt record;
  h holds%ROWTYPE;
  m ledger_messages%ROWTYPE;
BEGIN
  IF NOT ledger_lc_claim('clearing', v_key, p_now) OR ledger_lc_seen('clearing', v_tx) THEN
    -- A copy of it with nothing to link came first and was a plain debit; this copy links it to
    -- its purchase's open hold: the debit already posted is that hold's capture (nothing is
    -- posted again), so the order of the two copies does not decide the money.
    SELECT * INTO m FROM ledger_messages WHERE kind = 'clearing' AND message_token = v_tx FOR UPDATE;
    IF m.webhook_at IS NOT NULL AND m.hold_token IS NULL AND m.account_token IS NOT NULL THEN
      SELECT * INTO mt FROM ledger_lc_match(e);
      IF mt.hold_token IS NOT NULL THEN
        SELECT * INTO h FROM holds WHERE hold_token = mt.hold_token FOR UPDATE;
        IF h.state = 'OPEN' AND h.account_token = m.account_token THEN
          RETURN ledger_lc_clearing_attach(e, m, h, p_now);
        END IF;
      END IF;
    END IF;
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  SELECT * INTO mt FROM ledger_lc_match(e);
  v_hold := mt.hold_token;
  IF v_hold IS NULL THEN
    -- linkable: it, or another parked copy of it (copy_links), carries an identifier
    IF NOT v_late AND (e->>'original_jit_token' IS NOT NULL OR e->>'jit_token' IS NOT NULL
       OR e->>'gateway_token' IS NOT NULL OR e->>'preceding_token' IS NOT NULL
       OR jsonb_array_length(coalesce(e->'copy_links', '[]')) > 0) THEN
      DELETE FROM effects WHERE kind = 'clearing' AND key = v_key;
      RETURN ledger_lc_park(e, 'the cleared authorization is not known yet', p_park, p_now);
    END IF;
    -- Nothing could ever link it to a hold, or it waited past the horizon: the network settled
    -- it, so it is a plain (forced) debit.
    v_account := ledger_lc_funding_account(e, mt.decision_token);
    IF v_account IS NULL THEN
      DELETE FROM effects WHERE kind = 'clearing' AND key = v_key;
      RETURN ledger_lc_park(e, ledger_lc_no_account_reason(e), p_park, p_now);
    END IF;
    PERFORM ledger_lc_check_currency(v_account, e);
    PERFORM ledger_lc_debit(v_account, v_amount, 'clearing', v_key, e,
      CASE WHEN v_late THEN 'clearing.past_park_horizon' ELSE 'clearing.unlinked' END);
    PERFORM ledger_lc_record('clearing', v_tx, NULL, NULL, v_account, v_amount, true, p_now);
    RETURN ledger_lc_result('applied', 'debited',
      CASE WHEN v_late THEN 'its authorization was not seen within the park horizon' ELSE 'no authorization to match' END);
  END IF;

  SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  PERFORM ledger_lc_check_currency(h.account_token, e);
  h := ledger_lc_link(v_hold, e->>'event_token', p_now);
  IF h.state <> 'OPEN' THEN
    PERFORM ledger_lc_debit(h.account_token, v_amount, 'clearing', v_key, e, 'clearing.after_' || lower(h.state));
    INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
    VALUES (v_hold, 'debited_after_close', v_amount, 'clearing:' || v_key, jsonb_build_object('state', h.state, 'transaction_token', e->>'event_token'));
    PERFORM ledger_lc_record('clearing', v_tx, NULL, v_hold, h.account_token, v_amount, true, p_now);
    RETURN ledger_lc_result('applied', 'debited', 'hold ' || h.state, v_hold);
  END IF;

  v_capture := least(v_amount, h.remaining);
  v_over := v_amount - v_capture;
  IF v_amount > 0 THEN
    PERFORM ledger_post('capture', 'clearing:' || v_key, h.account_token, -v_amount, 'network_settlement', coalesce(e->>'method', e->>'type'));
  END IF;
  UPDATE holds SET captured = captured + v_capture, over_captured = over_captured + v_over,
    last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = v_hold RETURNING * INTO h;
  UPDATE accounts SET held = held - v_capture, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (v_hold, 'captured', v_capture, 'clearing:' || v_key, jsonb_build_object(
    'cleared', v_amount, 'over_captured', v_over, 'final', v_final, 'transaction_token', e->>'event_token'));
  PERFORM ledger_emit_hold_event('ledger.hold.captured', h, v_amount, jsonb_build_object(
    'captured_now', v_capture, 'over_capture', v_over, 'is_final_clearing', v_final,
    'transaction_token', e->>'event_token', 'effect_key', 'clearing:' || v_key,
    'balance', (SELECT balance FROM accounts WHERE account_token = h.account_token),
    'available', (SELECT balance - held FROM accounts WHERE account_token = h.account_token)));
  IF v_over > 0 THEN
    PERFORM ledger_check_overdrawn(h.account_token, 'over_capture');
  END IF;
  v_rest := h.remaining;
  IF v_final THEN
    h := ledger_lc_release(v_hold, v_rest, true, 'CLOSED', 'released', 'clearing:' || v_key,
      jsonb_build_object('cause', 'final_clearing', 'transaction_token', e->>'event_token'), p_now, 'ledger.hold.released');
  END IF;
  PERFORM ledger_lc_record('clearing', v_tx, NULL, v_hold, h.account_token, v_amount, v_over > 0, p_now);
  RETURN ledger_lc_result('applied', CASE WHEN v_over > 0 THEN 'captured_over' ELSE 'captured' END, NULL, v_hold);
END
$$;

-- A clearing already posted as a plain debit (`m`, its copy with nothing to link) joins the open
-- hold `h` its later copy links it to: captured += min(debited, R), the excess an over-capture
-- as a clearing would record; a final clearing releases the rest. The balance does not change
-- (the debit was posted once); only held does.
CREATE OR REPLACE FUNCTION ledger_lc_clearing_attach (e jsonb, m ledger_messages, h holds, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'event_token';
  v_capture bigint := least(m.amount, h.remaining);
  v_final boolean := coalesce((e->>'is_final')::boolean, false);
BEGIN
  PERFORM ledger_lc_check_currency(h.account_token, e);
  h := ledger_lc_link(h.hold_token, v_key, p_now);
  UPDATE holds SET captured = captured + v_capture, over_captured = over_captured + (m.amount - v_capture),
    last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = h.hold_token RETURNING * INTO h;
  UPDATE accounts SET held = held - v_capture, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (h.hold_token, 'captured', v_capture, 'clearing:' || v_key, jsonb_build_object(
    'cleared', m.amount, 'over_captured', m.amount - v_capture, 'final', v_final, 'transaction_token', v_key,
    'debited_before', true));
  PERFORM ledger_emit_hold_event('ledger.hold.captured', h, m.amount, jsonb_build_object(
    'captured_now', v_capture, 'over_capture', m.amount - v_capture, 'is_final_clearing', v_final,
    'transaction_token', v_key, 'effect_key', 'clearing:' || v_key,
    'balance', (SELECT balance FROM accounts WHERE account_token = h.account_token),
    'available', (SELECT balance - held FROM accounts WHERE account_token = h.account_token)));
  IF v_final THEN
    h := ledger_lc_release(h.hold_token, h.remaining, true, 'CLOSED', 'released', 'clearing:' || v_key,
      jsonb_build_object('cause', 'final_clearing', 'transaction_token', v_key), p_now, 'ledger.hold.released');
  END IF;
  UPDATE ledger_messages SET hold_token = h.hold_token WHERE kind = 'clearing' AND message_token = v_key;
  RETURN ledger_lc_result('applied', 'captured_linked', 'its copy without links was debited before; now its hold''s capture', h.hold_token);
END
$$;
