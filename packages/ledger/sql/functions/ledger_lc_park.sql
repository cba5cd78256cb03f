-- Stores an event whose purchase (or account) is not known yet; it wakes when a hold appears
-- under one of the tokens it names (ledger_lc_link).
CREATE OR REPLACE FUNCTION ledger_lc_park (e jsonb, p_reason text, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  IF p_park THEN
    -- DO NOTHING never waits on a row a retry worker has locked (see the lock order above).
    INSERT INTO parked_events (token, payload, reason, waiting_for, first_parked_at, next_attempt_at)
    VALUES (e->>'event_token', coalesce(e->'payload', e), p_reason,
      ARRAY(SELECT t FROM unnest(ARRAY[e->>'original_jit_token', e->>'jit_token', e->>'gateway_token', e->>'preceding_token']) AS t WHERE t IS NOT NULL),
      p_now, p_now)
    ON CONFLICT (token) DO NOTHING;
  END IF;
  RETURN ledger_lc_result('parked', NULL, p_reason);
END
$$;
