-- ledger.account.credited|debited: a posted movement and the balances after it. `p_extra` may
-- carry kind (or cause), effect_key, jit_token, transaction_token, user_token, forced.
CREATE OR REPLACE FUNCTION ledger_emit_account_event (p_routing text, p_account text, p_amount bigint, p_extra jsonb, p_correlation text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  a accounts%ROWTYPE;
  v_exp integer;
BEGIN
  SELECT * INTO a FROM accounts WHERE account_token = p_account;
  v_exp := ledger_exponent(a.currency);
  PERFORM ledger_emit(p_routing, jsonb_strip_nulls(jsonb_build_object(
    'account_token', a.account_token, 'user_token', p_extra->>'user_token', 'currency', a.currency,
    'amount_minor', abs(p_amount), 'amount', ledger_major(abs(p_amount), v_exp)::text,
    'balance_minor', a.balance, 'balance', ledger_major(a.balance, v_exp)::text,
    'available_minor', a.balance - a.held, 'available', ledger_major(a.balance - a.held, v_exp)::text,
    'kind', coalesce(p_extra->>'kind', p_extra->>'cause', p_routing),
    'effect_key', p_extra->>'effect_key', 'jit_token', p_extra->>'jit_token',
    'transaction_token', p_extra->>'transaction_token',
    'forced', coalesce((p_extra->>'forced')::boolean, false))), p_correlation);
END
$$;
