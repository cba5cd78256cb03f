-- The hold a follow-up belongs to (LEDGER.md "Keys"): original_jit_funding_token, its own JIT
-- token, then preceding_related_transaction_token through the transaction tokens on holds.
CREATE OR REPLACE FUNCTION ledger_lc_find_hold (e jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v text;
BEGIN
  IF e->>'original_jit_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds WHERE hold_token = e->>'original_jit_token';
    IF FOUND THEN RETURN v; END IF;
  END IF;
  IF e->>'jit_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds WHERE hold_token = e->>'jit_token';
    IF FOUND THEN RETURN v; END IF;
  END IF;
  IF e->>'preceding_token' IS NOT NULL THEN
    SELECT hold_token INTO v FROM holds
    WHERE hold_token = e->>'preceding_token' OR transaction_tokens @> ARRAY[e->>'preceding_token']
    ORDER BY opened_at LIMIT 1;
    IF FOUND THEN RETURN v; END IF;
  END IF;
  RETURN NULL;
END
$$;
