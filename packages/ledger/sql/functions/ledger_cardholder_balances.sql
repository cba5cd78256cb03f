-- The processor-facing balance of an account: a swagger `cardholder_balance` keyed by currency.
CREATE OR REPLACE FUNCTION ledger_cardholder_balances (a accounts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(a.currency, jsonb_build_object(
    'currency_code', a.currency,
    'ledger_balance', ledger_major(a.balance, ledger_exponent(a.currency)),
    'available_balance', ledger_major(a.balance - a.held, ledger_exponent(a.currency)),
    'credit_balance', 0,
    'cached_balance', 0,
    'pending_credits', 0,
    'last_updated_time', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'balances', '{}'::jsonb))
$$;
