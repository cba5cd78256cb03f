-- One small batch of the hold-expiry sweep: releases what remains of OPEN holds idle for their
-- expiry period (state EXPIRED), oldest first. It never waits on a lock: holds and accounts
-- another transaction (a decision, a webhook, another sweeper) holds are skipped this round
-- (SKIP LOCKED), so a hot account is never locked for a whole batch behind the sweep. Each hold
-- is released in a subtransaction: one that fails is put off (expiry_failures, expiry_retry_at
-- with a backoff doubling from one minute to a day) and the batch goes on, so a hold that keeps
-- failing never blocks the expiry of the others. Returns {expired, failed, skipped}.
CREATE OR REPLACE FUNCTION ledger_expire_holds_batch (p_now timestamptz, p_default integer, p_overrides jsonb, p_limit integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_min integer;
  v_expired integer := 0;
  v_failed integer := 0;
  v_skipped integer := 0;
  h holds%ROWTYPE;
BEGIN
  SELECT least(p_default, min((o->>'days')::integer)) INTO v_min FROM jsonb_array_elements(coalesce(p_overrides, '[]')) o;
  v_min := coalesce(v_min, p_default);
  FOR h IN
    SELECT * FROM holds
    WHERE state = 'OPEN' AND last_activity_at < p_now - make_interval(days => v_min)
      AND last_activity_at < p_now - make_interval(days => ledger_hold_expiry_days(mcc, p_default, p_overrides))
      AND (expiry_retry_at IS NULL OR expiry_retry_at <= p_now)
    ORDER BY last_activity_at, hold_token
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  LOOP
    PERFORM 1 FROM accounts WHERE account_token = h.account_token FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      v_skipped := v_skipped + 1;
      CONTINUE;
    END IF;
    BEGIN
      PERFORM ledger_lc_release(h.hold_token, h.remaining, true, 'EXPIRED', 'expired', 'expiry:' || h.hold_token,
        jsonb_build_object('cause', 'expiry', 'idle_days', ledger_hold_expiry_days(h.mcc, p_default, p_overrides),
          'last_activity_at', h.last_activity_at), p_now, 'ledger.hold.expired');
      v_expired := v_expired + 1;
    EXCEPTION WHEN OTHERS THEN
      UPDATE holds SET expiry_failures = expiry_failures + 1,
        expiry_retry_at = p_now + least(interval '1 day', interval '1 minute' * power(2, least(expiry_failures, 20)))
      WHERE hold_token = h.hold_token;
      RAISE WARNING 'hold % did not expire (attempt %): %', h.hold_token, h.expiry_failures + 1, SQLERRM;
      v_failed := v_failed + 1;
    END;
  END LOOP;
  RETURN jsonb_build_object('expired', v_expired, 'failed', v_failed, 'skipped', v_skipped);
END
$$;
