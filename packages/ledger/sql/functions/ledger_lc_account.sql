-- The funding account of an event that has no hold: the one our decision used, else the card's,
-- else the user's own (account token = user token). Null when none exists yet.
CREATE OR REPLACE FUNCTION ledger_lc_account (e jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT a.account_token FROM accounts a
  WHERE a.account_token = coalesce(
    (SELECT d.account_token FROM decisions d WHERE d.jit_token = e->>'jit_token' AND d.account_token IS NOT NULL),
    (SELECT coalesce(c.account_token, c.user_token) FROM cards c WHERE c.card_token = e->>'card_token'),
    e->>'user_token')
$$;
