-- A posted debit (forced: the network already took the money) with its events.
CREATE OR REPLACE FUNCTION ledger_lc_debit (p_account text, p_amount bigint, p_kind text, p_key text, e jsonb, p_cause text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_amount = 0 THEN RETURN; END IF;
  PERFORM ledger_post(p_kind, p_kind || ':' || p_key, p_account, -p_amount, 'network_settlement', coalesce(e->>'method', e->>'type'));
  PERFORM ledger_emit_account_event('ledger.account.debited', p_account, p_amount, jsonb_strip_nulls(jsonb_build_object(
    'cause', p_cause, 'forced', true, 'effect_key', p_kind || ':' || p_key, 'transaction_token', e->>'event_token',
    'jit_token', e->>'jit_token', 'card_token', e->>'card_token', 'user_token', e->>'user_token')));
  PERFORM ledger_check_overdrawn(p_account, p_cause);
END
$$;
