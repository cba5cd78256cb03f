-- The transaction lifecycle (docs/ledger.md "Rules"): what each processor webhook does to the money,
-- applied exactly once. @jit/ledger (applyTransactionEvent) parses and classifies the webhook and
-- calls ledger_apply_transaction with a normalized event `e` (its schema: LifecycleEventSchema in
-- src/sql-boundary.ts; a test checks every key read here is declared there):
--   action          authorization | authorization_declined | incremental | incremental_declined |
--                   reversal | clearing | force_capture | immediate_debit | immediate_debit_declined |
--                   refund | chargeback_credit | chargeback_debit
--   event_token     the message's transaction `token`: every effect key is (kind, event_token)
--   jit_token, gateway_token, original_jit_token, preceding_token   matching (ledger_lc_match)
--   claim           true when the JIT token is one jit_decide could still decide (see ledger_lc_claim_decision)
--   amount          A in minor units (null when the message carries none), currency, is_final,
--   timed_out, standin_approved_by, user_token, card_token, mcc, method, type, state, jit_kind,
--   past_horizon    retried after the park horizon: a settled clearing applies as a forced debit
--   now             the time the caller applies it at (tests travel in time), payload (the raw event)
-- What later events read about a message lives in ledger_messages (never purged); `effects` rows
-- are pure idempotency records.
-- Lock order everywhere: the card (ledger_lock_cards), the decision claim, the effect key, the
-- message row (ledger_messages), the hold row, the account row; the parked_events rows are only
-- ever touched without waiting
-- (ON CONFLICT DO NOTHING, SKIP LOCKED), so a retry worker holding a parked row can never
-- deadlock with a live delivery.

-- The entry point: one normalized event, one transaction (the caller's statement), once.
-- `p_park` false is the retry path: it reports 'parked' without storing the event again.
CREATE OR REPLACE FUNCTION ledger_apply_transaction (e jsonb, p_park boolean DEFAULT true) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := coalesce((e->>'now')::timestamptz, clock_timestamp());
  v_tx text := e->>'event_token';
  v_kind text;
BEGIN
  IF v_tx IS NULL THEN
    RAISE EXCEPTION 'event without token' USING ERRCODE = 'JT005';
  END IF;
  -- The card's lock first of all (ledger_lock_cards; a batch took it for all its events): our
  -- decision of this message and the message's webhook serialize here, so the routing below
  -- reads a decision that has committed, never one being made.
  IF e->>'card_token' IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(ledger_card_lock_key(e->>'card_token'));
  END IF;
  -- A copy without jit_funding was routed by its type, which for some methods names another
  -- effect: an auth_plus_capture is typed `authorization`, a force capture
  -- `authorization.clearing`. What the ledger knows of the network message decides instead:
  -- our decision of it (an immediate debit), or the kind another copy of it was applied as, so
  -- one message is one effect whichever identifiers each copy carried.
  -- Copies of one network message routed to sibling kinds (clearing / force capture) claim
  -- different effect keys: they serialize here on the message's token before either looks.
  IF e->>'action' IN ('clearing', 'force_capture') THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('ledger-message:' || v_tx, 0));
  END IF;
  IF e->>'method' IS NULL THEN
    IF e->>'action' IN ('authorization', 'authorization_declined') THEN
      SELECT d.kind INTO v_kind FROM decisions d WHERE d.jit_token = (SELECT m.decision_token FROM ledger_lc_match(e) m);
      IF v_kind = 'immediate_debit' THEN
        e := jsonb_set(e, '{action}', to_jsonb(CASE WHEN e->>'action' = 'authorization' THEN 'immediate_debit' ELSE 'immediate_debit_declined' END));
      END IF;
    ELSIF e->>'action' = 'clearing' AND ledger_lc_seen('force_capture', v_tx) THEN
      e := jsonb_set(e, '{action}', '"force_capture"');
    END IF;
  ELSIF e->>'action' = 'force_capture' AND ledger_lc_seen('clearing', v_tx) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied as a clearing (a copy without jit_funding)');
  END IF;
  RETURN CASE e->>'action'
    WHEN 'authorization' THEN ledger_lc_authorization(e, 'authorization', p_park, v_now)
    WHEN 'incremental' THEN ledger_lc_authorization(e, 'incremental', p_park, v_now)
    WHEN 'authorization_declined' THEN ledger_lc_declined(e, 'authorization', v_now)
    WHEN 'incremental_declined' THEN ledger_lc_declined(e, 'incremental', v_now)
    WHEN 'reversal' THEN ledger_lc_reversal(e, p_park, v_now)
    WHEN 'clearing' THEN ledger_lc_clearing(e, p_park, v_now)
    WHEN 'force_capture' THEN ledger_lc_movement(e, 'force_capture', -1, p_park, v_now)
    WHEN 'chargeback_debit' THEN ledger_lc_movement(e, 'chargeback_reversal', -1, p_park, v_now)
    WHEN 'refund' THEN ledger_lc_movement(e, 'refund', 1, p_park, v_now)
    WHEN 'chargeback_credit' THEN ledger_lc_movement(e, 'chargeback', 1, p_park, v_now)
    WHEN 'immediate_debit' THEN ledger_lc_immediate_debit(e, p_park, v_now)
    WHEN 'immediate_debit_declined' THEN ledger_lc_immediate_debit_declined(e, v_now)
    ELSE ledger_lc_result('ignored', NULL, 'no ledger effect for action ' || coalesce(e->>'action', 'null'))
  END;
END
$$;
