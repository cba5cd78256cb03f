-- pgfs.auth_plus_capture / single-message pgfs.pindebit*: the webhook confirms our immediate
-- debit (the key is shared with jit_decide's 'immediate_debit'); the network's amount wins over
-- ours; one we never decided is a forced debit.
CREATE OR REPLACE FUNCTION ledger_lc_immediate_debit (e jsonb, p_park boolean, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_new boolean;
  v_amount bigint;
  v_account text;
  v_ours bigint;
  v_effect text := 'debit_confirmed';
  eff effects%ROWTYPE;
BEGIN
  PERFORM ledger_lc_claim_decision(e, p_now);
  v_new := ledger_lc_claim('immediate_debit', v_key, p_now);
  SELECT * INTO eff FROM effects WHERE kind = 'immediate_debit' AND key = v_key FOR UPDATE;
  IF eff.result ? 'webhook' THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  v_amount := ledger_lc_require_amount(e);
  v_account := coalesce(eff.result->>'account', ledger_lc_account(e));
  IF v_account IS NULL THEN
    DELETE FROM effects WHERE kind = 'immediate_debit' AND key = v_key;
    RETURN ledger_lc_park(e, 'no funding account for the card or user yet', p_park, p_now);
  END IF;
  PERFORM ledger_lc_check_currency(v_account, e);
  IF v_new THEN
    PERFORM ledger_lc_debit(v_account, v_amount, 'immediate_debit', v_key, e, 'standin.' || coalesce(e->>'method', e->>'type'));
    v_effect := 'debited';
  ELSE
    v_ours := coalesce((eff.result->>'amount')::bigint, v_amount);
    IF v_amount > v_ours THEN
      PERFORM ledger_lc_debit(v_account, v_amount - v_ours, 'immediate_debit_adjustment', v_key, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    ELSIF v_amount < v_ours THEN
      PERFORM ledger_lc_credit(v_account, v_ours - v_amount, 'immediate_debit_adjustment', v_key, e, 'webhook.amount_differs');
      v_effect := 'debit_adjusted';
    END IF;
  END IF;
  UPDATE effects SET result = result || jsonb_build_object('account', v_account, 'amount', v_amount, 'webhook', e->>'event_token',
    'forced', v_new)
  WHERE kind = 'immediate_debit' AND key = v_key;
  RETURN ledger_lc_result('applied', v_effect, NULL);
END
$$;
