-- Posts a balanced journal entry: `amount` (signed) to the account, its opposite to the
-- counter-account of the currency, and moves the account's balance. Returns the entry id.
CREATE OR REPLACE FUNCTION ledger_post (
  p_kind text, p_effect_key text, p_account text, p_amount bigint, p_counter text, p_description text DEFAULT NULL
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_entry bigint;
  v_currency text;
BEGIN
  UPDATE accounts SET balance = balance + p_amount, updated_at = clock_timestamp()
  WHERE account_token = p_account RETURNING currency INTO v_currency;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no funding account %', p_account USING ERRCODE = 'JT002';
  END IF;
  INSERT INTO journal_entries (kind, effect_key, currency, description)
  VALUES (p_kind, p_effect_key, v_currency, p_description) RETURNING entry_id INTO v_entry;
  INSERT INTO journal_lines (entry_id, account_token, amount) VALUES
    (v_entry, p_account, p_amount),
    (v_entry, p_counter || ':' || v_currency, -p_amount);
  RETURN v_entry;
END
$$;
