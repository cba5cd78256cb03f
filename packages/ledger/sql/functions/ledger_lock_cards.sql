-- The first lock of every money transaction (docs/ledger.md "Lock order"): one advisory lock per
-- card the transaction will touch, taken before any decision, message, hold or account row.
-- A batch (several decisions, or several webhooks) holds the account row of one member while a
-- later member takes its decision and message rows; a second batch of the same card can take
-- those rows in the other order. Taking every card's lock first, all at once and in one order
-- (by lock key, which no collation changes), makes two transactions of one card wait for each
-- other at the start instead of deadlocking in the middle. A single decision or webhook takes
-- its own card's lock the same way (re-taking a lock this transaction holds is free).
CREATE OR REPLACE FUNCTION ledger_card_lock_key (p_card text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT hashtextextended('jit-card:' || p_card, 0)
$$;

CREATE OR REPLACE FUNCTION ledger_lock_cards (p_cards text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  k bigint;
BEGIN
  FOR k IN SELECT DISTINCT ledger_card_lock_key(c) FROM unnest(p_cards) AS c WHERE c IS NOT NULL ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(k);
  END LOOP;
END
$$;
