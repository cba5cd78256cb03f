-- The operator console's audit trail: every write an operator makes from the console (a
-- dead-letter re-drive, a manual hold release) is recorded here before it is carried out, with
-- who, what and when, and its result once known.
CREATE TABLE operator_actions (
  id bigserial PRIMARY KEY,
  operator text NOT NULL,
  action text NOT NULL CHECK (action IN ('dead_letter.redrive', 'dead_letter.redrive_all', 'hold.release')),
  -- the dead-letter queue, or the hold's JIT token
  target text NOT NULL,
  -- the action's parameters (message id, reason, the published command's message_id ...)
  detail jsonb NOT NULL DEFAULT '{}',
  outcome text NOT NULL DEFAULT 'requested' CHECK (outcome IN ('requested', 'done', 'failed')),
  result jsonb,
  requested_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX operator_actions_requested ON operator_actions (requested_at DESC, id DESC);
CREATE INDEX operator_actions_target ON operator_actions (target, id DESC);

-- Read-side indexes for the console: a card's or a cardholder's latest decisions, and the last
-- hour's decisions for the health view. The ledger writes decisions; these only serve reads
-- (btree inserts on the decision path, no lock taken beyond the row's).
CREATE INDEX IF NOT EXISTS console_decisions_card ON decisions (card_token, created_at DESC) WHERE card_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS console_decisions_user ON decisions (user_token, created_at DESC);
CREATE INDEX IF NOT EXISTS console_decisions_created ON decisions (created_at);
