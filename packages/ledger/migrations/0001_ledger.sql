-- The ledger's tables. Only packages/ledger reads or writes them; money is bigint minor units.

-- Internal revision numbers for cached entities: the authorizer passes the revision it saw in the
-- cache, and the decision statement compares it, so a stale cache can never decide.
CREATE SEQUENCE ledger_revision_seq;

CREATE TABLE users (
  user_token text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'CLOSED', 'UNVERIFIED', 'LIMITED')),
  command_version bigint,
  revision bigint NOT NULL DEFAULT nextval('ledger_revision_seq'),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
  account_token text PRIMARY KEY,
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance bigint NOT NULL DEFAULT 0,
  held bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
  -- how far below zero our own approvals may take available (0: never)
  credit_line bigint NOT NULL DEFAULT 0 CHECK (credit_line >= 0),
  status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'CLOSED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cards (
  card_token text PRIMARY KEY,
  user_token text NOT NULL,
  -- null: funded from the user's own account (account_token = user_token)
  account_token text,
  status text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'TERMINATED', 'UNACTIVATED')),
  expiration text NOT NULL CHECK (expiration ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  command_version bigint,
  revision bigint NOT NULL DEFAULT nextval('ledger_revision_seq'),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_user ON cards (user_token);

-- Absent column = no limit. One row per scope, token and currency (limits.set replaces it).
CREATE TABLE spending_limits (
  scope text NOT NULL CHECK (scope IN ('user', 'card')),
  token text NOT NULL,
  currency text NOT NULL,
  per_transaction bigint CHECK (per_transaction >= 0),
  daily bigint CHECK (daily >= 0),
  monthly bigint CHECK (monthly >= 0),
  daily_count integer CHECK (daily_count >= 0),
  blocked_mccs text[] NOT NULL DEFAULT '{}',
  command_version bigint,
  revision bigint NOT NULL DEFAULT nextval('ledger_revision_seq'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, token, currency)
);

-- Spend per period, moved atomically with the hold so concurrency cannot beat a period limit.
CREATE TABLE spend_counters (
  scope text NOT NULL,
  token text NOT NULL,
  currency text NOT NULL,
  period text NOT NULL CHECK (period IN ('day', 'month')),
  period_start date NOT NULL,
  amount bigint NOT NULL DEFAULT 0,
  count integer NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, token, currency, period, period_start)
);

-- One decision per JIT token; a repeat gets the stored status and body.
CREATE TABLE decisions (
  jit_token text PRIMARY KEY,
  request_fingerprint text NOT NULL,
  method text NOT NULL,
  kind text NOT NULL,
  user_token text NOT NULL,
  card_token text,
  account_token text,
  original_jit_token text,
  outcome text NOT NULL CHECK (outcome IN ('pending', 'approved', 'declined', 'answered')),
  decline_reason text,
  amount bigint,
  currency text,
  http_status integer NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- What a support agent reads in a decline's memo (<= 99 characters, sent to the processor).
-- `reason` is what we record; `response_reason` is the processor's allowed value we send for it.
CREATE TABLE decline_memos (
  reason text PRIMARY KEY,
  response_reason text NOT NULL,
  memo text NOT NULL CHECK (length(memo) <= 99)
);
INSERT INTO decline_memos (reason, response_reason, memo) SELECT reason, reason, memo FROM (VALUES
  ('INSUFFICIENT_FUNDS', 'Declined: the funding account''s available balance is below the amount.'),
  ('AMOUNT_LIMIT_EXCEEDED', 'Declined: a per-transaction, daily or monthly spend limit would be exceeded.'),
  ('TRANSACTION_COUNT_LIMIT_EXCEEDED', 'Declined: the daily number of transactions is reached.'),
  ('CARD_NOT_ACTIVE', 'Declined: the card is not active (suspended, terminated or not activated).'),
  ('CARDHOLDER_NOT_ACTIVE', 'Declined: the cardholder is not active.'),
  ('EXPIRED_CARD', 'Declined: the card is past its expiration month.'),
  ('INVALID_CARD', 'Declined: the card is unknown or does not belong to this cardholder.'),
  ('INVALID_MERCHANT', 'Declined: the merchant category is blocked for this card or cardholder.'),
  ('INVALID_AMOUNT', 'Declined: the amount is not a valid, exact amount in the currency.'),
  ('CLOSED_ACCOUNT', 'Declined: the funding account is closed or missing.'),
  ('TRANSACTION_NOT_PERMITTED', 'Declined: this kind of transaction is not permitted for the card.'),
  ('DUPLICATE_TRANSACTION', 'Declined: this JIT token was already used for a different request.'),
  ('TIMEOUT', 'Declined: the decision did not complete within the time budget.')
) AS m (reason, memo);
UPDATE decline_memos SET response_reason = CASE reason WHEN 'TIMEOUT' THEN 'TRANSACTION_NOT_PERMITTED' ELSE reason END;

-- One hold per purchase, keyed by the purchase's original JIT token. It never reopens.
CREATE TABLE holds (
  hold_token text PRIMARY KEY,
  account_token text NOT NULL REFERENCES accounts (account_token),
  user_token text,
  card_token text,
  currency text NOT NULL,
  mcc text,
  -- the network transaction tokens of this purchase's messages, for preceding_related lookups
  transaction_tokens text[] NOT NULL DEFAULT '{}',
  authorized bigint NOT NULL CHECK (authorized >= 0),
  captured bigint NOT NULL DEFAULT 0 CHECK (captured >= 0),
  released bigint NOT NULL DEFAULT 0 CHECK (released >= 0),
  remaining bigint GENERATED ALWAYS AS (authorized - captured - released) STORED,
  over_captured bigint NOT NULL DEFAULT 0 CHECK (over_captured >= 0),
  state text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'CLOSED', 'EXPIRED')),
  -- opened by a forced effect (stand-in), not by our own approval
  forced boolean NOT NULL DEFAULT false,
  opened_at timestamptz NOT NULL DEFAULT now(),
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz,
  CHECK (captured + released <= authorized),
  CHECK (state = 'OPEN' OR captured + released = authorized)
);
CREATE INDEX holds_open_activity ON holds (last_activity_at) WHERE state = 'OPEN';
CREATE INDEX holds_account ON holds (account_token);
CREATE INDEX holds_transaction_tokens ON holds USING gin (transaction_tokens);

CREATE TABLE hold_history (
  id bigserial PRIMARY KEY,
  hold_token text NOT NULL REFERENCES holds (hold_token),
  action text NOT NULL,
  amount bigint NOT NULL,
  effect_key text,
  detail jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hold_history_hold ON hold_history (hold_token, id);

-- Immutable double-entry journal of posted movements. Counter-accounts are named
-- 'program_funding:<CUR>' and 'network_settlement:<CUR>'; every entry's lines sum to zero.
CREATE TABLE journal_entries (
  entry_id bigserial PRIMARY KEY,
  kind text NOT NULL,
  effect_key text,
  currency text NOT NULL,
  description text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE journal_lines (
  entry_id bigint NOT NULL REFERENCES journal_entries (entry_id),
  account_token text NOT NULL,
  -- signed: positive raises the account's balance, negative lowers it
  amount bigint NOT NULL,
  PRIMARY KEY (entry_id, account_token)
);
CREATE INDEX journal_lines_account ON journal_lines (account_token, entry_id);

CREATE FUNCTION ledger_forbid_change () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the journal is immutable (% on %)', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();

-- Effect keys (LEDGER.md "Keys"): each money effect is recorded here in the transaction that
-- applies it, so redeliveries change money once.
CREATE TABLE effects (
  kind text NOT NULL,
  key text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  result jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (kind, key)
);
