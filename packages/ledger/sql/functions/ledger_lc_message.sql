-- The typed state of one network message (ledger_messages), created on first sight and locked
-- for the caller's transaction: concurrent deliveries of one message serialize here.
CREATE OR REPLACE FUNCTION ledger_lc_message (p_kind text, p_token text) RETURNS ledger_messages
LANGUAGE plpgsql AS $$
DECLARE
  m ledger_messages%ROWTYPE;
BEGIN
  INSERT INTO ledger_messages (kind, message_token) VALUES (p_kind, p_token) ON CONFLICT DO NOTHING;
  SELECT * INTO m FROM ledger_messages WHERE kind = p_kind AND message_token = p_token FOR UPDATE;
  RETURN m;
END
$$;
