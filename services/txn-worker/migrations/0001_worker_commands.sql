-- Commands the txn-worker has processed, keyed by the command's message_id. A redelivery or a
-- duplicate publish finds its stored answer here instead of applying the command again, and a
-- crash between the commit and the answer's publish is finished by the next delivery
-- (answered_at is still null). Rows are written in the same transaction as the change.
CREATE TABLE worker_commands (
  message_id text PRIMARY KEY,
  command_type text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('applied', 'stale', 'duplicate', 'rejected')),
  answer_routing_key text NOT NULL CHECK (answer_routing_key IN ('command.applied', 'command.rejected')),
  -- stable across re-publishes, so subscribers deduplicate a repeated answer
  answer_message_id uuid NOT NULL DEFAULT gen_random_uuid(),
  answer jsonb NOT NULL,
  -- cache keys to invalidate before the answer is published: [[kind, key], ...]
  invalidations jsonb NOT NULL DEFAULT '[]',
  processed_at timestamptz NOT NULL DEFAULT now(),
  answered_at timestamptz
);
CREATE INDEX worker_commands_processed_at ON worker_commands (processed_at);

-- The newest card/user transition webhook applied per entity. Webhooks arrive late and out of
-- order (the processor retries for days), so an older transition must not undo a newer one.
CREATE TABLE worker_status_transitions (
  entity text NOT NULL CHECK (entity IN ('card', 'user')),
  token text NOT NULL,
  status text NOT NULL,
  event_token text NOT NULL,
  occurred_at timestamptz NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entity, token)
);
