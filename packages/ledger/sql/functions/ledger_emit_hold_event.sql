-- ledger.hold.*: the change (`p_amount`) and the hold's state after it. `p_extra` may carry
-- reason (or cause), effect_key, transaction_token, forced, over_capture.
CREATE OR REPLACE FUNCTION ledger_emit_hold_event (p_routing text, h holds, p_amount bigint, p_extra jsonb, p_correlation text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_exp integer := ledger_exponent(h.currency);
BEGIN
  PERFORM ledger_emit(p_routing, jsonb_strip_nulls(jsonb_build_object(
    'jit_token', h.hold_token, 'account_token', h.account_token, 'user_token', h.user_token,
    'card_token', h.card_token, 'transaction_token', p_extra->>'transaction_token',
    'effect_key', p_extra->>'effect_key', 'currency', h.currency,
    'amount_minor', abs(p_amount), 'amount', ledger_major(abs(p_amount), v_exp)::text,
    'authorized_minor', h.authorized, 'captured_minor', h.captured, 'released_minor', h.released,
    'remaining_minor', h.remaining, 'over_captured_minor', h.over_captured, 'state', h.state,
    'forced', h.forced OR coalesce((p_extra->>'forced')::boolean, false)
      OR coalesce((p_extra->>'over_capture')::bigint, 0) > 0,
    'reason', coalesce(p_extra->>'reason', p_extra->>'cause')
      || CASE WHEN p_extra ? 'operator' THEN ' (operator ' || (p_extra->>'operator') || ')' ELSE '' END)), p_correlation);
END
$$;
