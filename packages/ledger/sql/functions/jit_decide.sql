-- The JIT decision: one statement, one round trip, atomic. `r` is built by @jit/ledger
-- (decideJitFunding); see that function for the fields. Returns
-- {status, response, outcome, decline_reason, replay, duplicate}.
--
-- The decision row is written once, with its outcome, at the end of the subtransaction that moves
-- the money: that insert is the token's claim. A token decided before is answered from its row
-- at once; a concurrent request with the same token (or a webhook claiming it, see
-- ledger_lc_claim_decision) serializes with this one on the token's claim lock (taken after the
-- card lock, before any row), and past that on the unique index: whoever inserts second rolls
-- its money back and answers the stored decision.
-- Revisions the caller read from the cache are compared here, so a
-- stale cache can never decide: it raises JT001, or with `report_stale` returns {stale: true}
-- having written nothing (a batch member is retried alone; the others are decided). Money and
-- period limits are checked and moved under the account's row lock.
--
-- One clock: `budget_ms` is the time left when the caller sent the statement; the deadline is
-- measured on this server's clock from the statement's start (never compared across machines).
-- The stored answer of a token decided before (or DUPLICATE_TRANSACTION for another request).
CREATE OR REPLACE FUNCTION jit_decide_replay (p_token text, r jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  d decisions%ROWTYPE;
BEGIN
  SELECT * INTO d FROM decisions WHERE jit_token = p_token;
  IF d.request_fingerprint IS DISTINCT FROM r->>'fingerprint' THEN
    -- the same token with a different request: refused, and nothing changes
    RETURN jsonb_build_object('status', 402, 'outcome', 'declined', 'decline_reason', 'DUPLICATE_TRANSACTION',
      'replay', false, 'duplicate', true,
      'response', jsonb_build_object('jit_funding', (r->'echo') || (
        SELECT jsonb_build_object('decline_reason', response_reason, 'memo', memo)
        FROM decline_memos WHERE reason = 'DUPLICATE_TRANSACTION')));
  END IF;
  RETURN jsonb_build_object('status', d.http_status, 'response', d.response, 'outcome', d.outcome,
    'decline_reason', d.decline_reason, 'replay', true, 'duplicate', false);
END
$$;

CREATE OR REPLACE FUNCTION jit_decide (r jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_token text := r->>'jit_token';
  v_kind text := r->>'kind';
  v_amount bigint := coalesce((r->>'amount')::bigint, 0);
  v_currency text := r->>'currency';
  v_reason text := r->>'decline_reason';
  v_now timestamptz := clock_timestamp();
  v_tz text := coalesce(r->>'timezone', 'UTC');
  v_card text := r->>'card_token';
  v_user text := r->>'user_token';
  v_account text := r->>'account_token';
  v_purchase text;
  v_spent bigint;
  v_count integer;
  v_day date;
  v_month date;
  v_status integer;
  v_outcome text;
  v_response jsonb;
  v_extra jsonb := '{}';
  v_hold_total bigint;
  v_left_ms numeric;
  v_inserting boolean := false;
  v_hold_routing text;
  v_hold_event jsonb;
  v_exp integer;
  d decisions%ROWTYPE;
  a accounts%ROWTYPE;
  h holds%ROWTYPE;
  v_standin holds%ROWTYPE;
  m ledger_messages%ROWTYPE;
  lim spending_limits%ROWTYPE;
BEGIN
  -- Every lock wait below, the token claim included, ends by the deadline (lock_timeout, this
  -- transaction only), and a decision that starts after it records a TIMEOUT decline and moves
  -- no money.
  IF r ? 'budget_ms' THEN
    v_left_ms := (r->>'budget_ms')::numeric - extract(epoch from clock_timestamp() - statement_timestamp()) * 1000;
    PERFORM set_config('lock_timeout', greatest(1, floor(v_left_ms))::bigint::text || 'ms', true);
  END IF;

  -- Re-validate what the caller took from the cache (revision 0 = the row did not exist) before
  -- anything is written.
  IF r->'expect' IS NOT NULL AND jsonb_typeof(r->'expect') = 'object' THEN
    IF (r->'expect' ? 'user' AND coalesce((SELECT revision FROM users WHERE user_token = v_user), 0) <> (r->'expect'->>'user')::bigint)
       OR (r->'expect' ? 'card' AND coalesce((SELECT revision FROM cards WHERE card_token = v_card), 0) <> (r->'expect'->>'card')::bigint)
       OR (r->'expect' ? 'card_limits' AND coalesce((SELECT revision FROM spending_limits WHERE scope = 'card' AND token = v_card AND currency = v_currency), 0) <> (r->'expect'->>'card_limits')::bigint)
       OR (r->'expect' ? 'user_limits' AND coalesce((SELECT revision FROM spending_limits WHERE scope = 'user' AND token = v_user AND currency = v_currency), 0) <> (r->'expect'->>'user_limits')::bigint) THEN
      IF coalesce((r->>'report_stale')::boolean, false) THEN
        RETURN jsonb_build_object('stale', true);
      END IF;
      RAISE EXCEPTION 'stale cache: user % card %', v_user, v_card USING ERRCODE = 'JT001';
    END IF;
  END IF;

  IF v_reason IS NULL AND v_kind = 'unknown' THEN
    v_reason := 'TRANSACTION_NOT_PERMITTED';
  END IF;
  -- A transaction token no processor sends (theirs are at most 36 characters) is a malformed
  -- request: declined, and recorded without it (an index entry holds at most ~2.7 kB; a longer
  -- token would fail the statement, and every member of its batch).
  IF length(r->>'transaction_token') > 255 THEN
    v_reason := coalesce(v_reason, 'TRANSACTION_NOT_PERMITTED');
    r := r - 'transaction_token';
  END IF;
  IF v_reason IS NULL AND v_left_ms IS NOT NULL AND v_left_ms <= 0 THEN
    v_reason := 'TIMEOUT';
  END IF;

  -- One subtransaction holds the money and the decision row that claims the token: when a lock
  -- wait reaches the deadline (lock_timeout), its changes roll back and the token is recorded as
  -- a TIMEOUT decline in this same statement (the loop's second pass, which moves no money and
  -- takes no lock but the row's), so a repeat can never be decided anew in between.
  LOOP
  BEGIN
    -- The card's lock comes first of all (ledger_lock_cards): a batch took it for every member
    -- already; alone, this decision takes it here. Only a decision that may move money needs it
    -- (a decline already decided, e.g. past the deadline, is recorded at once); a wait for it
    -- that reaches the deadline is a TIMEOUT decline like any other lock wait.
    -- A batch holds the lock already (the try takes it again without a wait or a subtransaction).
    IF v_card IS NOT NULL AND v_reason IS NULL AND NOT pg_try_advisory_xact_lock(ledger_card_lock_key(v_card)) THEN
      BEGIN
        PERFORM pg_advisory_xact_lock(ledger_card_lock_key(v_card));
      EXCEPTION WHEN lock_not_available THEN
        v_reason := 'TIMEOUT';
      END;
    END IF;
    -- The token's claim lock next (ledger_token_lock_key, before any row): whoever holds it is
    -- deciding this token, a webhook claiming it (ledger_lc_claim_decision) takes it too, so the
    -- two serialize here and never on rows taken in opposite orders. A wait for it that reaches
    -- the deadline while another transaction holds it answers `unclaimed` (handler below): the
    -- decision being made stands, never overturned by a TIMEOUT of its repeat.
    IF NOT pg_try_advisory_xact_lock(ledger_token_lock_key(v_token)) THEN
      IF v_reason = 'TIMEOUT' AND r ? 'budget_ms' THEN
        -- past the deadline already (its card lock wait reached it): no second wait
        RETURN jsonb_build_object('unclaimed', true);
      END IF;
      PERFORM pg_advisory_xact_lock(ledger_token_lock_key(v_token));
    END IF;
    -- decided before (a repeat, or a webhook's claim): its stored answer, nothing moves
    PERFORM 1 FROM decisions WHERE jit_token = v_token;
    IF FOUND THEN
      RETURN jit_decide_replay(v_token, r);
    END IF;

    -- The cardholder who spends must be active too (docs/ledger.md "acting_user_token"): when a
    -- card of one user is used by another, both are checked here, under the card lock, so a user
    -- suspended a moment ago is never approved from a stale cache. The account that pays stays
    -- the card's.
    IF v_reason IS NULL AND r->>'acting_user_token' IS NOT NULL AND r->>'acting_user_token' <> v_user
       AND coalesce((SELECT status FROM users WHERE user_token = r->>'acting_user_token'), 'UNKNOWN') <> 'ACTIVE' THEN
      v_reason := 'CARDHOLDER_NOT_ACTIVE';
    END IF;

    IF v_reason IS NULL AND v_kind IN ('authorization', 'incremental', 'immediate_debit') THEN
      -- A purchase's original and its incrementals serialize on one lock, so an incremental that
      -- races its original waits for the original's commit instead of missing its hold.
      v_purchase := CASE WHEN v_kind = 'incremental' THEN r->>'original_jit_token' ELSE v_token END;
      IF v_purchase IS NULL THEN
        v_reason := 'TRANSACTION_NOT_PERMITTED';
      ELSE
        PERFORM pg_advisory_xact_lock(hashtextextended('jit-purchase:' || v_purchase, 0));
      END IF;

      -- The processor's webhook for this very network message (its transaction token, recorded
      -- by the lifecycle in ledger_messages) was applied before we decided: a stand-in it
      -- approved or a DECLINED that repaired it. That message's money has been decided without
      -- us, so this late decision moves none (docs/ledger.md "Keys": never a second copy).
      -- The message row is taken (created and locked) as the webhook takes it, before it
      -- matches: a webhook without jit_funding cannot claim our decision row, so this row is
      -- where the two serialize (one waits for the other's commit, then sees its effect).
      IF v_reason IS NULL AND r->>'transaction_token' IS NOT NULL THEN
        -- (as ledger_lc_message, one statement when the row is new: an uncommitted row of ours
        -- makes every other taker wait on its key; an existing row is locked)
        INSERT INTO ledger_messages (kind, message_token) VALUES (v_kind, r->>'transaction_token')
        ON CONFLICT DO NOTHING RETURNING * INTO m;
        IF NOT FOUND THEN
          SELECT * INTO m FROM ledger_messages WHERE kind = v_kind AND message_token = r->>'transaction_token' FOR UPDATE;
        END IF;
        IF m.webhook_at IS NOT NULL OR m.repaired_at IS NOT NULL THEN
          v_reason := 'DUPLICATE_TRANSACTION';
        -- the same network message asked again under another JIT token (its request token is
        -- the message's): one message, one effect; the row lock above serializes the two asks
        ELSIF EXISTS (SELECT 1 FROM decisions WHERE transaction_token = r->>'transaction_token'
                        AND jit_token <> v_token AND kind = v_kind AND outcome = 'approved') THEN
          v_reason := 'DUPLICATE_TRANSACTION';
        -- A single-message debit's bare copy (typed `authorization`) applied before we decided:
        -- repaired (DECLINED), the message's money is settled without us; approved as a stand-in
        -- hold, that hold is this debit's and is released as it is posted (counted as available
        -- for this approval), so the message moves its money once.
        ELSIF v_kind = 'immediate_debit' THEN
          IF EXISTS (SELECT 1 FROM ledger_messages WHERE kind = 'authorization'
                       AND message_token = r->>'transaction_token' AND repaired_at IS NOT NULL) THEN
            v_reason := 'DUPLICATE_TRANSACTION';
          ELSE
            SELECT * INTO v_standin FROM ledger_lc_standin_debit_hold(r->>'transaction_token') sh
            WHERE sh.account_token = v_account;
          END IF;
        END IF;
      END IF;

      IF v_reason IS NULL AND v_kind = 'incremental' THEN
        SELECT * INTO h FROM holds WHERE hold_token = v_purchase FOR UPDATE;
        IF NOT FOUND OR h.state <> 'OPEN' OR h.forced
           OR (v_card IS NOT NULL AND h.card_token IS DISTINCT FROM v_card)
           OR NOT EXISTS (SELECT 1 FROM decisions WHERE jit_token = v_purchase AND outcome = 'approved') THEN
          v_reason := 'TRANSACTION_NOT_PERMITTED';
        ELSE
          v_account := h.account_token;
          v_hold_total := h.authorized + v_amount;
        END IF;
      END IF;

      IF v_reason IS NULL THEN
        SELECT * INTO a FROM accounts WHERE account_token = v_account FOR UPDATE;
        IF NOT FOUND OR a.status <> 'ACTIVE' THEN
          v_reason := 'CLOSED_ACCOUNT';
        ELSIF a.currency <> v_currency THEN
          v_reason := 'TRANSACTION_NOT_PERMITTED';
        ELSIF a.balance - a.held + coalesce(v_standin.remaining, 0) - v_amount < -a.credit_line THEN
          v_reason := 'INSUFFICIENT_FUNDS';
        END IF;
      END IF;

      IF v_reason IS NULL THEN
        v_day := (v_now AT TIME ZONE v_tz)::date;
        v_month := date_trunc('month', v_now AT TIME ZONE v_tz)::date;
        FOR lim IN
          SELECT * FROM spending_limits
          WHERE currency = v_currency
            AND ((scope = 'card' AND token = v_card) OR (scope = 'user' AND token = v_user))
          ORDER BY scope, token
        LOOP
          IF v_kind = 'incremental' AND lim.per_transaction IS NOT NULL AND v_hold_total > lim.per_transaction THEN
            v_reason := 'AMOUNT_LIMIT_EXCEEDED';
            EXIT;
          END IF;
          INSERT INTO spend_counters (scope, token, currency, period, period_start)
          VALUES (lim.scope, lim.token, v_currency, 'day', v_day), (lim.scope, lim.token, v_currency, 'month', v_month)
          ON CONFLICT DO NOTHING;
          SELECT amount, count INTO v_spent, v_count FROM spend_counters
          WHERE scope = lim.scope AND token = lim.token AND currency = v_currency AND period = 'day' AND period_start = v_day
          FOR UPDATE;
          IF lim.daily IS NOT NULL AND v_spent + v_amount > lim.daily THEN
            v_reason := 'AMOUNT_LIMIT_EXCEEDED';
            EXIT;
          END IF;
          IF lim.daily_count IS NOT NULL AND v_kind <> 'incremental' AND v_count + 1 > lim.daily_count THEN
            v_reason := 'TRANSACTION_COUNT_LIMIT_EXCEEDED';
            EXIT;
          END IF;
          SELECT amount INTO v_spent FROM spend_counters
          WHERE scope = lim.scope AND token = lim.token AND currency = v_currency AND period = 'month' AND period_start = v_month
          FOR UPDATE;
          IF lim.monthly IS NOT NULL AND v_spent + v_amount > lim.monthly THEN
            v_reason := 'AMOUNT_LIMIT_EXCEEDED';
            EXIT;
          END IF;
        END LOOP;
      END IF;

      IF v_reason IS NULL THEN
        UPDATE spend_counters SET amount = amount + v_amount,
          count = count + CASE WHEN v_kind = 'incremental' THEN 0 ELSE 1 END
        WHERE currency = v_currency
          AND ((scope = 'card' AND token = v_card) OR (scope = 'user' AND token = v_user))
          AND ((period = 'day' AND period_start = v_day) OR (period = 'month' AND period_start = v_month));

        IF v_kind = 'authorization' THEN
          UPDATE accounts SET held = held + v_amount, updated_at = v_now WHERE account_token = v_account;
          -- the hold and its history row are the authorization's effect (keyed by the token)
          INSERT INTO holds (hold_token, account_token, user_token, card_token, currency, mcc, transaction_tokens, authorized, opened_at, last_activity_at)
          VALUES (v_token, v_account, v_user, v_card, v_currency, r->>'mcc',
            CASE WHEN r->>'transaction_token' IS NULL THEN '{}'::text[] ELSE ARRAY[r->>'transaction_token'] END,
            v_amount, v_now, v_now)
          RETURNING * INTO h;
          INSERT INTO hold_history (hold_token, action, amount, effect_key) VALUES (v_token, 'placed', v_amount, 'authorization:' || v_token);
          v_hold_routing := 'ledger.hold.placed';
          v_exp := ledger_exponent(v_currency);
          v_hold_event := ledger_hold_event_payload(h, v_amount, jsonb_build_object(
            'reason', 'jit.authorization', 'effect_key', 'authorization:' || v_token, 'transaction_token', r->>'transaction_token'), v_exp);
        ELSIF v_kind = 'incremental' THEN
          UPDATE accounts SET held = held + v_amount, updated_at = v_now WHERE account_token = v_account;
          UPDATE holds SET authorized = authorized + v_amount, last_activity_at = v_now,
            transaction_tokens = CASE WHEN r->>'transaction_token' IS NULL OR r->>'transaction_token' = ANY (transaction_tokens)
              THEN transaction_tokens ELSE transaction_tokens || (r->>'transaction_token') END
          WHERE hold_token = v_purchase RETURNING * INTO h;
          INSERT INTO hold_history (hold_token, action, amount, effect_key) VALUES (v_purchase, 'increased', v_amount, 'incremental:' || v_token);
          v_hold_routing := 'ledger.hold.increased';
          v_exp := ledger_exponent(v_currency);
          v_hold_event := ledger_hold_event_payload(h, v_amount, jsonb_build_object(
            'reason', 'jit.incremental', 'effect_key', 'incremental:' || v_token, 'transaction_token', r->>'transaction_token'), v_exp);
        ELSE
          IF v_standin.hold_token IS NOT NULL THEN
            PERFORM ledger_lc_release(v_standin.hold_token, v_standin.remaining, true, 'CLOSED', 'released', 'immediate_debit:' || v_token,
              jsonb_build_object('cause', 'standin_hold_was_a_debit', 'transaction_token', r->>'transaction_token'), v_now, 'ledger.hold.released');
          END IF;
          PERFORM ledger_post('purchase', 'immediate_debit:' || v_token, v_account, -v_amount, 'network_settlement', r->>'method');
          INSERT INTO effects (kind, key, result) VALUES ('immediate_debit', v_token, jsonb_build_object('amount', v_amount));
          PERFORM ledger_emit_account_event('ledger.account.debited', v_account, v_amount, jsonb_build_object(
            'kind', r->>'method', 'effect_key', 'immediate_debit:' || v_token, 'jit_token', v_token,
            'transaction_token', r->>'transaction_token', 'user_token', v_user, 'forced', false));
        END IF;
      END IF;
    END IF;

    IF v_reason IS NULL AND v_kind = 'balance_inquiry' THEN
      SELECT * INTO a FROM accounts WHERE account_token = v_account;
      IF NOT FOUND OR a.status <> 'ACTIVE' THEN
        v_reason := 'CLOSED_ACCOUNT';
      ELSE
        v_extra := jsonb_build_object('balances', ledger_cardholder_balances(a));
      END IF;
    END IF;

    IF v_reason IS NOT NULL THEN
      v_status := 402;
      v_outcome := 'declined';
      SELECT jsonb_build_object('decline_reason', response_reason, 'memo', memo) INTO v_extra
      FROM decline_memos WHERE reason = v_reason;
      IF v_extra IS NULL THEN
        RAISE EXCEPTION 'unknown decline reason %', v_reason USING ERRCODE = 'JT003';
      END IF;
    ELSE
      v_status := 200;
      v_outcome := CASE WHEN v_kind IN ('informative', 'balance_inquiry') THEN 'answered' ELSE 'approved' END;
    END IF;
    v_response := jsonb_build_object('jit_funding', (r->'echo') || v_extra);

    -- The claim. A writer that inserted this token after the check above (a webhook naming no
    -- card, a decision taking no card lock) decided it: this one's money rolls back with the
    -- subtransaction and the caller gets the stored answer.
    v_inserting := true;
    v_exp := ledger_exponent(v_currency);
    INSERT INTO decisions (jit_token, request_fingerprint, method, kind, user_token, card_token, account_token,
      original_jit_token, transaction_token, outcome, decline_reason, amount, currency, http_status, response)
    VALUES (v_token, r->>'fingerprint', r->>'method', v_kind, v_user, v_card, v_account,
      r->>'original_jit_token', r->>'transaction_token', v_outcome, v_reason, v_amount, v_currency, v_status, v_response)
    ON CONFLICT (jit_token) DO NOTHING
    RETURNING * INTO d;
    IF NOT FOUND THEN
      -- (JT010 never leaves this function: its handler below answers the stored decision)
      RAISE EXCEPTION 'token % decided by another writer', v_token USING ERRCODE = 'JT010';
    END IF;
    -- The decision's events in one insert, its hold's change first; no NOTIFY: every relay polls
    -- (the authorizer's never listens), and a notifying commit serializes on a database-wide lock.
    INSERT INTO outbox (routing_key, payload)
    SELECT e.routing_key, e.payload || jsonb_build_object('occurred_at', to_jsonb(clock_timestamp()))
    FROM (VALUES (1, v_hold_routing, v_hold_event),
                 (2, 'jit.decision.' || v_outcome, ledger_decision_event_payload(d, jsonb_build_object('source', r->>'source',
                   'acting_user_token', r->>'acting_user_token', 'transaction_token', r->>'transaction_token', 'mcc', r->>'mcc'), v_exp))) AS e (n, routing_key, payload)
    WHERE e.payload IS NOT NULL
    ORDER BY e.n;
    EXIT;

  EXCEPTION
    WHEN lock_not_available THEN
      -- another transaction holds this token and records its own decision: the caller asks again
      -- (the try takes the lock for the TIMEOUT pass when nobody holds it, or we did already)
      IF v_inserting OR NOT pg_try_advisory_xact_lock(ledger_token_lock_key(v_token)) THEN
        RETURN jsonb_build_object('unclaimed', true);
      END IF;
      -- the money rolled back with the subtransaction; the next pass records the decline
      v_reason := 'TIMEOUT';
      v_hold_event := NULL;
    WHEN SQLSTATE 'JT010' THEN
      RETURN jit_decide_replay(v_token, r);
    WHEN unique_violation THEN
      -- A request under this JIT token naming another card (so another card lock) inserted the
      -- hold or the effect key first, and committed its decision: this one is its repeat.
      IF EXISTS (SELECT 1 FROM decisions WHERE jit_token = v_token) THEN
        RETURN jit_decide_replay(v_token, r);
      END IF;
      -- Else the token already keys another message's effect (a stand-in hold opened under a
      -- transaction token equal to this JIT token): that effect exists once, so this decision is
      -- a duplicate of it. The money rolled back; the next pass records the decline.
      IF v_reason IS NOT NULL THEN
        RAISE; -- (a pass that moves no money inserts no key but the decision row's)
      END IF;
      v_reason := 'DUPLICATE_TRANSACTION';
      v_hold_event := NULL;
  END;
  END LOOP;

  RETURN jsonb_build_object('status', v_status, 'response', v_response, 'outcome', v_outcome,
    'decline_reason', v_reason, 'replay', false, 'duplicate', false);
END
$$;

-- Several decisions in one transaction (one round trip, one commit, no NOTIFY), in order. Money
-- is only ever decided with synchronous_commit on: an approval is durable before it is answered.
-- A batch that approved something and finishes after `commit_by_ms` (from the statement's start;
-- the authorizer sends its deadline plus half its grace) rolls back (57014, as a cancel does):
-- the authorizer answers its members by the deadline plus grace at the latest, and an approval
-- committed after that would stand behind an answered decline. Declines may commit late: they
-- are what the authorizer answers anyway.
CREATE OR REPLACE FUNCTION jit_decide_batch (rs jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_result jsonb;
  v_approved boolean := false;
BEGIN
  IF current_setting('synchronous_commit') NOT IN ('on', 'local', 'remote_write', 'remote_apply') THEN
    RAISE EXCEPTION 'JIT decisions need synchronous_commit on (got %)', current_setting('synchronous_commit') USING ERRCODE = 'JT004';
  END IF;
  -- Every member's card lock before any member takes a row (docs/ledger.md "Lock order"), so a
  -- webhook batch of the same cards can never hold a message row a later member needs while
  -- waiting for an account row an earlier member took. The wait ends by the batch's budget;
  -- past it the members take their own locks and end as their deadline says.
  IF rs->0 ? 'budget_ms' THEN
    PERFORM set_config('lock_timeout', greatest(1, floor((rs->0->>'budget_ms')::numeric
      - extract(epoch from clock_timestamp() - statement_timestamp()) * 1000))::bigint::text || 'ms', true);
  END IF;
  -- Then every member's token claim lock (ledger_token_lock_key), the same way: a token reused
  -- in another batch (under another card, so past the card locks) is waited for here, before
  -- this batch takes an account row the other one needs.
  BEGIN
    PERFORM ledger_lock_cards(ARRAY(SELECT x->>'card_token' FROM jsonb_array_elements(rs) AS x));
    PERFORM ledger_lock_keys(ARRAY(SELECT ledger_token_lock_key(x->>'jit_token') FROM jsonb_array_elements(rs) AS x));
  EXCEPTION WHEN lock_not_available THEN
    NULL;
  END;
  FOR v_result IN SELECT jit_decide(x.value) FROM jsonb_array_elements(rs) WITH ORDINALITY AS x (value, n) ORDER BY x.n LOOP
    v_approved := v_approved OR (v_result->>'outcome' = 'approved' AND NOT coalesce((v_result->>'replay')::boolean, false));
    RETURN NEXT v_result;
  END LOOP;
  IF v_approved AND rs->0 ? 'commit_by_ms'
     AND extract(epoch from clock_timestamp() - statement_timestamp()) * 1000 > (rs->0->>'commit_by_ms')::numeric THEN
    RAISE EXCEPTION 'decision batch past its commit-by of % ms: rolled back', rs->0->>'commit_by_ms' USING ERRCODE = 'query_canceled';
  END IF;
END
$$;
