-- A batch of normalized events (a jsonb array, each what ledger_apply_transaction reads) applied
-- in one statement, in array order, one result per event in that order (@jit/ledger
-- applyTransactionEvents; the txn-worker's first attempt at each batch). Every card of the batch
-- is locked first, all at once (ledger_lock_cards, docs/ledger.md "Lock order"), as the
-- savepoint path does, so two batches of one card wait at their start instead of deadlocking on
-- a later member's message row after an earlier member's account row. Each event then runs
-- exactly as alone (the same function, the same keys), seeing what the events before it wrote.
-- All or nothing: the first event that fails fails the statement.
CREATE OR REPLACE FUNCTION ledger_apply_transactions (p_events jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
DECLARE
  e jsonb;
BEGIN
  PERFORM ledger_lock_cards(ARRAY(SELECT x->>'card_token' FROM jsonb_array_elements(p_events) AS x));
  FOR e IN SELECT x FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t (x, n) ORDER BY n LOOP
    RETURN NEXT ledger_apply_transaction(e, true);
  END LOOP;
END
$$;
