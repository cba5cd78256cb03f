-- Records what a message's webhook did (ledger_messages): its decision, hold, account, the
-- amount it stands for now and whether it was forced; `webhook_at` marks it seen, so a redelivery
-- after `effects` were purged is still a duplicate.
CREATE OR REPLACE FUNCTION ledger_lc_record (
  p_kind text, p_token text, p_jit text, p_hold text, p_account text, p_amount bigint, p_forced boolean, p_now timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_messages AS m (kind, message_token, jit_token, hold_token, account_token, amount, forced, webhook_at, created_at)
  VALUES (p_kind, p_token, p_jit, p_hold, p_account, coalesce(p_amount, 0), p_forced, p_now, p_now)
  ON CONFLICT (kind, message_token) DO UPDATE SET
    jit_token = coalesce(m.jit_token, excluded.jit_token), hold_token = coalesce(m.hold_token, excluded.hold_token),
    account_token = coalesce(m.account_token, excluded.account_token), amount = excluded.amount,
    forced = m.forced OR excluded.forced, webhook_at = coalesce(m.webhook_at, excluded.webhook_at);
END
$$;
