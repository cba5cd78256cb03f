-- The funding account of an event that has no hold: the one our decision of this message used,
-- else the card's (its shared account, else its cardholder's own); the event user's own
-- (account token = user token) only when the event names no card. The account that pays is the
-- card's: `acting_user_token` never picks it, and an event naming a card the ledger does not
-- know yet gets none (it waits for the card, ledger_lc_no_account_reason), never the user's own
-- account, which a company card funded by a shared account would otherwise charge for good.
-- Null when none exists yet.
CREATE OR REPLACE FUNCTION ledger_lc_funding_account (e jsonb, p_decision text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT a.account_token FROM accounts a
  WHERE a.account_token = coalesce(
    (SELECT d.account_token FROM decisions d WHERE d.jit_token = p_decision AND d.account_token IS NOT NULL),
    CASE WHEN e->>'card_token' IS NULL THEN e->>'user_token'
         ELSE (SELECT coalesce(c.account_token, c.user_token) FROM cards c WHERE c.card_token = e->>'card_token') END)
$$;

-- Why an event found no funding account (the parked reason): its card is not provisioned yet
-- (it names a card the ledger does not know), else the card's or user's account does not exist yet.
CREATE OR REPLACE FUNCTION ledger_lc_no_account_reason (e jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN e->>'card_token' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.card_token = e->>'card_token')
    THEN 'card not provisioned yet' ELSE 'no funding account for the card or user yet' END
$$;
