-- Claims an effect key; false when it was claimed before (a redelivery, or the JIT decision).
CREATE OR REPLACE FUNCTION ledger_lc_claim (p_kind text, p_key text, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO effects (kind, key, applied_at) VALUES (p_kind, p_key, p_now) ON CONFLICT DO NOTHING;
  RETURN FOUND;
END
$$;
