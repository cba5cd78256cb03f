-- Releases what remains of OPEN holds idle for their expiry period (state EXPIRED). Holds a
-- concurrent caller (or a webhook) has locked are skipped, so several workers never release one
-- twice; accounts are locked in token order. Returns the number of holds expired.
CREATE OR REPLACE FUNCTION ledger_expire_stale_holds (p_now timestamptz, p_default integer, p_overrides jsonb, p_limit integer)
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
