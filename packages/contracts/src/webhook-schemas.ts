import { Type, type Static } from '@sinclair/typebox'
import { literalGuard } from './literals.js'

/*
 * Bodies of POST /v1/webhooks/marqeta. Lenient like every inbound schema (docs/processor-protocol.md): a webhook
 * answered with anything but 200 is retried for days, so we check only what routing and the
 * ledger need and let every other field through untouched.
 */

/**
 * Batch property names the processor is known to send (`<event_type>s`, from the swagger's
 * `/webhooks/{token}/{event_type}/{event_token}` enum, plus `pings` and the tokenization
 * service's `digitalwallettokens`). Names outside the list are still accepted by
 * {@link WebhookBatch} and routed by name: the list is partly unverified and grows.
 */
export const KNOWN_WEBHOOK_FAMILIES = [
  'transactions',
  'cardtransitions',
  'usertransitions',
  'businesstransitions',
  'digitalwallettokentransitions',
  'digitalwallettokens',
  'chargebacktransitions',
  'threedstransitions',
  'pings'
] as const
export type KnownWebhookFamily = typeof KNOWN_WEBHOOK_FAMILIES[number]

/** Whether `family` is in {@link KNOWN_WEBHOOK_FAMILIES}. */
export const isKnownWebhookFamily = literalGuard(KNOWN_WEBHOOK_FAMILIES)

/** Largest batch the processor sends (docs/processor-protocol.md). */
export const MAX_WEBHOOK_BATCH = 10

/** Any webhook event: an object with its own `token`; everything else passes. */
export const WebhookEvent = Type.Object({
  token: Type.String({ minLength: 1, description: 'Event token: the de-duplication key' }),
  type: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  status: Type.Optional(Type.String())
}, { additionalProperties: true })
export type WebhookEventT = Static<typeof WebhookEvent>

/** Family names: lower-case words, as the processor writes them. */
export const WEBHOOK_FAMILY_PATTERN = '^[a-z][a-z0-9_]{0,63}$'

/**
 * A webhook POST: exactly one property, the family name, holding 1..10 events of that family,
 * e.g. `{"transactions": [...]}` or `{"pings": [{"token": "marqeta", "payload": "healthcheck"}]}`.
 */
export const WebhookBatch = Type.Record(
  Type.String({ pattern: WEBHOOK_FAMILY_PATTERN }),
  Type.Array(WebhookEvent, { minItems: 1, maxItems: MAX_WEBHOOK_BATCH }),
  { minProperties: 1, maxProperties: 1, additionalProperties: false }
)
export type WebhookBatchT = Static<typeof WebhookBatch>

/**
 * Splits a batch that passed {@link WebhookBatch} into its family and events.
 * @throws Error when the batch does not have exactly one family (validate first)
 */
export function splitWebhookBatch (batch: WebhookBatchT): { family: string, events: WebhookEventT[] } {
  const entries = Object.entries(batch)
  const first = entries[0]
  if (entries.length !== 1 || first === undefined) throw new Error(`a webhook batch has exactly one family, got ${entries.length}`)
  return { family: first[0], events: first[1] }
}

const Amount = Type.Union([Type.Number(), Type.String()], { description: 'Major units; parseAmount checks it exactly' })

/** `jit_funding` inside a webhook: only the linking and amount fields are checked. */
export const WebhookJitFunding = Type.Object({
  token: Type.String({ minLength: 1 }),
  method: Type.Optional(Type.String()),
  user_token: Type.Optional(Type.String()),
  acting_user_token: Type.Optional(Type.String()),
  amount: Type.Optional(Amount),
  original_jit_funding_token: Type.Optional(Type.String()),
  incremental_authorization_jit_funding_tokens: Type.Optional(Type.Array(Type.String())),
  decline_reason: Type.Optional(Type.String())
}, { additionalProperties: true })
export type WebhookJitFundingT = Static<typeof WebhookJitFunding>

/** swagger `gpa_response` / `gpa_returns`, as far as the ledger reads it. */
export const WebhookGpaOrder = Type.Object({
  token: Type.Optional(Type.String()),
  amount: Type.Optional(Amount),
  state: Type.Optional(Type.String()),
  jit_funding: Type.Optional(WebhookJitFunding),
  funding: Type.Optional(Type.Object({
    gateway_log: Type.Optional(Type.Object({
      timed_out: Type.Optional(Type.Boolean({ description: 'The gateway missed the deadline: a late approval must be repaired' }))
    }, { additionalProperties: true }))
  }, { additionalProperties: true }))
}, { additionalProperties: true })
export type WebhookGpaOrderT = Static<typeof WebhookGpaOrder>

/**
 * One event of the `transactions` family (swagger `transaction_model`, lenient): what the ledger
 * lifecycle reads is typed and checked, the rest passes. `is_final_clearing` is top level in the
 * swagger, as is `standin_approved_by`; `gpa.impacted_amount` carries the signed ledger effect.
 */
export const TransactionEvent = Type.Object({
  token: Type.String({ minLength: 1 }),
  type: Type.String({ minLength: 1, description: 'e.g. authorization, authorization.clearing' }),
  state: Type.String({ description: 'PENDING, CLEARED, COMPLETION, DECLINED, ERROR' }),
  amount: Type.Optional(Amount),
  request_amount: Type.Optional(Amount),
  currency_code: Type.Optional(Type.String()),
  user_token: Type.Optional(Type.String()),
  acting_user_token: Type.Optional(Type.String()),
  card_token: Type.Optional(Type.String()),
  created_time: Type.Optional(Type.String()),
  preceding_related_transaction_token: Type.Optional(Type.String()),
  is_final_clearing: Type.Optional(Type.Boolean()),
  standin_approved_by: Type.Optional(Type.String()),
  standin_reason: Type.Optional(Type.String()),
  gpa: Type.Optional(Type.Object({
    currency_code: Type.Optional(Type.String()),
    impacted_amount: Type.Optional(Amount)
  }, { additionalProperties: true })),
  gpa_order: Type.Optional(WebhookGpaOrder),
  gpa_order_unload: Type.Optional(WebhookGpaOrder),
  card_acceptor: Type.Optional(Type.Object({
    mcc: Type.Optional(Type.String())
  }, { additionalProperties: true })),
  response: Type.Optional(Type.Object({
    code: Type.Optional(Type.String()),
    memo: Type.Optional(Type.String())
  }, { additionalProperties: true }))
}, { additionalProperties: true })
export type TransactionEventT = Static<typeof TransactionEvent>

/** Response codes of a successful transaction (docs/processor-protocol.md). */
export const SUCCESS_RESPONSE_CODES: readonly string[] = Object.freeze(['0000', '0002', '1830'])
