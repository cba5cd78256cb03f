-- Exact major units of a minor amount (numeric, never float), e.g. (1050, 2) -> 10.50
CREATE OR REPLACE FUNCTION ledger_major (minor bigint, exponent integer) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT round(minor::numeric / (10::numeric ^ exponent), exponent)
$$;
