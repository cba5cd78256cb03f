import { formatAmount } from '@jit/contracts'
import type { SimTransactionFields } from './random.js'

let seq = 0
/** A token unique to this process, e.g. `jit-1234-7`. */
export function simToken (prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`
}

/** The card a message is for. */
export interface SimCard {
  user: string
  card: string
}

/** A JIT funding request's decision fields; amounts in minor units unless `rawAmount` is given. */
export interface JitRequestSpec {
  token?: string
  method?: string
  /** Minor units (formatted exactly to major units). */
  amount?: number
  /** Sent as is (a string, or a number that is not exact), to test parsing. */
  rawAmount?: unknown
  original?: string
  acting?: string
  mcc?: string
  currency?: string
  /** Money out of the card account: `gpa_order_unload`. */
  unload?: boolean
  /** The network transaction token of the request. */
  transactionToken?: string
  /** Merchant, network and POS fields (from a seeded generator); default: a fixed grocery store. */
  fields?: SimTransactionFields
}

/**
 * A Gateway JIT funding request body as the processor POSTs it: shaped like a transaction, the
 * decision data in `gpa_order.jit_funding` (or `gpa_order_unload`), amounts in major units.
 */
export function jitFundingRequest (c: SimCard, spec: JitRequestSpec = {}): Record<string, unknown> & { jitToken: string } {
  const currency = spec.currency ?? 'USD'
  const token = spec.token ?? simToken('jit')
  const amount = spec.rawAmount ?? formatAmount(spec.amount ?? 0, currency)
  const jitFunding: Record<string, unknown> = { token, method: spec.method ?? 'pgfs.authorization', user_token: c.user, amount }
  if (spec.original !== undefined) jitFunding.original_jit_funding_token = spec.original
  if (spec.acting !== undefined) jitFunding.acting_user_token = spec.acting
  const body: Record<string, unknown> = {
    type: 'authorization',
    state: 'PENDING',
    token: spec.transactionToken ?? `txn-${token}`,
    user_token: c.user,
    card_token: c.card,
    currency_code: currency,
    amount,
    card_acceptor: spec.fields === undefined
      ? { mid: '000000000011111', mcc: spec.mcc ?? '5411', name: 'Corner Grocery', country_code: 'USA' }
      : { ...spec.fields.card_acceptor, ...(spec.mcc === undefined ? {} : { mcc: spec.mcc }) },
    network: spec.fields?.network ?? 'VISA',
    ...(spec.fields === undefined ? {} : { subnetwork: spec.fields.subnetwork, pos: spec.fields.pos }),
    [spec.unload === true ? 'gpa_order_unload' : 'gpa_order']: { token: `gpa-${token}`, jit_funding: jitFunding }
  }
  // not enumerable: tests read it, JSON.stringify does not send it
  Object.defineProperty(body, 'jitToken', { value: token, enumerable: false })
  return body as Record<string, unknown> & { jitToken: string }
}

/** What a transaction webhook event is built from (amounts in minor units). */
export interface WebhookSpec {
  type: string
  state: string
  /** The event's own transaction token (default: a fresh one). */
  token?: string
  amount?: number | null
  /** A jit_funding on gpa_order (or gpa_order_unload with `unload`); omitted when null. */
  jit?: { token: string, method: string, amount?: number | null, original?: string } | null
  unload?: boolean
  preceding?: string
  isFinal?: boolean
  timedOut?: boolean
  standinApprovedBy?: string
  mcc?: string
  currency?: string
  /** Merchant, network and POS fields (from a seeded generator); default: a fixed grocery store. */
  fields?: SimTransactionFields
}

/**
 * A realistic transaction webhook event (swagger `transaction_model`): the fields the processor
 * sends, amounts as JSON numbers in major units, `gpa.impacted_amount` signed.
 */
export function transactionEvent (c: SimCard, spec: WebhookSpec): Record<string, unknown> {
  const currency = spec.currency ?? 'USD'
  const major = (minor: number | null | undefined): number | undefined => minor === null || minor === undefined ? undefined : formatAmount(minor, currency)
  const credit = /refund|chargeback(\.provisional\.credit)?$|reversal/.test(spec.type)
  const now = new Date().toISOString()
  const body: Record<string, unknown> = {
    type: spec.type,
    state: spec.state,
    token: spec.token ?? simToken('txn'),
    user_token: c.user,
    acting_user_token: c.user,
    card_token: c.card,
    created_time: now,
    user_transaction_time: now,
    settlement_date: now,
    network: spec.fields?.network ?? 'VISA',
    subnetwork: spec.fields?.subnetwork ?? 'VISANET',
    currency_code: currency,
    response: spec.state === 'DECLINED' ? { code: '1016', memo: 'Insufficient funds' } : { code: '0000', memo: 'Approved or completed successfully' },
    card_acceptor: spec.fields === undefined
      ? { mid: '000000000011111', mcc: spec.mcc ?? '5411', name: 'Grocery Store', city: 'Oakland', state: 'CA', postal_code: '94612', country_code: 'USA' }
      : { ...spec.fields.card_acceptor, ...(spec.mcc === undefined ? {} : { mcc: spec.mcc }) },
    pos: spec.fields?.pos ?? { pan_entry_mode: 'CHIP', card_presence: true, cardholder_presence: true }
  }
  if (spec.amount !== undefined && spec.amount !== null) {
    body.amount = major(spec.amount)
    body.request_amount = major(spec.amount)
    body.gpa = { currency_code: currency, ledger_balance: 0, available_balance: 0, pending_credits: 0, impacted_amount: (credit ? 1 : -1) * (major(spec.amount) ?? 0) }
  }
  if (spec.preceding !== undefined) body.preceding_related_transaction_token = spec.preceding
  if (spec.isFinal !== undefined) body.is_final_clearing = spec.isFinal
  if (spec.standinApprovedBy !== undefined) {
    body.standin_approved_by = spec.standinApprovedBy
    body.standin_reason = 'ISSUER_TIMEOUT'
  }
  if (spec.jit !== undefined && spec.jit !== null) {
    const jitFunding: Record<string, unknown> = { token: spec.jit.token, method: spec.jit.method, user_token: c.user, acting_user_token: c.user }
    const amount = major(spec.jit.amount === undefined ? spec.amount : spec.jit.amount)
    if (amount !== undefined) jitFunding.amount = amount
    if (spec.jit.original !== undefined) jitFunding.original_jit_funding_token = spec.jit.original
    const order = {
      token: simToken('gpa'),
      amount: amount ?? 0,
      currency_code: currency,
      state: spec.state,
      transaction_token: body.token,
      jit_funding: jitFunding,
      funding: {
        amount: amount ?? 0,
        source: { type: 'programgateway', token: 'pgfs-source', active: true, is_default_account: false },
        gateway_log: {
          order_number: body.token,
          transaction_id: simToken('gw'),
          message: 'Approved or completed successfully',
          duration: spec.timedOut === true ? 3000 : 412,
          timed_out: spec.timedOut === true,
          response: { code: '200' }
        }
      },
      funding_source_token: 'pgfs-source',
      user_token: c.user
    }
    if (spec.unload === true) body.gpa_order_unload = order
    else body.gpa_order = order
  }
  return body
}

/** One purchase: its original JIT token and its authorization's transaction token. */
export interface SimPurchase {
  jitToken: string
  txToken: string
  amount: number
  /** The merchant, network and POS of the purchase, on every message about it. */
  fields?: SimTransactionFields
}

/**
 * The messages of purchases on one card, as the processor sends them: the JIT funding request
 * of each decision and the transaction webhooks that follow.
 */
export function purchasesOf (c: SimCard) {
  const f = (p: SimPurchase): { fields?: SimTransactionFields } => p.fields === undefined ? {} : { fields: p.fields }
  return {
    purchase (amount: number, fields?: SimTransactionFields): SimPurchase {
      return { jitToken: simToken('jit'), txToken: simToken('auth'), amount, ...(fields === undefined ? {} : { fields }) }
    },
    /** The JIT funding request of a purchase (or of its incremental, with `original`). */
    request (p: SimPurchase, method = 'pgfs.authorization', original?: string): Record<string, unknown> & { jitToken: string } {
      return jitFundingRequest(c, { token: p.jitToken, method, amount: p.amount, transactionToken: p.txToken, ...f(p), ...(original === undefined ? {} : { original }) })
    },
    pending (p: SimPurchase, over: Partial<WebhookSpec> = {}): Record<string, unknown> {
      return transactionEvent(c, { type: 'authorization', state: 'PENDING', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.authorization' }, ...f(p), ...over })
    },
    declined (p: SimPurchase, timedOut = true): Record<string, unknown> {
      return transactionEvent(c, { type: 'authorization', state: 'DECLINED', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.authorization' }, timedOut, ...f(p) })
    },
    incrementalPending (p: SimPurchase, inc: SimPurchase, over: Partial<WebhookSpec> = {}): Record<string, unknown> {
      return transactionEvent(c, {
        type: 'authorization.incremental',
        state: 'PENDING',
        token: inc.txToken,
        amount: inc.amount,
        preceding: p.txToken,
        jit: { token: inc.jitToken, method: 'pgfs.authorization.incremental', original: p.jitToken },
        ...f(p),
        ...over
      })
    },
    clearing (p: SimPurchase, amount: number, isFinal: boolean | undefined, over: Partial<WebhookSpec> = {}): Record<string, unknown> {
      const spec: WebhookSpec = {
        type: 'authorization.clearing',
        state: 'COMPLETION',
        amount,
        preceding: p.txToken,
        jit: { token: simToken('jitc'), method: 'pgfs.authorization.capture', original: p.jitToken },
        ...f(p),
        ...over
      }
      if (isFinal !== undefined) spec.isFinal = isFinal
      return transactionEvent(c, spec)
    },
    reversal (p: SimPurchase, amount: number | null): Record<string, unknown> {
      return transactionEvent(c, {
        type: 'authorization.reversal',
        state: 'CLEARED',
        amount,
        preceding: p.txToken,
        unload: true,
        jit: { token: simToken('jitr'), method: 'pgfs.authorization.reversal', original: p.jitToken, amount },
        ...f(p)
      })
    },
    advice (p: SimPurchase, amount: number): Record<string, unknown> {
      return transactionEvent(c, {
        type: 'authorization.advice',
        state: 'CLEARED',
        amount,
        preceding: p.txToken,
        unload: true,
        jit: { token: simToken('jita'), method: 'pgfs.authorization.reversal', original: p.jitToken },
        ...f(p)
      })
    },
    refund (p: SimPurchase | null, amount: number): Record<string, unknown> {
      const spec: WebhookSpec = { type: 'refund', state: 'COMPLETION', amount, unload: true, jit: { token: simToken('jitf'), method: 'pgfs.refund' } }
      if (p !== null) {
        spec.preceding = p.txToken
        if (p.fields !== undefined) spec.fields = p.fields
      }
      return transactionEvent(c, spec)
    },
    forceCapture (amount: number): Record<string, unknown> {
      return transactionEvent(c, { type: 'authorization.clearing', state: 'COMPLETION', amount, isFinal: true, jit: { token: simToken('jitx'), method: 'pgfs.force_capture' } })
    },
    pinDebit (p: SimPurchase): Record<string, unknown> {
      return transactionEvent(c, { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.pindebit' }, ...f(p) })
    }
  }
}

/** A webhook batch body: `{ "<family>": [events] }`. */
export function webhookBatch (family: string, events: Array<Record<string, unknown>>): Record<string, unknown> {
  return { [family]: events }
}
