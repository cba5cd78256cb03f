-- A purchase's authorization (PENDING): confirms our decision (resizing the hold to the
-- message's amount), or opens a forced hold for one we never decided (stand-in / timeout).
-- `p_kind` is 'authorization' or 'incremental' (an incremental grows the original's hold).
CREATE OR REPLACE FUNCTION ledger_lc_authorization (e jsonb, p_kind text, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_tx text := e->>'event_token';
  v_amount bigint := (e->>'amount')::bigint;
  v_new boolean;
  v_hold text;
  v_account text;
  v_delta bigint;
  v_effect text;
  eff effects%ROWTYPE;
  h holds%ROWTYPE;
BEGIN
  PERFORM ledger_lc_claim_decision(e, p_now);
  v_new := ledger_lc_claim(p_kind, v_key, p_now);
  SELECT * INTO eff FROM effects WHERE kind = p_kind AND key = v_key FOR UPDATE;
  IF eff.result ? 'webhook' THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied', eff.result->>'hold');
  END IF;

  IF NOT v_new THEN
    -- Our JIT decision placed (or grew) the hold under this key: the webhook confirms it.
    v_hold := coalesce(eff.result->>'hold', v_key);
    SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
    v_effect := 'hold_confirmed';
    v_delta := 0;
    IF FOUND THEN
      PERFORM ledger_lc_link(v_hold, v_tx, p_now);
      IF v_amount IS NOT NULL AND v_amount <> coalesce((eff.result->>'amount')::bigint, v_amount) THEN
        v_delta := ledger_lc_resize(v_hold, v_amount - (eff.result->>'amount')::bigint, p_kind || ':' || v_key, 'webhook.resize', p_now);
        IF v_delta <> 0 THEN v_effect := 'hold_resized'; END IF;
      END IF;
    END IF;
    UPDATE effects SET result = result || jsonb_build_object('webhook', v_tx,
      'amount', coalesce((result->>'amount')::bigint, 0) + v_delta)
    WHERE kind = p_kind AND key = v_key;
    RETURN ledger_lc_result('applied', v_effect, NULL, v_hold);
  END IF;

  -- Never decided by us: the processor approved it on its own (stand-in, or past our deadline).
  v_amount := ledger_lc_require_amount(e);
  IF p_kind = 'incremental' THEN
    v_hold := ledger_lc_find_hold(e);
    IF v_hold IS NULL THEN
      DELETE FROM effects WHERE kind = p_kind AND key = v_key;
      RETURN ledger_lc_park(e, 'the incremental''s original authorization is not known yet', p_park, p_now);
    END IF;
    SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
    h := ledger_lc_link(v_hold, v_tx, p_now);
    IF h.state <> 'OPEN' THEN
      -- A closed hold never reopens; its clearings are plain debits, so nothing is lost.
      UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', 0, 'webhook', v_tx, 'skipped', 'hold ' || h.state)
      WHERE kind = p_kind AND key = v_key;
      RETURN ledger_lc_result('applied', 'hold_not_open', 'hold ' || h.state, v_hold);
    END IF;
    PERFORM ledger_lc_check_currency(h.account_token, e);
    PERFORM ledger_lc_resize(v_hold, v_amount, p_kind || ':' || v_key, 'standin.incremental', p_now);
    UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', v_amount, 'forced', true, 'webhook', v_tx)
    WHERE kind = p_kind AND key = v_key;
    RETURN ledger_lc_result('applied', 'standin_hold_increased', NULL, v_hold);
  END IF;

  v_account := ledger_lc_account(e);
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = p_kind AND key = v_key;
    RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  SELECT * INTO h FROM holds WHERE hold_token = v_key FOR UPDATE;
  IF FOUND THEN
    -- Cannot come from jit_decide (it records its effect with the hold); keep the one hold.
    PERFORM ledger_lc_link(v_key, v_tx, p_now);
  ELSE
    INSERT INTO holds (hold_token, account_token, user_token, card_token, currency, mcc, transaction_tokens,
      authorized, forced, opened_at, last_activity_at)
    SELECT v_key, a.account_token, e->>'user_token', e->>'card_token', a.currency, e->>'mcc', ARRAY[v_tx],
      v_amount, true, p_now, p_now
    FROM accounts a WHERE a.account_token = v_account;
    UPDATE accounts SET held = held + v_amount, updated_at = clock_timestamp() WHERE account_token = v_account;
    INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
    VALUES (v_key, 'placed', v_amount, p_kind || ':' || v_key, jsonb_strip_nulls(jsonb_build_object(
      'forced', true, 'standin_approved_by', e->>'standin_approved_by', 'timed_out', (e->>'timed_out')::boolean)));
    h := ledger_lc_link(v_key, v_tx, p_now);
    PERFORM ledger_emit_hold_event('ledger.hold.placed', h, v_amount, jsonb_strip_nulls(jsonb_build_object(
      'cause', 'standin', 'transaction_token', v_tx, 'standin_approved_by', e->>'standin_approved_by')));
    PERFORM ledger_check_overdrawn(v_account, 'standin');
  END IF;
  UPDATE effects SET result = jsonb_build_object('hold', v_key, 'amount', v_amount, 'forced', true, 'webhook', v_tx)
  WHERE kind = p_kind AND key = v_key;
  RETURN ledger_lc_result('applied', 'standin_hold', NULL, v_key);
END
$$;
