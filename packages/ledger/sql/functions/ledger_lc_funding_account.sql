-- The funding account of an event that has no hold: the one our decision of this message used,
-- else the card's (its shared account, else its cardholder's own), else the event user's own
-- (account token = user token). The account that pays is the card's: `acting_user_token` never
-- picks it. Null when none exists yet.
CREATE OR REPLACE FUNCTION ledger_lc_funding_account (e jsonb, p_decision text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT a.account_token FROM accounts a
  WHERE a.account_token = coalesce(
    (SELECT d.account_token FROM decisions d WHERE d.jit_token = p_decision AND d.account_token IS NOT NULL),
    (SELECT coalesce(c.account_token, c.user_token) FROM cards c WHERE c.card_token = e->>'card_token'),
    e->>'user_token')
$$;
