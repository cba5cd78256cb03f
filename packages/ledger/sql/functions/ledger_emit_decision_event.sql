-- jit.decision.<outcome>: the contract's JitDecisionEvent, built from the stored decision (so
-- every writer of a decision emits the same shape). `p_extra` may carry source,
-- acting_user_token, transaction_token, mcc. The payload alone (without occurred_at) is
-- ledger_decision_event_payload: jit_decide writes it in its own outbox insert. `p_exp` is
-- ledger_exponent(d.currency), a variable for the reason ledger_hold_event_payload says.
CREATE OR REPLACE FUNCTION ledger_decision_event_payload (d decisions, p_extra jsonb, p_exp integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'jit_token', d.jit_token, 'decision', d.outcome, 'http_status', d.http_status,
    'method', d.method, 'method_class', d.kind, 'source', coalesce(p_extra->>'source', 'gpa_order'),
    'user_token', d.user_token, 'acting_user_token', p_extra->>'acting_user_token', 'card_token', d.card_token,
    'account_token', d.account_token, 'transaction_token', p_extra->>'transaction_token',
    'original_jit_funding_token', d.original_jit_token,
    'amount_minor', d.amount,
    'amount', CASE WHEN d.amount IS NULL OR d.currency IS NULL THEN NULL ELSE ledger_major(d.amount, p_exp)::text END,
    'currency', d.currency,
    'decline_reason', d.response->'jit_funding'->>'decline_reason',
    'detail', CASE WHEN d.decline_reason IS DISTINCT FROM d.response->'jit_funding'->>'decline_reason' THEN d.decline_reason END,
    'mcc', p_extra->>'mcc'))
$$;

CREATE OR REPLACE FUNCTION ledger_emit_decision_event (d decisions, p_extra jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_exp integer := ledger_exponent(d.currency);
BEGIN
  PERFORM ledger_emit('jit.decision.' || d.outcome, ledger_decision_event_payload(d, p_extra, v_exp));
END
$$;
