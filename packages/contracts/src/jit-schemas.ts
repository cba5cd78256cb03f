import { Type, type Static } from '@sinclair/typebox'
import { DECLINE_REASONS, type DeclineReason } from './jit.js'
import { literalUnion } from './literals.js'
import { formatAmount } from './money.js'
import { compileValidator, type ValidationIssue } from './validate.js'

/*
 * HTTP bodies of POST /v1/jit-funding.
 *
 * Inbound schemas are lenient on purpose (docs/processor-protocol.md): the processor omits fields its own swagger
 * marks required and adds fields it does not list, so only what a decision needs is checked and
 * everything else passes through (`additionalProperties: true`). Outbound schemas are strict:
 * what we send must validate against the processor's swagger `jit_program_response`.
 */

const OptionalString = (description: string) => Type.Optional(Type.String({ description }))

/** `jit_funding` as it arrives: the fields a decision reads are checked, the rest passes. */
export const InboundJitFunding = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 36, description: 'JIT funding token: the idempotency key of the decision' }),
  method: Type.String({ minLength: 1, description: 'pgfs.* method (see JIT_METHODS); unknown values pass' }),
  user_token: Type.String({ minLength: 1, maxLength: 36, description: 'Cardholder whose account funds the card' }),
  amount: Type.Union([Type.Number(), Type.String()], { description: 'Major units, number or decimal string; parseAmount checks it exactly' }),
  // tokens are at most 36 characters (swagger); a longer one could not be echoed validly
  acting_user_token: Type.Optional(Type.String({ maxLength: 36, description: 'Cardholder using the card, when not the funding user' })),
  business_token: Type.Optional(Type.String({ maxLength: 36, description: 'Business of the cardholder' })),
  original_jit_funding_token: Type.Optional(Type.String({ maxLength: 36, description: 'First JIT funding of the purchase, on follow-ups' })),
  incremental_authorization_jit_funding_tokens: Type.Optional(Type.Array(Type.String())),
  memo: OptionalString('Free text'),
  tags: OptionalString('Free text'),
  address_verification: Type.Optional(Type.Object({}, { additionalProperties: true }))
}, { additionalProperties: true })
export type InboundJitFundingT = Static<typeof InboundJitFunding>

/** The part of `jit_funding` without which no answer can be built (the echo fields). */
export const JitFundingIdentity = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 36 }),
  method: Type.String({ minLength: 1 }),
  user_token: Type.String({ minLength: 1, maxLength: 36 })
}, { additionalProperties: true })
export type JitFundingIdentityT = Static<typeof JitFundingIdentity>

const GpaOrderWithJitFunding = Type.Object({ jit_funding: InboundJitFunding }, { additionalProperties: true })

const JitFundingRequestCommon = Type.Object({
  token: OptionalString('Transaction token of the network message'),
  type: OptionalString('Transaction type, e.g. authorization'),
  state: OptionalString('Transaction state'),
  user_token: OptionalString('User token of the transaction'),
  acting_user_token: OptionalString('Acting user token of the transaction'),
  card_token: OptionalString('Card used'),
  currency_code: OptionalString('ISO 4217 code of the amounts'),
  amount: Type.Optional(Type.Union([Type.Number(), Type.String()])),
  network: OptionalString('Card network'),
  card_acceptor: Type.Optional(Type.Object({
    mid: OptionalString('Merchant id'),
    mcc: OptionalString('Merchant category code'),
    name: OptionalString('Merchant name'),
    city: OptionalString('City'),
    state: OptionalString('State'),
    postal_code: OptionalString('Postal code'),
    country_code: OptionalString('Country code')
  }, { additionalProperties: true }))
}, { additionalProperties: true })

/**
 * A JIT funding request: a transaction-shaped body carrying `gpa_order.jit_funding` (money into
 * the card account) or `gpa_order_unload.jit_funding` (money out).
 *
 * The HTTP contract answers 402 INVALID_AMOUNT (not 400) once token, method and user_token
 * parse, so a route should not reject on this schema directly: use
 * {@link parseJitFundingRequest}, which tells "unreadable" (400) from "invalid" (402).
 */
export const JitFundingRequest = Type.Intersect([
  JitFundingRequestCommon,
  Type.Union([
    Type.Object({ gpa_order: GpaOrderWithJitFunding }, { additionalProperties: true }),
    Type.Object({ gpa_order_unload: GpaOrderWithJitFunding }, { additionalProperties: true })
  ])
])
export type JitFundingRequestT = Static<typeof JitFundingRequest>

/** Where the request carried its `jit_funding`. */
export type JitFundingSource = 'gpa_order' | 'gpa_order_unload'

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Finds the `jit_funding` object of a request body, without validating it.
 * `gpa_order` wins when (abnormally) both are present: it is the funding direction every
 * actionable method uses.
 *
 * @returns null when neither `gpa_order.jit_funding` nor `gpa_order_unload.jit_funding` is an object
 */
export function extractJitFunding (body: unknown): { source: JitFundingSource, jitFunding: Record<string, unknown> } | null {
  if (!isPlainObject(body)) return null
  for (const source of ['gpa_order', 'gpa_order_unload'] as const) {
    const order = body[source]
    if (isPlainObject(order) && isPlainObject(order.jit_funding)) {
      return { source, jitFunding: order.jit_funding }
    }
  }
  return null
}

/** Result of {@link parseJitFundingRequest}. */
export type ParsedJitFundingRequest =
  /** Valid for a decision (the amount still goes through parseAmount). */
  | { kind: 'ok', source: JitFundingSource, request: JitFundingRequestT, jitFunding: InboundJitFundingT }
  /** Token, method and user_token parse, something else does not: answer 402 with a reason. */
  | { kind: 'invalid', source: JitFundingSource, identity: JitFundingIdentityT, errors: ValidationIssue[] }
  /** Cannot even be answered in kind: 400. */
  | { kind: 'unreadable', errors: ValidationIssue[] }

const checkIdentity = compileValidator(JitFundingIdentity)
const checkRequest = compileValidator(JitFundingRequestCommon)
const checkJitFunding = compileValidator(InboundJitFunding)

function prefixed (errors: ValidationIssue[], prefix: string): ValidationIssue[] {
  return errors.map((e) => ({ path: prefix + e.path, message: e.message }))
}

/**
 * Sorts a JIT request body into what the HTTP contract needs: `unreadable` (400: no object, no
 * `jit_funding`, or no usable token/method/user_token), `invalid` (402: the identity is there to
 * echo, other needed fields are wrong, typically INVALID_AMOUNT), or `ok`.
 */
export function parseJitFundingRequest (body: unknown): ParsedJitFundingRequest {
  if (!isPlainObject(body)) return { kind: 'unreadable', errors: [{ path: '', message: 'Expected a JSON object' }] }
  const found = extractJitFunding(body)
  if (found === null) {
    return { kind: 'unreadable', errors: [{ path: '/gpa_order/jit_funding', message: 'Expected gpa_order.jit_funding or gpa_order_unload.jit_funding object' }] }
  }
  const prefix = `/${found.source}/jit_funding`
  const identity = checkIdentity(found.jitFunding)
  if (!identity.ok) return { kind: 'unreadable', errors: prefixed(identity.errors, prefix) }

  const jitFunding = checkJitFunding(found.jitFunding)
  const common = checkRequest(body)
  if (!jitFunding.ok || !common.ok) {
    const errors = [
      ...(jitFunding.ok ? [] : prefixed(jitFunding.errors, prefix)),
      ...(common.ok ? [] : common.errors)
    ]
    return { kind: 'invalid', source: found.source, identity: identity.value, errors }
  }
  return { kind: 'ok', source: found.source, request: body as JitFundingRequestT, jitFunding: jitFunding.value }
}

// ---------------------------------------------------------------------------------------------
// Outbound (strict, swagger `jit_program_response`)

const AvsInformation = Type.Object({
  street_address: Type.Optional(Type.String()),
  zip: Type.Optional(Type.String()),
  postal_code: Type.Optional(Type.String())
}, { additionalProperties: false })

const AvsResponse = Type.Object({
  code: Type.String(),
  memo: Type.String(),
  additional_information: Type.Optional(Type.String())
}, { additionalProperties: false })

const AddressVerificationSource = Type.Object({
  on_file: Type.Optional(AvsInformation),
  response: Type.Optional(AvsResponse)
}, { additionalProperties: false })

/** swagger `jit_address_verification`: `gateway` is where a JIT gateway overrides AVS. */
export const JitAddressVerification = Type.Object({
  request: Type.Optional(AvsInformation),
  issuer: Type.Optional(AddressVerificationSource),
  gateway: Type.Optional(AddressVerificationSource)
}, { additionalProperties: false })
export type JitAddressVerificationT = Static<typeof JitAddressVerification>

const CurrencyKey = Type.String({ pattern: '^[A-Z]{3}$' })

const cardholderBalanceFields = {
  currency_code: Type.String({ pattern: '^[A-Z]{3}$' }),
  ledger_balance: Type.Number({ description: 'Whole balance, major units' }),
  available_balance: Type.Number({ description: 'Balance minus open holds, major units' }),
  credit_balance: Type.Number(),
  cached_balance: Type.Number(),
  pending_credits: Type.Number(),
  impacted_amount: Type.Optional(Type.Number()),
  last_updated_time: Type.String({ format: 'date-time' })
}

/** A nested `cardholder_balance` (inside `balances`), whose own `balances` is empty. */
export const NestedCardholderBalance = Type.Object({
  ...cardholderBalanceFields,
  balances: Type.Object({}, { additionalProperties: false })
}, { additionalProperties: false })
export type NestedCardholderBalanceT = Static<typeof NestedCardholderBalance>

/**
 * swagger `cardholder_balance`, every field it marks required present (the processor checks
 * our answers even though its own messages omit some). The swagger type is recursive through
 * `balances`; we stop at two levels (the nested map may repeat the entry per currency, its own
 * map is empty), which keeps the schema free of `$ref`s that response serializers handle badly
 * while still validating against the swagger.
 */
export const CardholderBalance = Type.Object({
  ...cardholderBalanceFields,
  balances: Type.Record(CurrencyKey, NestedCardholderBalance, { additionalProperties: false })
}, { additionalProperties: false })
export type CardholderBalanceT = Static<typeof CardholderBalance>

/**
 * `jit_funding` of our answer (swagger `jit_funding_api`, strict). Deliberate deviations from the
 * swagger, both narrower or required by the contract: `decline_reason` is limited to
 * {@link DECLINE_REASONS} (the swagger says string; the processor accepts only those), and
 * `method` is any non-empty string rather than the enum because we must echo a method the
 * swagger does not know yet (docs/processor-protocol.md: unknown methods still get a well-formed answer).
 */
export const JitFundingResponse = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 36 }),
  method: Type.String({ minLength: 1 }),
  user_token: Type.String({ minLength: 1, maxLength: 36 }),
  acting_user_token: Type.Optional(Type.String({ maxLength: 36 })),
  business_token: Type.Optional(Type.String({ maxLength: 36 })),
  amount: Type.Number({ minimum: 0, description: 'Major units, exact to the currency exponent' }),
  decline_reason: Type.Optional(literalUnion(DECLINE_REASONS)),
  memo: Type.Optional(Type.String({ maxLength: 99 })),
  tags: Type.Optional(Type.String({ maxLength: 255 })),
  original_jit_funding_token: Type.Optional(Type.String({ maxLength: 36 })),
  incremental_authorization_jit_funding_tokens: Type.Optional(Type.Array(Type.String())),
  address_verification: Type.Optional(JitAddressVerification),
  balances: Type.Optional(Type.Record(CurrencyKey, CardholderBalance, { additionalProperties: false }))
}, { additionalProperties: false })
export type JitFundingResponseT = Static<typeof JitFundingResponse>

/**
 * Body of our 200 (approve, informative, inquiry) and 402 (decline) answers: swagger
 * `jit_program_response` (`network_metadata` omitted: we never send it).
 */
export const JitProgramResponse = Type.Object({
  jit_funding: JitFundingResponse
}, { additionalProperties: false })
export type JitProgramResponseT = Static<typeof JitProgramResponse>

/** Options of {@link buildCardholderBalance}; amounts in minor units. */
export interface CardholderBalanceInput {
  currency: string
  /** Posted balance (ledger_balance). */
  ledgerMinor: number
  /** Balance minus open holds (available_balance). */
  availableMinor: number
  creditMinor?: number
  pendingCreditsMinor?: number
  lastUpdated: Date | string
}

/** Builds a swagger-valid `cardholder_balance` from minor units (formatted exactly). */
export function buildCardholderBalance (input: CardholderBalanceInput): CardholderBalanceT {
  const c = input.currency
  return {
    currency_code: c,
    ledger_balance: formatAmount(input.ledgerMinor, c),
    available_balance: formatAmount(input.availableMinor, c),
    credit_balance: formatAmount(input.creditMinor ?? 0, c),
    // The processor's own cache of the balance; a gateway has none, so the authoritative value.
    cached_balance: formatAmount(input.availableMinor, c),
    pending_credits: formatAmount(input.pendingCreditsMinor ?? 0, c),
    balances: {},
    last_updated_time: typeof input.lastUpdated === 'string' ? input.lastUpdated : input.lastUpdated.toISOString()
  }
}

/** Options of {@link buildJitResponse}. */
export interface JitResponseInput {
  /** The request's identity fields, echoed (`acting_user_token` and `business_token` when present). */
  jitFunding: { token: string, method: string, user_token: string, acting_user_token?: string | undefined, business_token?: string | undefined }
  /** Amount to echo, minor units (0 when the request's amount could not be parsed). */
  amountMinor: number
  currency: string
  declineReason?: DeclineReason
  /** Truncated to 99 characters. */
  memo?: string
  /** Truncated to 255 characters. */
  tags?: string
  addressVerification?: JitAddressVerificationT
  balances?: Record<string, CardholderBalanceT>
}

/**
 * Builds the body of a JIT answer that validates against {@link JitProgramResponse} and the
 * swagger: the amount formatted exactly, optional fields only when given.
 */
export function buildJitResponse (input: JitResponseInput): JitProgramResponseT {
  const jf = input.jitFunding
  const out: JitFundingResponseT = {
    token: jf.token,
    method: jf.method,
    user_token: jf.user_token,
    amount: formatAmount(input.amountMinor, input.currency)
  }
  if (typeof jf.acting_user_token === 'string') out.acting_user_token = jf.acting_user_token
  if (typeof jf.business_token === 'string') out.business_token = jf.business_token
  if (input.declineReason !== undefined) out.decline_reason = input.declineReason
  if (input.memo !== undefined) out.memo = input.memo.slice(0, 99)
  if (input.tags !== undefined) out.tags = input.tags.slice(0, 255)
  if (input.addressVerification !== undefined) out.address_verification = input.addressVerification
  if (input.balances !== undefined) out.balances = input.balances
  return { jit_funding: out }
}
