CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  message_id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  exchange text NOT NULL DEFAULT 'cards.events',
  routing_key text NOT NULL,
  correlation_id text,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
