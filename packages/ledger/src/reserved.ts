/**
 * The journal's counter-accounts are named `<counter>:<CUR>` (`program_funding:USD`,
 * `network_settlement:EUR`). Every name of that shape (lowercase letters and underscores, then a
 * colon) is reserved for the ledger's own accounts, present and future: a command or event that
 * names one as a funding account, user or card is refused with this reason, never applied.
 * The same rule is a CHECK on `accounts` (migrations/0005_lifecycle_state.sql).
 */
export const RESERVED_ACCOUNT_PATTERN = /^[a-z_]+:/

/** What the refusal says. */
export const RESERVED_ACCOUNT_RULE = 'names like program_funding:* and network_settlement:* (lowercase_word:...) are the ledger\'s internal accounts'

/** True when `token` is a reserved internal account name. */
export function isReservedAccountName (token: string): boolean {
  return RESERVED_ACCOUNT_PATTERN.test(token)
}
