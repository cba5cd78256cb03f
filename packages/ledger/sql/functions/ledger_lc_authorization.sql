-- A purchase's authorization or incremental webhook (PENDING). The message is matched to our
-- decision of it by any identifier (ledger_lc_match): then it confirms that decision, once,
-- resizing the hold to the message's amount when it differs; its currency must be the hold's.
-- A message we never approved (stand-in, a timeout the processor approved anyway, our own
-- decline) opens a forced hold (an incremental grows its purchase's hold), never a second one.
-- `p_kind` is 'authorization' or 'incremental'. Effect key: (p_kind.webhook, message token).
CREATE OR REPLACE FUNCTION ledger_lc_authorization (e jsonb, p_kind text, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_tx text := e->>'event_token';
  v_amount bigint := (e->>'amount')::bigint;
  v_hold text;
  v_account text;
  v_current bigint;
  v_delta bigint := 0;
  v_effect text := 'hold_confirmed';
  mt record;
  d decisions%ROWTYPE;
  h holds%ROWTYPE;
BEGIN
  PERFORM ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim(p_kind || '.webhook', v_tx, p_now) OR ledger_lc_seen(p_kind, v_tx) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied',
      (SELECT hold_token FROM ledger_messages WHERE kind = p_kind AND message_token = v_tx));
  END IF;
  -- the message row before the hold (the lock order a DECLINED of the same message takes too)
  PERFORM ledger_lc_message(p_kind, v_tx);
  SELECT * INTO mt FROM ledger_lc_match(e);
  IF mt.decision_token IS NOT NULL THEN
    SELECT * INTO d FROM decisions WHERE jit_token = mt.decision_token;
  END IF;

  IF d.outcome = 'approved' AND d.kind = p_kind THEN
    -- Our decision of this very message: confirmed once, whichever message token carries it.
    IF EXISTS (SELECT 1 FROM ledger_messages WHERE kind = p_kind AND jit_token = d.jit_token AND webhook_at IS NOT NULL) THEN
      RETURN ledger_lc_result('duplicate', NULL, 'decision already confirmed', mt.hold_token);
    END IF;
    v_hold := mt.hold_token;
    v_current := d.amount;
    IF v_hold IS NOT NULL THEN
      SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
      PERFORM ledger_lc_check_currency(h.account_token, e);
      PERFORM ledger_lc_link(v_hold, v_tx, p_now);
      -- a repair (DECLINED) seen first already gave this message's money back: nothing to resize
      IF v_amount IS NOT NULL AND v_amount <> v_current
         AND NOT EXISTS (SELECT 1 FROM ledger_messages WHERE kind = p_kind AND message_token = v_tx AND repaired_at IS NOT NULL) THEN
        v_delta := ledger_lc_resize(v_hold, v_amount - v_current, p_kind || ':' || v_tx, 'webhook.resize', p_now);
        IF v_delta <> 0 THEN v_effect := 'hold_resized'; END IF;
      END IF;
    END IF;
    PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, v_hold, h.account_token, v_current + v_delta, false, p_now);
    RETURN ledger_lc_result('applied', v_effect, NULL, v_hold);
  END IF;

  -- Never approved by us: the processor approved it on its own (stand-in, or past our deadline).
  -- Unless it declined this very message first (its DECLINED was applied before): the repair
  -- wins in either order of arrival, so this approval places and grows nothing.
  IF EXISTS (SELECT 1 FROM ledger_messages WHERE kind = p_kind AND message_token = v_tx AND repaired_at IS NOT NULL) THEN
    PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, NULL, NULL, 0, false, p_now);
    RETURN ledger_lc_result('applied', 'declined_before', 'the processor declined this message before it approved it');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  IF p_kind = 'incremental' THEN
    v_hold := mt.hold_token;
    IF v_hold IS NULL THEN
      DELETE FROM effects WHERE kind = p_kind || '.webhook' AND key = v_tx;
      RETURN ledger_lc_park(e, 'the incremental''s original authorization is not known yet', p_park, p_now);
    END IF;
    SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
    PERFORM ledger_lc_check_currency(h.account_token, e);
    h := ledger_lc_link(v_hold, v_tx, p_now);
    IF h.state <> 'OPEN' THEN
      -- A closed hold never reopens; its clearings are plain debits, so nothing is lost.
      PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, v_hold, h.account_token, 0, true, p_now);
      RETURN ledger_lc_result('applied', 'hold_not_open', 'hold ' || h.state, v_hold);
    END IF;
    v_delta := ledger_lc_resize(v_hold, v_amount, p_kind || ':' || v_tx, 'standin.incremental', p_now);
    PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, v_hold, h.account_token, v_delta, true, p_now);
    RETURN ledger_lc_result('applied', 'standin_hold_increased', NULL, v_hold);
  END IF;

  IF mt.own AND mt.hold_token IS NOT NULL AND (d.jit_token IS NULL OR d.kind = 'authorization') THEN
    -- A hold for this message exists already (keyed or linked by its identifiers): keep the one hold.
    SELECT * INTO h FROM holds WHERE hold_token = mt.hold_token FOR UPDATE;
    PERFORM ledger_lc_check_currency(h.account_token, e);
    PERFORM ledger_lc_link(mt.hold_token, v_tx, p_now);
    PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, mt.hold_token, h.account_token, 0, false, p_now);
    RETURN ledger_lc_result('applied', 'hold_linked', 'a hold for this message exists', mt.hold_token);
  END IF;

  v_account := ledger_lc_funding_account(e, d.jit_token);
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = p_kind || '.webhook' AND key = v_tx;
    RETURN ledger_lc_park(e, ledger_lc_no_account_reason(e), p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  -- keyed by the purchase's JIT token, else (no jit_funding) by the message's own token
  v_hold := coalesce(d.jit_token, e->>'jit_token', v_tx);
  INSERT INTO holds (hold_token, account_token, user_token, card_token, currency, mcc, transaction_tokens,
    authorized, forced, opened_at, last_activity_at)
  SELECT v_hold, a.account_token, e->>'user_token', e->>'card_token', a.currency, e->>'mcc', ARRAY[v_tx],
    v_amount, true, p_now, p_now
  FROM accounts a WHERE a.account_token = v_account;
  UPDATE accounts SET held = held + v_amount, updated_at = clock_timestamp() WHERE account_token = v_account;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (v_hold, 'placed', v_amount, p_kind || ':' || v_tx, jsonb_strip_nulls(jsonb_build_object(
    'forced', true, 'standin_approved_by', e->>'standin_approved_by', 'timed_out', (e->>'timed_out')::boolean)));
  h := ledger_lc_link(v_hold, v_tx, p_now);
  PERFORM ledger_emit_hold_event('ledger.hold.placed', h, v_amount, jsonb_strip_nulls(jsonb_build_object(
    'cause', 'standin', 'transaction_token', v_tx, 'effect_key', p_kind || ':' || v_tx,
    'standin_approved_by', e->>'standin_approved_by')));
  PERFORM ledger_check_overdrawn(v_account, 'standin');
  PERFORM ledger_lc_record(p_kind, v_tx, d.jit_token, v_hold, v_account, v_amount, true, p_now);
  RETURN ledger_lc_result('applied', 'standin_hold', NULL, v_hold);
END
$$;
