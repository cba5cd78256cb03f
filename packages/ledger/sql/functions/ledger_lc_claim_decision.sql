-- A webhook about a JIT token nobody decided yet takes the decision row first, as a timeout
-- decline. It takes the token's claim lock first (ledger_token_lock_key), which jit_decide holds
-- from before it touches any row until it commits its decision row (written last): a webhook
-- racing an in-flight jit_decide waits for it here, before the message row the decision may
-- hold, and then sees its hold; whichever takes the lock first wins, so a late jit_decide for
-- this token answers DUPLICATE_TRANSACTION and places no hold. Returns true when
-- this call inserted the row (the token was never decided by us). The row records the message's
-- token, so its redeliveries match it whichever identifiers they carry.
CREATE OR REPLACE FUNCTION ledger_lc_claim_decision (e jsonb, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_cur text := e->>'currency';
  v_account text;
BEGIN
  IF NOT coalesce((e->>'claim')::boolean, false) OR e->>'jit_token' IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(ledger_token_lock_key(e->>'jit_token'));
  INSERT INTO decisions (jit_token, request_fingerprint, method, kind, user_token, card_token,
    original_jit_token, transaction_token, outcome, decline_reason, amount, currency, http_status, response, created_at)
  VALUES (e->>'jit_token', 'webhook:' || (e->>'event_token'), coalesce(e->>'method', 'unknown'),
    coalesce(e->>'jit_kind', 'unknown'), coalesce(e->>'user_token', ''), e->>'card_token',
    e->>'original_jit_token', e->>'event_token', 'declined', 'TIMEOUT', (e->>'amount')::bigint, v_cur, 402,
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
  -- A message refused for its currency leaves nothing behind, this row included (it would link
  -- its JIT token to the purchase), even when it is a redelivery that would change no money.
  -- A repair (DECLINED) is never refused for its currency field.
  v_account := ledger_lc_funding_account(e, NULL);
  IF v_account IS NOT NULL AND e->>'action' NOT LIKE '%\_declined' THEN
    PERFORM ledger_lc_check_currency(v_account, e);
  END IF;
  PERFORM ledger_emit_decision_event(d, jsonb_build_object('transaction_token', e->>'event_token'))
  FROM decisions d WHERE d.jit_token = e->>'jit_token';
  RETURN true;
END
$$;
