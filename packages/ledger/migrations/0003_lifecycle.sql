-- The transaction lifecycle (LEDGER.md "Rules"): what each processor webhook does to the money,
-- applied exactly once. @jit/ledger (applyTransactionEvent) parses and classifies the webhook and
-- calls ledger_apply_transaction with a normalized event `e`:
--   action          authorization | authorization_declined | incremental | incremental_declined |
--                   reversal | clearing | force_capture | immediate_debit | immediate_debit_declined |
--                   refund | chargeback_credit | chargeback_debit
--   event_token     the transaction's own token
--   key             the effect key: jit_funding.token, else the event token (LEDGER.md "Keys")
--   jit_token, original_jit_token, preceding_token   hold lookup, in that order
--   claim           true when the JIT token is one jit_decide could still decide (see ledger_lc_claim_decision)
--   amount          A in minor units (null when the message carries none), currency, is_final,
--   timed_out, standin_approved_by, user_token, card_token, mcc, method, type, state, jit_kind,
--   now             the time the caller applies it at (tests travel in time), payload (the raw event)
-- Lock order everywhere: the decision claim, the effect key, the hold row, the account row; the
-- parked_events rows are only ever touched without waiting (ON CONFLICT DO NOTHING, SKIP LOCKED),
-- so a retry worker holding a parked row can never deadlock with a live delivery.

-- Events whose purchase is not known yet (e.g. a clearing before its authorization): retried
-- from here over a horizon, then handed back to the caller to dead-letter.
CREATE TABLE parked_events (
  token text PRIMARY KEY,
  payload jsonb NOT NULL,
  reason text NOT NULL,
  -- the tokens whose hold would let it apply: a hold appearing under one of them wakes it early
  waiting_for text[] NOT NULL DEFAULT '{}',
  first_parked_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_attempt_at timestamptz
);
CREATE INDEX parked_events_due ON parked_events (next_attempt_at, first_parked_at);
CREATE INDEX parked_events_waiting ON parked_events USING gin (waiting_for);

CREATE FUNCTION ledger_lc_result (p_outcome text, p_effect text, p_reason text, p_hold text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('outcome', p_outcome, 'effect', p_effect, 'reason', p_reason, 'hold_token', p_hold))
$$;

-- Claims an effect key; false when it was claimed before (a redelivery, or the JIT decision).
CREATE FUNCTION ledger_lc_claim (p_kind text, p_key text, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO effects (kind, key, applied_at) VALUES (p_kind, p_key, p_now) ON CONFLICT DO NOTHING;
  RETURN FOUND;
END
$$;

-- A webhook about a JIT token nobody decided yet takes the decision row first, as a timeout
-- decline. jit_decide claims the same unique row first thing, so whichever commits first wins:
-- a late jit_decide for this token then answers DUPLICATE_TRANSACTION and places no hold, and a
-- webhook racing an in-flight jit_decide waits for it and then sees its hold. Returns true when
-- this call inserted the row (the token was never decided by us).
CREATE FUNCTION ledger_lc_claim_decision (e jsonb, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_cur text := e->>'currency';
BEGIN
  IF NOT coalesce((e->>'claim')::boolean, false) OR e->>'jit_token' IS NULL THEN
    RETURN false;
  END IF;
  INSERT INTO decisions (jit_token, request_fingerprint, method, kind, user_token, card_token,
    original_jit_token, outcome, decline_reason, amount, currency, http_status, response, created_at)
  VALUES (e->>'jit_token', 'webhook:' || (e->>'event_token'), coalesce(e->>'method', 'unknown'),
    coalesce(e->>'jit_kind', 'unknown'), coalesce(e->>'user_token', ''), e->>'card_token',
    e->>'original_jit_token', 'declined', 'TIMEOUT', (e->>'amount')::bigint, v_cur, 402,
    jsonb_build_object('jit_funding', jsonb_strip_nulls(jsonb_build_object(
      'token', e->>'jit_token', 'method', e->>'method', 'user_token', e->>'user_token',
      'amount', CASE WHEN v_cur IS NULL OR e->>'amount' IS NULL THEN NULL
                     ELSE ledger_major((e->>'amount')::bigint, ledger_exponent(v_cur)) END))
      || (SELECT jsonb_build_object('decline_reason', response_reason, 'memo', memo) FROM decline_memos WHERE reason = 'TIMEOUT')),
    p_now)
  ON CONFLICT (jit_token) DO NOTHING;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM ledger_emit_decision_event(d, jsonb_build_object('transaction_token', e->>'event_token'))
  FROM decisions d WHERE d.jit_token = e->>'jit_token';
  RETURN true;
END
$$;

-- The hold a follow-up belongs to (LEDGER.md "Keys"): original_jit_funding_token, its own JIT
-- token, then preceding_related_transaction_token through the transaction tokens on holds.
CREATE FUNCTION ledger_lc_find_hold (e jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v text;
BEGIN
  IF e->>'original_jit_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds WHERE hold_token = e->>'original_jit_token';
    IF FOUND THEN RETURN v; END IF;
  END IF;
  IF e->>'jit_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds WHERE hold_token = e->>'jit_token';
    IF FOUND THEN RETURN v; END IF;
  END IF;
  IF e->>'preceding_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds
    WHERE hold_token = e->>'preceding_token' OR transaction_tokens @> ARRAY[e->>'preceding_token']
    ORDER BY opened_at LIMIT 1;
    IF FOUND THEN RETURN v; END IF;
  END IF;
  RETURN NULL;
END
$$;

-- The funding account of an event that has no hold: the one our decision used, else the card's,
-- else the user's own (account token = user token). Null when none exists yet.
CREATE FUNCTION ledger_lc_account (e jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT a.account_token FROM accounts a
  WHERE a.account_token = coalesce(
    (SELECT d.account_token FROM decisions d WHERE d.jit_token = e->>'jit_token' AND d.account_token IS NOT NULL),
    (SELECT coalesce(c.account_token, c.user_token) FROM cards c WHERE c.card_token = e->>'card_token'),
    e->>'user_token')
$$;

-- A message in another currency than the account's cannot be applied as is (no conversion here).
CREATE FUNCTION ledger_lc_check_currency (p_account text, e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_cur text;
BEGIN
  SELECT currency INTO v_cur FROM accounts WHERE account_token = p_account;
  IF e->>'currency' IS NOT NULL AND v_cur IS DISTINCT FROM e->>'currency' THEN
    RAISE EXCEPTION 'event % is in %, account % is in %', e->>'event_token', e->>'currency', p_account, v_cur
      USING ERRCODE = 'JT004';
  END IF;
END
$$;

CREATE FUNCTION ledger_lc_require_amount (e jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF e->>'amount' IS NULL THEN
    RAISE EXCEPTION 'event % (%) carries no amount', e->>'event_token', e->>'action' USING ERRCODE = 'JT005';
  END IF;
  RETURN (e->>'amount')::bigint;
END
$$;

CREATE FUNCTION ledger_lc_park (e jsonb, p_reason text, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  IF p_park THEN
    -- DO NOTHING never waits on a row a retry worker has locked (see the lock order above).
    INSERT INTO parked_events (token, payload, reason, waiting_for, first_parked_at, next_attempt_at)
    VALUES (e->>'event_token', coalesce(e->'payload', e), p_reason,
      ARRAY(SELECT t FROM unnest(ARRAY[e->>'original_jit_token', e->>'jit_token', e->>'preceding_token']) AS t WHERE t IS NOT NULL),
      p_now, p_now)
    ON CONFLICT (token) DO NOTHING;
  END IF;
  RETURN ledger_lc_result('parked', NULL, p_reason);
END
$$;

-- Records the event's transaction token on its hold and marks activity; parked events waiting
-- for this hold become due now (never waiting on a row a retry worker holds).
CREATE FUNCTION ledger_lc_link (p_hold text, p_tx text, p_now timestamptz) RETURNS holds
LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
BEGIN
  UPDATE holds SET
    transaction_tokens = CASE WHEN p_tx IS NULL OR p_tx = ANY (transaction_tokens) THEN transaction_tokens ELSE transaction_tokens || p_tx END,
    last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = p_hold RETURNING * INTO h;
  UPDATE parked_events SET next_attempt_at = p_now
  WHERE token IN (
    SELECT token FROM parked_events
    WHERE waiting_for && (ARRAY[h.hold_token] || h.transaction_tokens) AND next_attempt_at > p_now
    FOR UPDATE SKIP LOCKED);
  RETURN h;
END
$$;

-- Releases `p_amount` (<= remaining) of a hold; `p_close` also closes it in `p_state`, which the
-- table only allows once nothing remains.
CREATE FUNCTION ledger_lc_release (
  p_hold text, p_amount bigint, p_close boolean, p_state text, p_action text, p_effect_key text,
  p_detail jsonb, p_now timestamptz, p_routing text, p_correlation text DEFAULT NULL
) RETURNS holds LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
BEGIN
  UPDATE holds SET released = released + p_amount,
    state = CASE WHEN p_close THEN p_state ELSE state END,
    closed_at = CASE WHEN p_close THEN p_now ELSE closed_at END,
    last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = p_hold RETURNING * INTO h;
  IF p_amount <> 0 THEN
    UPDATE accounts SET held = held - p_amount, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  END IF;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (p_hold, p_action, p_amount, p_effect_key, p_detail);
  IF p_amount <> 0 OR p_close THEN
    PERFORM ledger_emit_hold_event(p_routing, h, p_amount, p_detail || jsonb_build_object('effect_key', p_effect_key), p_correlation);
  END IF;
  RETURN h;
END
$$;

-- Grows (p_delta > 0) or shrinks (p_delta < 0, at most the remainder) a hold's authorization;
-- returns the change applied. Growth here is the processor's word, so it is forced.
CREATE FUNCTION ledger_lc_resize (p_hold text, p_delta bigint, p_effect_key text, p_cause text, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  h holds%ROWTYPE;
  v bigint := p_delta;
BEGIN
  SELECT * INTO h FROM holds WHERE hold_token = p_hold;
  IF NOT FOUND OR h.state <> 'OPEN' OR p_delta = 0 THEN
    RETURN 0;
  END IF;
  IF v < 0 THEN
    v := -least(-v, h.remaining);
  END IF;
  UPDATE holds SET authorized = authorized + v, last_activity_at = greatest(last_activity_at, p_now)
  WHERE hold_token = p_hold RETURNING * INTO h;
  UPDATE accounts SET held = held + v, updated_at = clock_timestamp() WHERE account_token = h.account_token;
  INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
  VALUES (p_hold, CASE WHEN v > 0 THEN 'increased' ELSE 'decreased' END, abs(v), p_effect_key, jsonb_build_object('cause', p_cause));
  PERFORM ledger_emit_hold_event(CASE WHEN v > 0 THEN 'ledger.hold.increased' ELSE 'ledger.hold.released' END,
    h, abs(v), jsonb_build_object('cause', p_cause, 'effect_key', p_effect_key));
  IF v > 0 THEN
    PERFORM ledger_check_overdrawn(h.account_token, p_cause);
  END IF;
  RETURN v;
END
$$;

-- A purchase's authorization (PENDING): confirms our decision (resizing the hold to the
-- message's amount), or opens a forced hold for one we never decided (stand-in / timeout).
-- `p_kind` is 'authorization' or 'incremental' (an incremental grows the original's hold).
CREATE FUNCTION ledger_lc_authorization (e jsonb, p_kind text, p_park boolean, p_now timestamptz) RETURNS jsonb
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

-- A DECLINED (or ERROR) authorization or incremental, typically gateway_log.timed_out: the money
-- we held for it is released (a late approval repaired). Before any decision of ours it leaves
-- a tombstone (the claimed decision row) so our late commit places no hold.
CREATE FUNCTION ledger_lc_declined (e jsonb, p_kind text, p_now timestamptz) RETURNS jsonb
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

-- authorization.reversal, or an advice with method pgfs.authorization.reversal: release
-- min(A, R), all of R without an amount. A reversal that leaves nothing closes the hold.
CREATE FUNCTION ledger_lc_reversal (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_hold text;
  v_release bigint;
  h holds%ROWTYPE;
BEGIN
  IF NOT ledger_lc_claim('reversal', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_hold := ledger_lc_find_hold(e);
  IF v_hold IS NULL THEN
    DELETE FROM effects WHERE kind = 'reversal' AND key = v_key;
    RETURN ledger_lc_park(e, 'the reversed authorization is not known yet', p_park, p_now);
  END IF;
  SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  h := ledger_lc_link(v_hold, e->>'event_token', p_now);
  IF h.state <> 'OPEN' THEN
    UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', 0) WHERE kind = 'reversal' AND key = v_key;
    RETURN ledger_lc_result('applied', 'nothing_to_release', 'hold ' || h.state, v_hold);
  END IF;
  v_release := CASE WHEN e->>'amount' IS NULL THEN h.remaining ELSE least((e->>'amount')::bigint, h.remaining) END;
  h := ledger_lc_release(v_hold, v_release, h.remaining - v_release = 0, 'CLOSED', 'released', 'reversal:' || v_key,
    jsonb_strip_nulls(jsonb_build_object('cause', coalesce(e->>'method', e->>'type'), 'transaction_token', e->>'event_token',
      'requested', (e->>'amount')::bigint)), p_now, 'ledger.hold.released');
  UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', v_release) WHERE kind = 'reversal' AND key = v_key;
  RETURN ledger_lc_result('applied', 'hold_released', NULL, v_hold);
END
$$;

-- authorization.clearing / pgfs.authorization.capture: balance -= A against network_settlement;
-- captured += min(A, R); the excess is an over-capture; is_final_clearing releases the rest.
-- A closed or expired hold: a plain debit. No hold yet: parked (unless nothing could ever link it).
CREATE FUNCTION ledger_lc_clearing (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_amount bigint;
  v_hold text;
  v_account text;
  v_capture bigint;
  v_over bigint;
  v_rest bigint;
  v_final boolean := coalesce((e->>'is_final')::boolean, false);
  h holds%ROWTYPE;
BEGIN
  IF NOT ledger_lc_claim('clearing', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  v_hold := ledger_lc_find_hold(e);
  IF v_hold IS NULL THEN
    IF e->>'original_jit_token' IS NOT NULL OR e->>'jit_token' IS NOT NULL OR e->>'preceding_token' IS NOT NULL THEN
      DELETE FROM effects WHERE kind = 'clearing' AND key = v_key;
      RETURN ledger_lc_park(e, 'the cleared authorization is not known yet', p_park, p_now);
    END IF;
    -- Nothing could ever link it to a hold: the network settled it, so it is a plain debit.
    v_account := ledger_lc_account(e);
    IF v_account IS NULL THEN
      DELETE FROM effects WHERE kind = 'clearing' AND key = v_key;
      RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
    END IF;
    PERFORM ledger_lc_check_currency(v_account, e);
    PERFORM ledger_lc_debit(v_account, v_amount, 'clearing', v_key, e, 'clearing.unlinked');
    UPDATE effects SET result = jsonb_build_object('account', v_account, 'amount', v_amount) WHERE kind = 'clearing' AND key = v_key;
    RETURN ledger_lc_result('applied', 'debited', 'no authorization to match');
  END IF;

  SELECT * INTO h FROM holds WHERE hold_token = v_hold FOR UPDATE;
  PERFORM ledger_lc_check_currency(h.account_token, e);
  h := ledger_lc_link(v_hold, e->>'event_token', p_now);
  IF h.state <> 'OPEN' THEN
    PERFORM ledger_lc_debit(h.account_token, v_amount, 'clearing', v_key, e, 'clearing.after_' || lower(h.state));
    INSERT INTO hold_history (hold_token, action, amount, effect_key, detail)
    VALUES (v_hold, 'debited_after_close', v_amount, 'clearing:' || v_key, jsonb_build_object('state', h.state, 'transaction_token', e->>'event_token'));
    UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', v_amount, 'plain_debit', true) WHERE kind = 'clearing' AND key = v_key;
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
  UPDATE effects SET result = jsonb_build_object('hold', v_hold, 'amount', v_amount, 'captured', v_capture,
    'over_captured', v_over, 'released', CASE WHEN v_final THEN v_rest ELSE 0 END)
  WHERE kind = 'clearing' AND key = v_key;
  RETURN ledger_lc_result('applied', CASE WHEN v_over > 0 THEN 'captured_over' ELSE 'captured' END, NULL, v_hold);
END
$$;

-- A posted debit (forced: the network already took the money) with its events.
CREATE FUNCTION ledger_lc_debit (p_account text, p_amount bigint, p_kind text, p_key text, e jsonb, p_cause text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_amount = 0 THEN RETURN; END IF;
  PERFORM ledger_post(p_kind, p_kind || ':' || p_key, p_account, -p_amount, 'network_settlement', coalesce(e->>'method', e->>'type'));
  PERFORM ledger_emit_account_event('ledger.account.debited', p_account, p_amount, jsonb_strip_nulls(jsonb_build_object(
    'cause', p_cause, 'forced', true, 'effect_key', p_kind || ':' || p_key, 'transaction_token', e->>'event_token',
    'jit_token', e->>'jit_token', 'card_token', e->>'card_token', 'user_token', e->>'user_token')));
  PERFORM ledger_check_overdrawn(p_account, p_cause);
END
$$;

CREATE FUNCTION ledger_lc_credit (p_account text, p_amount bigint, p_kind text, p_key text, e jsonb, p_cause text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_amount = 0 THEN RETURN; END IF;
  PERFORM ledger_post(p_kind, p_kind || ':' || p_key, p_account, p_amount, 'network_settlement', coalesce(e->>'method', e->>'type'));
  PERFORM ledger_emit_account_event('ledger.account.credited', p_account, p_amount, jsonb_strip_nulls(jsonb_build_object(
    'cause', p_cause, 'effect_key', p_kind || ':' || p_key, 'transaction_token', e->>'event_token',
    'jit_token', e->>'jit_token', 'card_token', e->>'card_token', 'user_token', e->>'user_token')));
END
$$;

-- Money that moves without a hold: force capture and chargeback reversal (forced debits),
-- refund and chargeback credit (credits). Never waits for a purchase; only for the account.
CREATE FUNCTION ledger_lc_movement (e jsonb, p_kind text, p_direction integer, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_amount bigint;
  v_hold text;
  v_account text;
BEGIN
  IF NOT ledger_lc_claim(p_kind, v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  IF p_kind <> 'force_capture' THEN
    -- A refund or chargeback of a purchase we know goes to that purchase's account.
    v_hold := ledger_lc_find_hold(e);
  END IF;
  IF v_hold IS NOT NULL THEN
    SELECT account_token INTO v_account FROM holds WHERE hold_token = v_hold FOR UPDATE;
    PERFORM ledger_lc_link(v_hold, e->>'event_token', p_now);
  ELSE
    v_account := ledger_lc_account(e);
  END IF;
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = p_kind AND key = v_key;
    RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  IF p_direction > 0 THEN
    PERFORM ledger_lc_credit(v_account, v_amount, p_kind, v_key, e, coalesce(e->>'method', e->>'type'));
  ELSE
    PERFORM ledger_lc_debit(v_account, v_amount, p_kind, v_key, e, coalesce(e->>'method', e->>'type'));
  END IF;
  UPDATE effects SET result = jsonb_strip_nulls(jsonb_build_object('account', v_account, 'amount', v_amount, 'hold', v_hold))
  WHERE kind = p_kind AND key = v_key;
  RETURN ledger_lc_result('applied', CASE WHEN p_direction > 0 THEN 'credited' ELSE 'debited' END, NULL, v_hold);
END
$$;

-- pgfs.auth_plus_capture / single-message pgfs.pindebit*: the webhook confirms our immediate
-- debit (the key is shared with jit_decide's 'immediate_debit'); the network's amount wins over
-- ours; one we never decided is a forced debit.
CREATE FUNCTION ledger_lc_immediate_debit (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_new boolean;
  v_amount bigint;
  v_account text;
  v_ours bigint;
  v_effect text := 'debit_confirmed';
  eff effects%ROWTYPE;
BEGIN
  PERFORM ledger_lc_claim_decision(e, p_now);
  v_new := ledger_lc_claim('immediate_debit', v_key, p_now);
  SELECT * INTO eff FROM effects WHERE kind = 'immediate_debit' AND key = v_key FOR UPDATE;
  IF eff.result ? 'webhook' THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  v_account := coalesce(eff.result->>'account', ledger_lc_account(e));
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = 'immediate_debit' AND key = v_key;
    RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  IF v_new THEN
    PERFORM ledger_lc_debit(v_account, v_amount, 'immediate_debit', v_key, e, 'standin.' || coalesce(e->>'method', e->>'type'));
    v_effect := 'debited';
  ELSE
    v_ours := coalesce((eff.result->>'amount')::bigint, v_amount);
    IF v_amount > v_ours THEN
      PERFORM ledger_lc_debit(v_account, v_amount - v_ours, 'immediate_debit_adjustment', v_key, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    ELSIF v_amount < v_ours THEN
      PERFORM ledger_lc_credit(v_account, v_ours - v_amount, 'immediate_debit_adjustment', v_key, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    END IF;
  END IF;
  UPDATE effects SET result = result || jsonb_build_object('account', v_account, 'amount', v_amount, 'webhook', e->>'event_token',
    'forced', v_new)
  WHERE kind = 'immediate_debit' AND key = v_key;
  RETURN ledger_lc_result('applied', v_effect, NULL);
END
$$;

-- A DECLINED single-message debit we approved late: the money comes back.
CREATE FUNCTION ledger_lc_immediate_debit_declined (e jsonb, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_claimed boolean;
  v_account text;
  v_amount bigint;
  eff effects%ROWTYPE;
BEGIN
  v_claimed := ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim('immediate_debit_declined', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  SELECT * INTO eff FROM effects WHERE kind = 'immediate_debit' AND key = v_key FOR UPDATE;
  IF NOT FOUND OR coalesce((eff.result->>'amount')::bigint, 0) = 0 THEN
    RETURN ledger_lc_result('applied', CASE WHEN v_claimed THEN 'tombstone' ELSE 'nothing_to_release' END,
      'no debit was made for it');
  END IF;
  v_account := coalesce(eff.result->>'account', (SELECT account_token FROM decisions WHERE jit_token = v_key));
  v_amount := (eff.result->>'amount')::bigint;
  PERFORM ledger_lc_credit(v_account, v_amount, 'immediate_debit_declined', v_key, e,
    'late approval repaired: the processor declined ' || (e->>'type'));
  UPDATE effects SET result = result || jsonb_build_object('reversed_by_decline', v_amount) WHERE kind = 'immediate_debit' AND key = v_key;
  RETURN ledger_lc_result('applied', 'credited', 'late approval repaired');
END
$$;

-- The entry point: one normalized event, one transaction (the caller's statement), once.
-- `p_park` false is the retry path: it reports 'parked' without storing the event again.
CREATE FUNCTION ledger_apply_transaction (e jsonb, p_park boolean DEFAULT true) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := coalesce((e->>'now')::timestamptz, clock_timestamp());
BEGIN
  IF e->>'key' IS NULL OR e->>'event_token' IS NULL THEN
    RAISE EXCEPTION 'event without token' USING ERRCODE = 'JT005';
  END IF;
  RETURN CASE e->>'action'
    WHEN 'authorization' THEN ledger_lc_authorization(e, 'authorization', p_park, v_now)
    WHEN 'incremental' THEN ledger_lc_authorization(e, 'incremental', p_park, v_now)
    WHEN 'authorization_declined' THEN ledger_lc_declined(e, 'authorization', v_now)
    WHEN 'incremental_declined' THEN ledger_lc_declined(e, 'incremental', v_now)
    WHEN 'reversal' THEN ledger_lc_reversal(e, p_park, v_now)
    WHEN 'clearing' THEN ledger_lc_clearing(e, p_park, v_now)
    WHEN 'force_capture' THEN ledger_lc_movement(e, 'force_capture', -1, p_park, v_now)
    WHEN 'chargeback_debit' THEN ledger_lc_movement(e, 'chargeback_reversal', -1, p_park, v_now)
    WHEN 'refund' THEN ledger_lc_movement(e, 'refund', 1, p_park, v_now)
    WHEN 'chargeback_credit' THEN ledger_lc_movement(e, 'chargeback', 1, p_park, v_now)
    WHEN 'immediate_debit' THEN ledger_lc_immediate_debit(e, p_park, v_now)
    WHEN 'immediate_debit_declined' THEN ledger_lc_immediate_debit_declined(e, v_now)
    ELSE ledger_lc_result('ignored', NULL, 'no ledger effect for action ' || coalesce(e->>'action', 'null'))
  END;
END
$$;

-- hold.release (a manual, audited release), once per command message_id.
CREATE FUNCTION ledger_release_hold (p_hold text, p_reason text, p_operator text, p_message_id text)
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

-- Days of inactivity after which an open hold expires: the largest matching MCC range override,
-- else the default.
CREATE FUNCTION ledger_hold_expiry_days (p_mcc text, p_default integer, p_overrides jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((
    SELECT max((o->>'days')::integer) FROM jsonb_array_elements(coalesce(p_overrides, '[]')) o
    -- CASE, not AND: SQL does not promise to test the pattern before the cast
    WHERE CASE WHEN p_mcc ~ '^[0-9]{1,4}$' THEN p_mcc::integer END BETWEEN (o->>'from')::integer AND (o->>'to')::integer
  ), p_default)
$$;

-- Releases what remains of OPEN holds idle for their expiry period (state EXPIRED). Holds a
-- concurrent caller (or a webhook) has locked are skipped, so several workers never release one
-- twice; accounts are locked in token order. Returns the number of holds expired.
CREATE FUNCTION ledger_expire_stale_holds (p_now timestamptz, p_default integer, p_overrides jsonb, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_min integer;
  v_count integer := 0;
  h holds%ROWTYPE;
BEGIN
  SELECT least(p_default, min((o->>'days')::integer)) INTO v_min FROM jsonb_array_elements(coalesce(p_overrides, '[]')) o;
  v_min := coalesce(v_min, p_default);
  FOR h IN
    SELECT * FROM holds
    WHERE state = 'OPEN' AND last_activity_at < p_now - make_interval(days => v_min)
      AND last_activity_at < p_now - make_interval(days => ledger_hold_expiry_days(mcc, p_default, p_overrides))
    ORDER BY account_token, hold_token
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  LOOP
    PERFORM ledger_lc_release(h.hold_token, h.remaining, true, 'EXPIRED', 'expired', 'expiry:' || h.hold_token,
      jsonb_build_object('cause', 'expiry', 'idle_days', ledger_hold_expiry_days(h.mcc, p_default, p_overrides),
        'last_activity_at', h.last_activity_at), p_now, 'ledger.hold.expired');
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
