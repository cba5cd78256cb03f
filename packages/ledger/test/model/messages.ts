import { formatAmountString } from '@jit/contracts'
import { transactionEvent, type WebhookSpec } from '@jit/processor-sim'
import type { TransactionEventInput } from '../../src/index.js'
import {
  ACCOUNT_OF, CURRENCY_OF, FOREIGN_CURRENCY,
  type AccountId, type AnswerIds, type CardId, type FollowIds, type History, type MessageForm, type Op, type PurchaseSpec, type Tokens
} from './history.js'

/** What a processor message is to the ledger, as the model reads it. */
export interface MessageDescriptor {
  action: 'auth' | 'auth_declined' | 'inc' | 'inc_declined' | 'immediate' | 'immediate_declined' |
    'clearing' | 'reversal' | 'refund' | 'force' | 'ignored'
  /** Its own transaction token: the effect key with the action's kind. */
  token: string
  p: number | null
  k: number | null
  /** Every identifier value it carries that could link it to a purchase (its own token included). */
  links: string[]
  /** gpa_order(_unload).jit_funding.token, when present. */
  jitToken: string | null
  /** A in minor units (null: the message carries none). */
  amount: bigint | null
  /** Refused whole: another currency, or an amount no parser accepts (never for a repair). */
  refused: boolean
  final: boolean
  account: AccountId
}

export const MCC: Readonly<Record<PurchaseSpec['mcc'], string>> = { grocery: '5411', lodging: '7011' }
export const JIT_METHOD: Readonly<Record<PurchaseSpec['method'], string>> = { auth: 'pgfs.authorization', pindebit: 'pgfs.pindebit', apc: 'pgfs.auth_plus_capture' }

/** The webhook of one message operation (undefined for operations that are not processor messages). */
export interface BuiltMessage { descriptor: MessageDescriptor, body: TransactionEventInput }

/** Above this many minor units an amount is refused as out of range (@jit/contracts parseAmount). */
export const MAX_AMOUNT = 10_000_000_000_000

function refusedBy (form: MessageForm, repair: boolean, amount: number | null): boolean {
  if (repair) return false
  return form.currency === 'other' || form.currency === 'absent' || (amount !== null && (form.amountForm === 'odd' || amount > MAX_AMOUNT))
}

/** Builds the webhook body (through the processor simulator) and its descriptor for a message operation. */
export function buildMessage (h: History, tk: Tokens, op: Op): BuiltMessage | undefined {
  switch (op.t) {
    case 'answer': {
      const ps = h.purchases[op.p]
      if (ps === undefined) return undefined
      const approved = ps.fate === 'approved'
      const amount = Math.max(1, ps.amount + (approved ? op.delta : 0))
      const jit = { token: tk.jit(op.p), method: JIT_METHOD[ps.method] }
      const type = ps.method === 'pindebit' ? 'pindebit' : 'authorization'
      const state = approved ? (ps.method === 'auth' ? 'PENDING' : 'COMPLETION') : 'DECLINED'
      const spec: WebhookSpec = { type, state, token: tk.tx(op.p), amount, jit, timedOut: !approved, mcc: MCC[ps.mcc] }
      if (op.standin && approved) spec.standinApprovedBy = 'NETWORK'
      const body = shape(tk, ps.card, spec, op, answerIds(op.ids), tk.jit(op.p), op.ids === 'noJit')
      const links = [tk.tx(op.p)]
      if (op.ids === 'full' || op.ids === 'gwOnly') links.push(tk.jit(op.p))
      const action = ps.method === 'auth' ? (approved ? 'auth' : 'auth_declined') : (approved ? 'immediate' : 'immediate_declined')
      return {
        body,
        descriptor: descriptor(action, tk.tx(op.p), op.p, null, links, op.ids === 'full' ? tk.jit(op.p) : null, BigInt(amount), refusedBy(op, !approved, amount), false, ps.card)
      }
    }
    case 'incAnswer': {
      const ps = h.purchases[op.p]
      const inc = ps?.incrementals[op.k]
      if (ps === undefined || inc === undefined || ps.method !== 'auth') return undefined
      const approved = inc.fate === 'approved'
      const amount = Math.max(1, inc.amount + (approved ? op.delta : 0))
      const own = tk.incTx(op.p, op.k)
      const jitToken = tk.incJit(op.p, op.k)
      const spec: WebhookSpec = {
        type: 'authorization.incremental',
        state: approved ? 'PENDING' : 'DECLINED',
        token: own,
        amount,
        jit: { token: jitToken, method: 'pgfs.authorization.incremental', ...(op.ids.orig ? { original: tk.jit(op.p) } : {}) },
        timedOut: !approved
      }
      if (op.ids.prec) spec.preceding = tk.tx(op.p)
      const body = shape(tk, ps.card, spec, op, op.ids, jitToken)
      return {
        body,
        descriptor: descriptor(approved ? 'inc' : 'inc_declined', own, op.p, op.k, followLinks(tk, op.p, op.ids, own, jitToken, jitToken),
          op.ids.jit ? jitToken : null, BigInt(amount), refusedBy(op, !approved, amount), false, ps.card)
      }
    }
    case 'clearing':
    case 'reversal':
    case 'advice': {
      const ps = h.purchases[op.p]
      if (ps === undefined || ps.method !== 'auth') return undefined
      const letter = op.t === 'clearing' ? 'c' : op.t === 'reversal' ? 'r' : 'a'
      const own = tk.follow(letter, op.p, op.seq)
      const jitToken = tk.followJit(letter, op.p, op.seq)
      const method = op.t === 'clearing' ? 'pgfs.authorization.capture' : 'pgfs.authorization.reversal'
      const spec: WebhookSpec = {
        type: op.t === 'clearing' ? 'authorization.clearing' : op.t === 'reversal' ? 'authorization.reversal' : 'authorization.advice',
        state: op.t === 'clearing' ? 'COMPLETION' : 'CLEARED',
        token: own,
        amount: op.amount,
        unload: op.t !== 'clearing',
        jit: { token: jitToken, method, amount: op.amount, ...(op.ids.orig ? { original: tk.jit(op.p) } : {}) }
      }
      if (op.ids.prec) spec.preceding = tk.tx(op.p)
      if (op.t === 'clearing' && op.final !== null) spec.isFinal = op.final
      const body = shape(tk, ps.card, spec, op, op.ids, tk.jit(op.p))
      // an advice moves money only with method pgfs.authorization.reversal (README decision 13)
      const action = op.t === 'clearing' ? 'clearing' : op.t === 'advice' && !op.ids.jit ? 'ignored' : 'reversal'
      return {
        body,
        descriptor: descriptor(action, own, op.p, null, followLinks(tk, op.p, op.ids, own, jitToken, tk.jit(op.p)),
          op.ids.jit ? jitToken : null, op.amount === null ? null : BigInt(op.amount), refusedBy(op, false, op.amount),
          op.t === 'clearing' && op.final === true, ps.card)
      }
    }
    case 'crossKind':
      if (op.as === 'clearing') {
        const ps = h.purchases[op.p]
        if (ps === undefined) return undefined
        // a clearing sent under the authorization's own token and nothing else
        const own = tk.tx(op.p)
        const spec: WebhookSpec = { type: 'authorization.clearing', state: 'COMPLETION', token: own, amount: op.amount, isFinal: true, jit: { token: `${own}-k`, method: 'pgfs.authorization.capture' } }
        const body = shape(tk, ps.card, spec, op, { jit: false, orig: false, gw: false, prec: false }, null)
        return { body, descriptor: descriptor('clearing', own, op.p, null, [own], null, BigInt(op.amount), refusedBy(op, false, op.amount), true, ps.card) }
      }
    // falls through: a refund under the authorization's token
    case 'refund': {
      const p = op.p
      const ps = p === null ? undefined : h.purchases[p]
      if (p !== null && ps === undefined) return undefined
      const card: CardId = op.t === 'refund' ? (ps?.card ?? op.card) : (ps as PurchaseSpec).card
      const own = op.t === 'crossKind' ? tk.tx(p as number) : tk.follow('f', p ?? card, op.seq)
      const ids: FollowIds = op.t === 'refund' ? op.ids : { jit: true, orig: false, gw: false, prec: true }
      const jitToken = op.t === 'crossKind' ? tk.followJit('k', p as number, 0) : tk.followJit('f', p ?? card, op.seq)
      const spec: WebhookSpec = { type: 'refund', state: 'COMPLETION', token: own, amount: op.amount, unload: true, jit: { token: jitToken, method: 'pgfs.refund' } }
      if (p !== null && ids.prec) spec.preceding = tk.tx(p)
      const body = shape(tk, card, spec, op, { ...ids, orig: false }, p === null ? null : tk.jit(p))
      const links = p === null ? [own] : followLinks(tk, p, { ...ids, orig: false }, own, jitToken, tk.jit(p))
      return { body, descriptor: descriptor('refund', own, p, null, links, ids.jit ? jitToken : null, BigInt(op.amount), refusedBy(op, false, op.amount), false, card) }
    }
    case 'force': {
      const own = tk.message(`x${op.card}`, op.seq)
      const jitToken = `${own}-j`
      const spec: WebhookSpec = { type: 'authorization.clearing', state: 'COMPLETION', token: own, amount: op.amount, isFinal: true, jit: { token: jitToken, method: 'pgfs.force_capture' } }
      const body = shape(tk, op.card, spec, op, { jit: true, orig: false, gw: false, prec: false }, null)
      return { body, descriptor: descriptor('force', own, null, null, [own], jitToken, BigInt(op.amount), refusedBy(op, false, op.amount), false, op.card) }
    }
    default:
      return undefined
  }
}

function descriptor (action: MessageDescriptor['action'], token: string, p: number | null, k: number | null, links: string[], jitToken: string | null,
  amount: bigint | null, refused: boolean, final: boolean, card: CardId): MessageDescriptor {
  return { action, token, p, k, links, jitToken, amount, refused, final, account: ACCOUNT_OF[card] }
}

function answerIds (ids: AnswerIds): FollowIds {
  switch (ids) {
    case 'full': return { jit: true, orig: false, gw: true, prec: false }
    case 'gwOnly': return { jit: false, orig: false, gw: true, prec: false }
    case 'noJit': return { jit: false, orig: false, gw: false, prec: false }
    case 'noGpaOrder': return { jit: false, orig: false, gw: false, prec: false }
  }
}

function followLinks (tk: Tokens, p: number, ids: FollowIds, own: string, jitToken: string, gwId: string): string[] {
  const links = [own]
  if (ids.jit) links.push(jitToken)
  if (ids.jit && ids.orig) links.push(tk.jit(p))
  if (ids.gw) links.push(gwId)
  if (ids.prec) links.push(tk.tx(p))
  return links
}

/**
 * The simulator's body, reshaped to carry exactly the identifiers asked for and the amount and
 * currency in the form asked for.
 */
function shape (tk: Tokens, card: CardId, spec: WebhookSpec, form: MessageForm, ids: FollowIds, gwId: string | null, keepEmptyOrder = false): TransactionEventInput {
  const account = ACCOUNT_OF[card]
  const currency = form.currency === 'other' ? FOREIGN_CURRENCY[account] : CURRENCY_OF[account]
  const body = transactionEvent({ user: tk.user(card), card: tk.card(card) }, { ...spec, currency }) as TransactionEventInput & Record<string, unknown>
  const orderKey = spec.unload === true ? 'gpa_order_unload' : 'gpa_order'
  const order = body[orderKey] as Record<string, unknown> | undefined
  if (order !== undefined) {
    const funding = order.funding as { gateway_log: Record<string, unknown> }
    if (ids.gw && gwId !== null) funding.gateway_log.transaction_id = gwId
    else delete funding.gateway_log.transaction_id
    if (!ids.jit) {
      delete order.jit_funding
      if (!ids.gw) delete order.funding
    }
    if (!ids.jit && !ids.gw && !keepEmptyOrder) delete body[orderKey]
  }
  if (form.amountForm !== 'number') {
    // odd: one decimal more than the currency has, which no exact parser may round away
    // negated: every amount with the other sign (the direction comes from the type, never the sign)
    const text = (value: unknown): string | number => form.amountForm === 'negated'
      ? -Number(value)
      : form.amountForm === 'odd' ? `${decimal(value, currency)}${currency === 'JPY' ? '.5' : '1'}` : decimal(value, currency)
    if (body.amount !== undefined) body.amount = text(body.amount)
    if (body.request_amount !== undefined) body.request_amount = text(body.request_amount)
    const gpa = body.gpa as Record<string, unknown> | undefined
    if (gpa?.impacted_amount !== undefined) gpa.impacted_amount = text(gpa.impacted_amount)
    const jit = (body[orderKey] as { jit_funding?: Record<string, unknown> } | undefined)?.jit_funding
    if (jit?.amount !== undefined) jit.amount = text(jit.amount)
  }
  if (form.currency === 'gpaOnly' || form.currency === 'absent') delete body.currency_code
  if (form.currency === 'absent') delete (body.gpa as Record<string, unknown> | undefined)?.currency_code
  return body
}

/** A major-unit JSON number written as an exact decimal string of the currency. */
function decimal (value: unknown, currency: string): string {
  const n = typeof value === 'number' ? value : Number(value)
  const exponent = currency === 'JPY' ? 0 : 2
  const minor = Math.round(Math.abs(n) * 10 ** exponent)
  return (n < 0 ? '-' : '') + formatAmountString(minor, currency)
}
