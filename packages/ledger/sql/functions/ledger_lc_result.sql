CREATE OR REPLACE FUNCTION ledger_lc_result (p_outcome text, p_effect text, p_reason text, p_hold text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('outcome', p_outcome, 'effect', p_effect, 'reason', p_reason, 'hold_token', p_hold))
$$;
