-- Writes an event to the outbox in the caller's transaction; the relay publishes it.
CREATE OR REPLACE FUNCTION ledger_emit (routing_key text, payload jsonb, correlation_id text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox (routing_key, payload, correlation_id)
  VALUES (routing_key, payload || jsonb_build_object('occurred_at', to_jsonb(clock_timestamp())), correlation_id);
  PERFORM pg_notify('outbox', '');
END
$$;
