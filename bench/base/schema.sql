-- BASE: the simplest correct JIT authorizer's tables, in a schema of their own beside the
-- ledger's (the benchmark copies one seeded database for both sides).
CREATE SCHEMA IF NOT EXISTS base;
CREATE TABLE IF NOT EXISTS base.accounts (
  account_token text PRIMARY KEY,
  balance bigint NOT NULL,
  held bigint NOT NULL DEFAULT 0 CHECK (held >= 0)
);
CREATE TABLE IF NOT EXISTS base.cards (
  card_token text PRIMARY KEY,
  account_token text NOT NULL REFERENCES base.accounts (account_token)
);
CREATE TABLE IF NOT EXISTS base.decisions (
  jit_token text PRIMARY KEY,
  card_token text NOT NULL,
  amount bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS base.holds (
  jit_token text PRIMARY KEY REFERENCES base.decisions (jit_token),
  account_token text NOT NULL REFERENCES base.accounts (account_token),
  amount bigint NOT NULL CHECK (amount > 0)
);
