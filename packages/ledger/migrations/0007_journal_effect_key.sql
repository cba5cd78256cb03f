-- Whether a credit or debit was posted is read from the journal (never purged), not only from
-- `effects` (an idempotency record `jit-ops purge` deletes): a command repeated after the purge
-- is still a duplicate.
CREATE INDEX journal_entries_effect ON journal_entries (kind, effect_key) WHERE effect_key IS NOT NULL;
