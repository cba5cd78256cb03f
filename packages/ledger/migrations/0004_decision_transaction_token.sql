-- The JIT request's top-level `token` (the processor's id of that network message), recorded by
-- jit_decide at decision time: the webhooks about the same message are matched to the decision,
-- and share its effect key, by it even when they carry no jit_funding (LEDGER.md "Keys").
-- Decisions made before this column existed keep it null; their holds still carry the token in
-- holds.transaction_tokens.
ALTER TABLE decisions ADD COLUMN transaction_token text;
CREATE INDEX decisions_transaction_token ON decisions (transaction_token) WHERE transaction_token IS NOT NULL;
