-- jit.decision.<outcome>: the contract's JitDecisionEvent, built from the stored decision (so
-- every writer of a decision emits the same shape). `p_extra` may carry source,
-- acting_user_token, transaction_token, mcc.
CREATE OR REPLACE FUNCTION ledger_emit_decision_event (d decisions, p_extra jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_sent text := d.response->'jit_funding'->>'decline_reason';
BEGIN
  PERFORM ledger_emit('jit.decision.' || d.outcome, jsonb_strip_nulls(jsonb_build_object(
    'jit_token', d.jit_token, 'decision', d.outcome, 'http_status', d.http_status,
    'method', d.method, 'method_class', d.kind, 'source', coalesce(p_extra->>'source', 'gpa_order'),
    'user_token', d.user_token, 'acting_user_token', p_extra->>'acting_user_token', 'card_token', d.card_token,
    'account_token', d.account_token, 'transaction_token', p_extra->>'transaction_token',
    'original_jit_funding_token', d.original_jit_token,
    'amount_minor', d.amount,
    'amount', CASE WHEN d.amount IS NULL OR d.currency IS NULL THEN NULL ELSE ledger_major(d.amount, ledger_exponent(d.currency))::text END,
    'currency', d.currency,
    'decline_reason', v_sent,
    'detail', CASE WHEN d.decline_reason IS DISTINCT FROM v_sent THEN d.decline_reason END,
    'mcc', p_extra->>'mcc')));
END
$$;
