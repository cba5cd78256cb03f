-- preceding_related_transaction_token is looked up among the messages applied before by their
-- token alone, whatever their kind (ledger_lc_match).
CREATE INDEX ledger_messages_token ON ledger_messages (message_token);
