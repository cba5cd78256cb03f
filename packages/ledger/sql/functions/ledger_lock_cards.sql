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

-- PL/pgSQL, not SQL: a SQL function that cannot be inlined is planned again on every call (about
-- 70 µs a batch, measured); PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION ledger_lock_cards (p_cards text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_lock_keys(ARRAY(SELECT ledger_card_lock_key(c) FROM unnest(p_cards) AS c WHERE c IS NOT NULL));
END
$$;

-- Advisory locks taken all at once in one order (by key): two transactions taking overlapping
-- sets wait for each other at the first common key instead of deadlocking.
CREATE OR REPLACE FUNCTION ledger_lock_keys (p_keys bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  k bigint;
BEGIN
  FOR k IN SELECT DISTINCT x FROM unnest(p_keys) AS x WHERE x IS NOT NULL ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(k);
  END LOOP;
END
$$;

-- The claim lock of a JIT token (docs/ledger.md "Lock order": after the card, before any row):
-- held by the transaction deciding the token (jit_decide; a batch takes all its members' at once,
-- after their cards') or claiming its decision row for a webhook (ledger_lc_claim_decision), so the decision row, written last by jit_decide, is never
-- waited for by a transaction holding a row that decision still needs.
CREATE OR REPLACE FUNCTION ledger_token_lock_key (p_token text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT hashtextextended('jit-token:' || p_token, 0)
$$;
