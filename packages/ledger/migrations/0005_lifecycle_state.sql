-- What each network message did to the money, in typed columns that later events read
-- (LEDGER.md "Keys"): a confirmation's amount on its hold, whether the processor's webhook for a
-- decision was seen, what a DECLINED repair gave back. `effects` stays a pure idempotency record
-- that `jit-ops purge` may delete after its retention; nothing here is ever purged, so an event
-- arriving after the purge is decided exactly as it would have been before it.
CREATE TABLE ledger_messages (
  -- authorization | incremental | immediate_debit | clearing | reversal | refund | force_capture | chargeback | chargeback_reversal
  kind text NOT NULL,
  -- the message's transaction `token` (the processor's id of that network message)
  message_token text NOT NULL,
  -- the JIT decision this message is (its request's top-level token is message_token), if any
  jit_token text,
  hold_token text,
  account_token text,
  -- what this message stands for now, minor units: on its hold (authorization, incremental), or
  -- posted (immediate debit, clearing, movements), or released (reversal)
  amount bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
  forced boolean NOT NULL DEFAULT false,
  -- the processor's webhook for this message was applied (a confirmation, a stand-in, a clearing ...)
  webhook_at timestamptz,
  -- a DECLINED / timed-out webhook repaired it: what went back, and when
  repaired_amount bigint NOT NULL DEFAULT 0 CHECK (repaired_amount >= 0),
  repaired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, message_token)
);
CREATE INDEX ledger_messages_jit ON ledger_messages (jit_token) WHERE jit_token IS NOT NULL;

-- Counter-account names (`program_funding:<CUR>`, `network_settlement:<CUR>`, any `name:`
-- internal prefix) are the journal's own; a funding account may never carry one. NOT VALID: a
-- database that already holds such a row still migrates (`jit-ops invariants` reports it).
ALTER TABLE accounts ADD CONSTRAINT accounts_token_not_reserved CHECK (account_token !~ '^[a-z_]+:') NOT VALID;

-- Hold-expiry attempts that failed: the hold is retried later instead of blocking every sweep.
ALTER TABLE holds ADD COLUMN expiry_failures integer NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN expiry_retry_at timestamptz;

-- Replaced by ledger_lc_match and ledger_lc_funding_account (sql/functions/).
DROP FUNCTION IF EXISTS ledger_lc_find_hold (jsonb);
DROP FUNCTION IF EXISTS ledger_lc_account (jsonb);
