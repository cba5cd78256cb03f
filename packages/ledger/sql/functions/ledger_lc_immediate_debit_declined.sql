-- A DECLINED single-message debit we approved late: the money comes back.
CREATE OR REPLACE FUNCTION ledger_lc_immediate_debit_declined (e jsonb, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := e->>'key';
  v_claimed boolean;
  v_account text;
  v_amount bigint;
  eff effects%ROWTYPE;
BEGIN
  v_claimed := ledger_lc_claim_decision(e, p_now);
  IF NOT ledger_lc_claim('immediate_debit_declined', v_key, p_now) THEN
    RETURN ledger_lc_result('duplicate', NULL, 'already applied');
  END IF;
  SELECT * INTO eff FROM effects WHERE kind = 'immediate_debit' AND key = v_key FOR UPDATE;
  IF NOT FOUND OR coalesce((eff.result->>'amount')::bigint, 0) = 0 THEN
    RETURN ledger_lc_result('applied', CASE WHEN v_claimed THEN 'tombstone' ELSE 'nothing_to_release' END,
      'no debit was made for it');
  END IF;
  v_account := coalesce(eff.result->>'account', (SELECT account_token FROM decisions WHERE jit_token = v_key));
  v_amount := (eff.result->>'amount')::bigint;
  PERFORM ledger_lc_credit(v_account, v_amount, 'immediate_debit_declined', v_key, e,
    'late approval repaired: the processor declined ' || (e->>'type'));
  UPDATE effects SET result = result || jsonb_build_object('reversed_by_decline', v_amount) WHERE kind = 'immediate_debit' AND key = v_key;
  RETURN ledger_lc_result('applied', 'credited', 'late approval repaired');
END
$$;
