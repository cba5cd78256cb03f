/**
 * @jit/contracts: exact money, the JIT vocabulary, and TypeBox schemas of every HTTP body and
 * AMQP message with their routing keys. Pure code: no I/O, no configuration.
 *
 * Naming: a schema is exported under its name (`JitProgramResponse`), its static TypeScript type
 * under the same name with a `T` suffix (`JitProgramResponseT`), as in @jit/config.
 * @packageDocumentation
 */
export {
  MoneyError,
  currencyExponent,
  isKnownCurrency,
  parseAmount,
  formatAmount,
  formatAmountString,
  KNOWN_CURRENCIES,
  DEFAULT_MAX_MINOR,
  MAX_EXACT_JSON_MINOR
} from './money.js'
export type { MoneyErrorCode, ParseAmountOptions } from './money.js'

export {
  DECLINE_REASONS,
  JIT_METHODS,
  JIT_METHOD_CLASSES,
  isDeclineReason,
  isJitMethod,
  classifyJitMethod,
  isActionableJitClass
} from './jit.js'
export type { DeclineReason, JitMethod, JitMethodClass } from './jit.js'

export {
  InboundJitFunding,
  JitFundingIdentity,
  JitFundingRequest,
  JitAddressVerification,
  NestedCardholderBalance,
  CardholderBalance,
  JitFundingResponse,
  JitProgramResponse,
  extractJitFunding,
  parseJitFundingRequest,
  buildCardholderBalance,
  buildJitResponse
} from './jit-schemas.js'
export type {
  InboundJitFundingT,
  JitFundingIdentityT,
  JitFundingRequestT,
  JitAddressVerificationT,
  NestedCardholderBalanceT,
  CardholderBalanceT,
  JitFundingResponseT,
  JitProgramResponseT,
  JitFundingSource,
  ParsedJitFundingRequest,
  CardholderBalanceInput,
  JitResponseInput
} from './jit-schemas.js'

export {
  KNOWN_WEBHOOK_FAMILIES,
  MAX_WEBHOOK_BATCH,
  WEBHOOK_FAMILY_PATTERN,
  SUCCESS_RESPONSE_CODES,
  WebhookEvent,
  WebhookBatch,
  WebhookJitFunding,
  WebhookGpaOrder,
  TransactionEvent,
  isKnownWebhookFamily,
  splitWebhookBatch
} from './webhook-schemas.js'
export type { KnownWebhookFamily, WebhookEventT, WebhookBatchT, WebhookJitFundingT, WebhookGpaOrderT, TransactionEventT } from './webhook-schemas.js'

export {
  EXCHANGES,
  QUEUES,
  EVENT_ROUTING_KEYS,
  COMMAND_TYPES,
  WEBHOOK_ROUTING_PREFIX,
  DecimalAmount,
  SignedDecimalAmount,
  CurrencyCode,
  MinorUnits,
  UserUpsertCommand,
  CardUpsertCommand,
  AccountCreditCommand,
  AccountDebitCommand,
  LimitsSetCommand,
  HoldReleaseCommand,
  COMMAND_SCHEMAS,
  JitDecisionEvent,
  LedgerHoldEvent,
  LedgerAccountEvent,
  CommandAppliedEvent,
  CommandRejectedEvent,
  CommandResultEvent,
  EVENT_SCHEMAS,
  isCommandType,
  webhookRoutingKey
} from './amqp.js'
export type {
  EventRoutingKey,
  CommandType,
  CommandBodies,
  UserUpsertCommandT,
  CardUpsertCommandT,
  AccountCreditCommandT,
  AccountDebitCommandT,
  LimitsSetCommandT,
  HoldReleaseCommandT,
  JitDecisionEventT,
  LedgerHoldEventT,
  LedgerAccountEventT,
  CommandAppliedEventT,
  CommandRejectedEventT,
  CommandResultEventT
} from './amqp.js'

export { generateAsyncApi } from './asyncapi.js'
export type { AsyncApiOptions } from './asyncapi.js'

export { HTTP_ERRORS, HttpErrorBody, httpError } from './http-schemas.js'
export type { HttpErrorBodyT, HttpErrorCode } from './http-schemas.js'

export { compileValidator, registerFormats } from './validate.js'
export type { ValidationIssue, ValidationResult, Validator, CompileValidatorOptions } from './validate.js'

export { literalUnion } from './literals.js'

export { isUnstorableText, toStorableJson } from './storable.js'
