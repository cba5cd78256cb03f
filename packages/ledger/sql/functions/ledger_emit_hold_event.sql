-- ledger.hold.*: the change (`p_amount`) and the hold's state after it. `p_extra` may carry
-- reason (or cause), effect_key, transaction_token, forced, over_capture. The payload alone
-- (without occurred_at) is ledger_hold_event_payload: jit_decide writes it in its own outbox insert.
-- `p_exp` is ledger_exponent(h.currency), passed in as a variable: ledger_major is inlined into
-- the caller's query only when its exponent argument is that cheap (a function call there would
-- run ledger_major as a SQL function call per event, ~50 us).
CREATE OR REPLACE FUNCTION ledger_hold_event_payload (h holds, p_amount bigint, p_extra jsonb, p_exp integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'jit_token', h.hold_token, 'account_token', h.account_token, 'user_token', h.user_token,
    'card_token', h.card_token, 'transaction_token', p_extra->>'transaction_token',
    'effect_key', p_extra->>'effect_key', 'currency', h.currency,
    'amount_minor', abs(p_amount), 'amount', ledger_major(abs(p_amount), p_exp)::text,
    'authorized_minor', h.authorized, 'captured_minor', h.captured, 'released_minor', h.released,
    'remaining_minor', h.remaining, 'over_captured_minor', h.over_captured, 'state', h.state,
    'forced', h.forced OR coalesce((p_extra->>'forced')::boolean, false)
      OR coalesce((p_extra->>'over_capture')::bigint, 0) > 0,
    'reason', coalesce(p_extra->>'reason', p_extra->>'cause')
      || CASE WHEN p_extra ? 'operator' THEN ' (operator ' || (p_extra->>'operator') || ')' ELSE '' END))
$$;

CREATE OR REPLACE FUNCTION ledger_emit_hold_event (p_routing text, h holds, p_amount bigint, p_extra jsonb, p_correlation text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_exp integer := ledger_exponent(h.currency);
BEGIN
  PERFORM ledger_emit(p_routing, ledger_hold_event_payload(h, p_amount, p_extra, v_exp), p_correlation);
END
$$;
