import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DECLINE_REASONS, JIT_METHOD_CLASSES } from './jit.js'
import { literalGuard, literalUnion } from './literals.js'

/*
 * The AMQP contract (docs/architecture.md "Contracts"). Names here never change inside a vhost;
 * other teams bind queues to them, so a change is a versioned, documented change.
 */

/** Topic exchanges, durable. */
export const EXCHANGES = Object.freeze({
  /** Everything that happened. */
  events: 'cards.events',
  /** What internal services ask for. */
  commands: 'cards.commands',
  /** Dead-letter exchange of every queue. */
  dlx: 'cards.dlx'
} as const)

/** Durable queues (seed names). */
export const QUEUES = Object.freeze({
  jitFunding: 'jit-funding',
  transactions: 'transactions',
  webhooks: 'webhooks',
  commands: 'commands'
} as const)

/** Routing keys of the events we publish on `cards.events` (besides `webhook.*`). */
export const EVENT_ROUTING_KEYS = Object.freeze({
  jitDecisionApproved: 'jit.decision.approved',
  jitDecisionDeclined: 'jit.decision.declined',
  jitDecisionAnswered: 'jit.decision.answered',
  ledgerHoldPlaced: 'ledger.hold.placed',
  ledgerHoldIncreased: 'ledger.hold.increased',
  ledgerHoldCaptured: 'ledger.hold.captured',
  ledgerHoldReleased: 'ledger.hold.released',
  ledgerHoldExpired: 'ledger.hold.expired',
  ledgerAccountCredited: 'ledger.account.credited',
  ledgerAccountDebited: 'ledger.account.debited',
  ledgerAccountOverdrawn: 'ledger.account.overdrawn',
  commandApplied: 'command.applied',
  commandRejected: 'command.rejected'
} as const)

/** One of {@link EVENT_ROUTING_KEYS}. */
export type EventRoutingKey = typeof EVENT_ROUTING_KEYS[keyof typeof EVENT_ROUTING_KEYS]

/** Command types: routing keys on `cards.commands` and the `type` property of the message. */
export const COMMAND_TYPES = [
  'user.upsert',
  'card.upsert',
  'account.credit',
  'account.debit',
  'limits.set',
  'hold.release'
] as const
export type CommandType = typeof COMMAND_TYPES[number]

/** Whether `value` is one of {@link COMMAND_TYPES}. */
export const isCommandType = literalGuard(COMMAND_TYPES)

/** Prefix of every webhook event's routing key. */
export const WEBHOOK_ROUTING_PREFIX = 'webhook'

// AMQP limits a routing key (shortstr) to 255 bytes.
const MAX_ROUTING_KEY = 255

/**
 * Keeps a routing-key word to characters every consumer can bind to literally: letters, digits,
 * `_` and `-`. `*` and `#` are wildcards in bindings, and dots split words, so they and anything
 * else become `_`.
 */
function sanitizeWord (word: string): string {
  return word.replace(/[^A-Za-z0-9_-]/g, '_')
}

function firstString (...values: unknown[]): string | null {
  for (const v of values) {
    if (typeof v === 'string' && v.trim() !== '') return v
  }
  return null
}

/**
 * Routing key of a webhook event: `webhook.<family>.<type>`, where `type` keeps its dots
 * (`webhook.transactions.authorization.clearing`); an event without a `type` uses `status`, then
 * `state` (`webhook.cardtransitions.SUSPENDED`), else `unknown`. Characters other than letters,
 * digits, `_` and `-` become `_` (the family never keeps a dot), empty words are dropped, and the
 * key is cut to AMQP's 255 bytes.
 *
 * @example webhookRoutingKey('transactions', { type: 'authorization.clearing' })
 *   // 'webhook.transactions.authorization.clearing'
 */
export function webhookRoutingKey (family: string, event: { type?: unknown, status?: unknown, state?: unknown }): string {
  const fam = sanitizeWord(String(family)) || 'unknown'
  const kind = firstString(event?.type, event?.status, event?.state) ?? 'unknown'
  const words = kind.split('.').map((w) => sanitizeWord(w.trim())).filter((w) => w !== '')
  const key = [WEBHOOK_ROUTING_PREFIX, fam, ...(words.length > 0 ? words : ['unknown'])].join('.')
  // Every character is ASCII after sanitising, so the length in bytes is the string length.
  return key.length <= MAX_ROUTING_KEY ? key : key.slice(0, MAX_ROUTING_KEY).replace(/\.+$/, '')
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

const EntityToken = (description: string) => Type.String({ minLength: 1, maxLength: 36, description })

/**
 * A non-negative decimal amount in major units as a string (`"12.50"`): commands never carry
 * binary floats. The exact check against the currency's exponent is `parseAmount`'s job.
 */
export const DecimalAmount = Type.String({ pattern: '^\\d{1,16}(\\.\\d{1,4})?$', description: 'Decimal major units, e.g. "12.50"' })

/** Same as {@link DecimalAmount} but may be negative (balances in events can be). */
export const SignedDecimalAmount = Type.String({ pattern: '^-?\\d{1,16}(\\.\\d{1,4})?$', description: 'Decimal major units, e.g. "-3.10"' })

/** ISO 4217 code. Known-currency checks happen with `currencyExponent`. */
export const CurrencyCode = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' })

/** Integer minor units, safe for JSON and JavaScript. */
export const MinorUnits = Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'Integer minor units' })

const Version = Type.Integer({ minimum: 0, description: 'Entity version: an older one than applied is stale and changes nothing' })
const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 / RFC 3339 time' })

// ---------------------------------------------------------------------------------------------
// Commands (strict: a misspelt field is a rejection, not a silent default)

/** `user.upsert`: create or update a cardholder. */
export const UserUpsertCommand = Type.Object({
  user_token: EntityToken('Cardholder token'),
  status: literalUnion(['ACTIVE', 'SUSPENDED', 'CLOSED', 'UNVERIFIED', 'LIMITED']),
  version: Type.Optional(Version)
}, { additionalProperties: false })
export type UserUpsertCommandT = Static<typeof UserUpsertCommand>

/** `card.upsert`: create or update a card. */
export const CardUpsertCommand = Type.Object({
  card_token: EntityToken('Card token'),
  user_token: EntityToken('Cardholder token'),
  status: literalUnion(['ACTIVE', 'SUSPENDED', 'TERMINATED', 'UNACTIVATED']),
  expiration: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM; the card is usable through the end of that month' }),
  account_token: Type.Optional(EntityToken('Shared funding account (company programs); default: the user\'s own account')),
  version: Type.Optional(Version)
}, { additionalProperties: false })
export type CardUpsertCommandT = Static<typeof CardUpsertCommand>

function accountMovement (withForce: boolean) {
  const common = {
    amount: DecimalAmount,
    currency: CurrencyCode,
    ...(withForce ? { force: Type.Optional(Type.Boolean({ description: 'Debit even beyond available (evented as overdrawn)' })) } : {})
  }
  // Exactly one of account_token and user_token: two closed alternatives make "both" fail too.
  return Type.Union([
    Type.Object({ account_token: EntityToken('Funding account'), ...common }, { additionalProperties: false }),
    Type.Object({ user_token: EntityToken('Cardholder whose account in `currency` is meant'), ...common }, { additionalProperties: false })
  ])
}

/** `account.credit`: load money (account_token or user_token, not both). */
export const AccountCreditCommand = accountMovement(false)
export type AccountCreditCommandT = Static<typeof AccountCreditCommand>

/** `account.debit`: unload money; beyond available only with `force: true`. */
export const AccountDebitCommand = accountMovement(true)
export type AccountDebitCommandT = Static<typeof AccountDebitCommand>

/**
 * `limits.set`: replaces one scope's limits; an absent field means no limit of that kind.
 * Periods are UTC days and months unless the program's timezone is configured.
 */
export const LimitsSetCommand = Type.Object({
  scope: Type.Union([Type.Literal('user'), Type.Literal('card')]),
  token: EntityToken('User or card token, per scope'),
  currency: CurrencyCode,
  per_transaction: Type.Optional(DecimalAmount),
  daily: Type.Optional(DecimalAmount),
  monthly: Type.Optional(DecimalAmount),
  daily_count: Type.Optional(Type.Integer({ minimum: 0 })),
  blocked_mccs: Type.Optional(Type.Array(Type.String({ pattern: '^\\d{4}$' }), { maxItems: 1000 })),
  version: Type.Optional(Version)
}, { additionalProperties: false })
export type LimitsSetCommandT = Static<typeof LimitsSetCommand>

/** `hold.release`: an audited manual release of a purchase's hold. */
export const HoldReleaseCommand = Type.Object({
  jit_token: EntityToken('Original JIT funding token of the purchase (the hold key)'),
  reason: Type.String({ minLength: 1, maxLength: 500 }),
  operator: Type.String({ minLength: 1, maxLength: 100, description: 'Who released it, for the audit trail' })
}, { additionalProperties: false })
export type HoldReleaseCommandT = Static<typeof HoldReleaseCommand>

/** Body schema of each command type. */
export const COMMAND_SCHEMAS: Readonly<Record<CommandType, TSchema>> = Object.freeze({
  'user.upsert': UserUpsertCommand,
  'card.upsert': CardUpsertCommand,
  'account.credit': AccountCreditCommand,
  'account.debit': AccountDebitCommand,
  'limits.set': LimitsSetCommand,
  'hold.release': HoldReleaseCommand
})

/** Body of any command, by type. */
export interface CommandBodies {
  'user.upsert': UserUpsertCommandT
  'card.upsert': CardUpsertCommandT
  'account.credit': AccountCreditCommandT
  'account.debit': AccountDebitCommandT
  'limits.set': LimitsSetCommandT
  'hold.release': HoldReleaseCommandT
}

// ---------------------------------------------------------------------------------------------
// Events we publish. Amounts travel twice: integer minor units for machines, and the exact
// decimal string for people and for consumers that do not know the currency's exponent.

/** `jit.decision.approved|declined|answered`: one per JIT token, published from the outbox. */
export const JitDecisionEvent = Type.Object({
  jit_token: EntityToken('jit_funding.token'),
  decision: Type.Union([Type.Literal('approved'), Type.Literal('declined'), Type.Literal('answered')]),
  http_status: Type.Union([Type.Literal(200), Type.Literal(402)]),
  method: Type.String({ minLength: 1 }),
  method_class: literalUnion(JIT_METHOD_CLASSES, { description: 'classifyJitMethod() of the method' }),
  source: Type.Union([Type.Literal('gpa_order'), Type.Literal('gpa_order_unload')]),
  user_token: EntityToken('jit_funding.user_token'),
  acting_user_token: Type.Optional(Type.String()),
  card_token: Type.Optional(Type.String()),
  account_token: Type.Optional(Type.String()),
  transaction_token: Type.Optional(Type.String({ description: 'Top-level token of the request' })),
  original_jit_funding_token: Type.Optional(Type.String()),
  amount_minor: Type.Optional(MinorUnits),
  amount: Type.Optional(DecimalAmount),
  currency: Type.Optional(CurrencyCode),
  decline_reason: Type.Optional(literalUnion(DECLINE_REASONS)),
  detail: Type.Optional(Type.String({ description: 'Why, for operators (never sent to the processor)' })),
  mcc: Type.Optional(Type.String()),
  occurred_at: Timestamp
}, { additionalProperties: false })
export type JitDecisionEventT = Static<typeof JitDecisionEvent>

/** `ledger.hold.*`: a hold's change and its state afterwards. */
export const LedgerHoldEvent = Type.Object({
  jit_token: EntityToken('Original JIT token of the purchase (the hold key)'),
  account_token: Type.String({ minLength: 1 }),
  user_token: Type.Optional(Type.String()),
  card_token: Type.Optional(Type.String()),
  transaction_token: Type.Optional(Type.String({ description: 'Network message that caused the change' })),
  effect_key: Type.Optional(Type.String({ description: 'Idempotency key of the effect (kind:token)' })),
  currency: CurrencyCode,
  amount_minor: MinorUnits,
  amount: DecimalAmount,
  authorized_minor: MinorUnits,
  captured_minor: MinorUnits,
  released_minor: MinorUnits,
  remaining_minor: MinorUnits,
  over_captured_minor: Type.Optional(MinorUnits),
  state: Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED'), Type.Literal('EXPIRED')]),
  forced: Type.Boolean({ description: 'Placed or moved without our approval (stand-in, over-capture)' }),
  reason: Type.Optional(Type.String()),
  occurred_at: Timestamp
}, { additionalProperties: false })
export type LedgerHoldEventT = Static<typeof LedgerHoldEvent>

/** `ledger.account.credited|debited|overdrawn`: a posted movement and the balances after it. */
export const LedgerAccountEvent = Type.Object({
  account_token: Type.String({ minLength: 1 }),
  user_token: Type.Optional(Type.String()),
  currency: CurrencyCode,
  amount_minor: MinorUnits,
  amount: DecimalAmount,
  balance_minor: MinorUnits,
  balance: SignedDecimalAmount,
  available_minor: MinorUnits,
  available: SignedDecimalAmount,
  kind: Type.String({ minLength: 1, description: 'What moved it: command, clearing, refund, force_capture, chargeback, pindebit...' }),
  effect_key: Type.Optional(Type.String()),
  journal_entry_id: Type.Optional(Type.String()),
  jit_token: Type.Optional(Type.String()),
  transaction_token: Type.Optional(Type.String()),
  forced: Type.Boolean(),
  occurred_at: Timestamp
}, { additionalProperties: false })
export type LedgerAccountEventT = Static<typeof LedgerAccountEvent>

const CommandTypeSchema = literalUnion(COMMAND_TYPES)

/** `command.applied` (correlation_id = the command's message_id). `stale` changed nothing. */
export const CommandAppliedEvent = Type.Object({
  command_type: CommandTypeSchema,
  command_message_id: Type.String({ minLength: 1 }),
  outcome: Type.Union([Type.Literal('applied'), Type.Literal('stale'), Type.Literal('duplicate')]),
  entity_token: Type.Optional(Type.String()),
  version: Type.Optional(Version),
  occurred_at: Timestamp
}, { additionalProperties: false })
export type CommandAppliedEventT = Static<typeof CommandAppliedEvent>

/** `command.rejected`, with a machine-readable reason and optional field errors. */
export const CommandRejectedEvent = Type.Object({
  command_type: Type.String({ description: 'The type received (may be unknown)' }),
  command_message_id: Type.String({ minLength: 1 }),
  outcome: Type.Literal('rejected'),
  reason: Type.String({ minLength: 1, description: 'e.g. INVALID, INSUFFICIENT_FUNDS, UNKNOWN_ACCOUNT, UNKNOWN_HOLD' }),
  message: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }))),
  entity_token: Type.Optional(Type.String()),
  occurred_at: Timestamp
}, { additionalProperties: false })
export type CommandRejectedEventT = Static<typeof CommandRejectedEvent>

/** Either command result. */
export const CommandResultEvent = Type.Union([CommandAppliedEvent, CommandRejectedEvent])
export type CommandResultEventT = Static<typeof CommandResultEvent>

/** Body schema of each event routing key we publish (webhook events are the processor's own). */
export const EVENT_SCHEMAS: Readonly<Record<EventRoutingKey, TSchema>> = Object.freeze({
  'jit.decision.approved': JitDecisionEvent,
  'jit.decision.declined': JitDecisionEvent,
  'jit.decision.answered': JitDecisionEvent,
  'ledger.hold.placed': LedgerHoldEvent,
  'ledger.hold.increased': LedgerHoldEvent,
  'ledger.hold.captured': LedgerHoldEvent,
  'ledger.hold.released': LedgerHoldEvent,
  'ledger.hold.expired': LedgerHoldEvent,
  'ledger.account.credited': LedgerAccountEvent,
  'ledger.account.debited': LedgerAccountEvent,
  'ledger.account.overdrawn': LedgerAccountEvent,
  'command.applied': CommandAppliedEvent,
  'command.rejected': CommandRejectedEvent
})
