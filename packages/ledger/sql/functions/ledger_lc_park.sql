-- Stores an event whose purchase (or account) is not known yet; it wakes when a hold appears
-- under one of the tokens it names (ledger_lc_link). An event in another currency than the
-- account it would apply to (the card's, when known) is refused now, not parked: a parked copy
-- would shadow a valid redelivery of the same message (parked rows are keyed by its token).
CREATE OR REPLACE FUNCTION ledger_lc_park (e jsonb, p_reason text, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_account text := ledger_lc_funding_account(e, NULL);
BEGIN
  IF v_account IS NOT NULL THEN
    PERFORM ledger_lc_check_currency(v_account, e);
  END IF;
  IF p_park THEN
    -- DO NOTHING never waits on a row a retry worker has locked (see the lock order above).
    INSERT INTO parked_events (token, payload, reason, waiting_for, first_parked_at, next_attempt_at)
    VALUES (e->>'event_token', coalesce(e->'payload', e), p_reason,
      ARRAY(SELECT t FROM unnest(ARRAY[e->>'original_jit_token', e->>'jit_token', e->>'gateway_token', e->>'preceding_token']) AS t WHERE t IS NOT NULL),
      p_now, p_now)
    ON CONFLICT (token) DO NOTHING;
    IF NOT FOUND THEN
      -- Another copy of this message waits already: the row keeps every identifier either copy
      -- carried (its retry tries them all, ledger_lc_match `copy_links`, and any of them wakes
      -- it), so whichever copy came first the message finds its purchase. Only a row no retry
      -- holds is touched (SKIP LOCKED).
      UPDATE parked_events p SET waiting_for = ARRAY(
          SELECT DISTINCT t FROM unnest(p.waiting_for || ARRAY[e->>'original_jit_token', e->>'jit_token', e->>'gateway_token', e->>'preceding_token']) AS t
          WHERE t IS NOT NULL)
      WHERE p.token IN (SELECT token FROM parked_events WHERE token = e->>'event_token' FOR UPDATE SKIP LOCKED);
    END IF;
  END IF;
  RETURN ledger_lc_result('parked', NULL, p_reason);
END
$$;
