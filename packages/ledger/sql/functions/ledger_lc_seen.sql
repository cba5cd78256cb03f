-- True when this message's webhook was applied before (ledger_messages, never purged).
CREATE OR REPLACE FUNCTION ledger_lc_seen (p_kind text, p_token text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM ledger_messages WHERE kind = p_kind AND message_token = p_token AND webhook_at IS NOT NULL)
$$;
