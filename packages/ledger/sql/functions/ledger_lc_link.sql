-- Records the event's transaction token on its hold and marks activity; parked events waiting
-- for this hold become due now (never waiting on a row a retry worker holds).
CREATE OR REPLACE FUNCTION ledger_lc_link (p_hold text, p_tx text, p_now timestamptz) RETURNS holds
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
