-- Document archive (PostgreSQL JSONB implementation, used when MONGO_URL is not configured).
-- One row per (kind, token): stores are idempotent through ON CONFLICT DO NOTHING on the key.
CREATE TABLE IF NOT EXISTS archive_documents (
  kind        text        NOT NULL,
  token       text        NOT NULL,
  family      text,
  type        text,
  user_token  text,
  card_token  text,
  occurred_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  body        jsonb       NOT NULL,
  PRIMARY KEY (kind, token)
);

-- Support looks up a user's or a card's history, newest first.
CREATE INDEX IF NOT EXISTS archive_documents_user_idx ON archive_documents (user_token, occurred_at DESC);
CREATE INDEX IF NOT EXISTS archive_documents_card_idx ON archive_documents (card_token, occurred_at DESC);
-- Time range queries and the retention purge.
CREATE INDEX IF NOT EXISTS archive_documents_occurred_idx ON archive_documents (occurred_at);
-- findByToken without a kind: the primary key starts with kind, so it cannot serve that lookup.
CREATE INDEX IF NOT EXISTS archive_documents_token_idx ON archive_documents (token);
