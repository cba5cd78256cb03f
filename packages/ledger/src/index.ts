export { ledgerMigrations } from './migrations.js'
export { ledgerMigrationSets } from './migration-sets.js'
export type {
  Sql, JitDecisionKind, JitDecisionRequest, JitDecisionResult, ExpectedRevisions, JitEcho
} from './types.js'
export { LEDGER_SQLSTATE, hasSqlState, isStaleCacheError, isBudgetExceededError } from './errors.js'
export {
  decideJitFunding, recordTimeoutDecline, jitRequestFingerprint, TIMEOUT_DECLINE, startDecisionBatch, isDecided, isQueryCancelledError, isConnectionLost, isMemberError,
  type DecisionBatch, type DecisionBatchOptions, type BatchMemberResult, type UndecidedMember
} from './decisions.js'
export {
  upsertUser, upsertCard, setLimits, setCardStatus, setUserStatus, loadUser, loadCard, loadLimits, limitsCacheKey,
  type UpsertResult, type UserStatus, type CardStatus, type UserRecord, type CardRecord, type LimitsRecord
} from './provisioning.js'
export { creditAccount, debitAccount, type MovementResult } from './accounts.js'
export { isReservedAccountName, RESERVED_ACCOUNT_PATTERN, RESERVED_ACCOUNT_RULE } from './reserved.js'
export { checkLedgerInvariants, type InvariantViolation } from './invariants.js'
export { countOverdrawnAccounts } from './gauges.js'
export { getAccount, listOpenHolds, getHold, getDecision, getJournal, type AccountView, type HoldView } from './queries.js'
export {
  applyTransactionEvent, applyTransactionEvents, batchApplyOrder, classifyTransactionEvent, retryParkedEvents, expireStaleHolds, expireHoldsBatch, releaseHold, TransactionEventError,
  type TransactionEventInput, type WebhookGpaOrderInput, type TransactionAction, type LifecycleResult,
  type TransactionEventErrorCode, type ExpiredParkedEvent, type ForcedParkedEvent, type RetryParkedOptions, type ExpireHoldsOptions, type ExpiryBatchResult, type ReleaseHoldResult
} from './lifecycle.js'
export * from './console-queries.js'
export { applyTransactionEventBatch, type BatchEventOutcome, type ApplyBatchOptions } from './lifecycle-batch.js'
