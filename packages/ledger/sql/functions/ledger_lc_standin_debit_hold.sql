-- The stand-in hold a single-message debit's bare copy opened (docs/ledger.md "Keys"): an
-- auth_plus_capture copy without jit_funding is typed `authorization`, so, when nothing told the
-- ledger yet that the message is a debit, it was applied as an authorization stand-in (a forced
-- hold of the message). When the message is later known to be a debit (its copy with jit_funding,
-- or our decision of it), that hold is the debit's: the caller releases it as it posts the debit,
-- so the one message moves its money once. Returns the open hold, locked (the message row first,
-- then the hold row), or nothing.
CREATE OR REPLACE FUNCTION ledger_lc_standin_debit_hold (p_tx text) RETURNS SETOF holds
LANGUAGE plpgsql AS $$
DECLARE
  m ledger_messages%ROWTYPE;
BEGIN
  SELECT * INTO m FROM ledger_messages
  WHERE kind = 'authorization' AND message_token = p_tx AND webhook_at IS NOT NULL AND repaired_at IS NULL AND forced
  FOR UPDATE;
  IF m.hold_token IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM holds WHERE hold_token = m.hold_token AND state = 'OPEN' AND forced FOR UPDATE;
END
$$;
