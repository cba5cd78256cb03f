/**
 * An in-memory model of docs/ledger.md (and packages/ledger/README.md "Decisions the rules
 * left open" where docs/ledger.md does not decide): from a history's operations, in the order the
 * database serialized them, it predicts each account's balance and held amount and each open
 * hold's remainder. It knows nothing of the ledger's tables or SQL: only the rules.
 */
import { ACCOUNT_OF, type AccountId, type History, type Op, type Tokens } from './history.js'
import { buildMessage, type MessageDescriptor } from './messages.js'

export interface ModelHold {
  p: number
  account: AccountId
  remaining: bigint
  state: 'OPEN' | 'CLOSED' | 'EXPIRED'
  forced: boolean
  lodging: boolean
}

/** The money effect a JIT message's key stands for: placed by our decision or by its webhook. */
interface JitEffect {
  /** What our decision (or the webhook, for a stand-in) made it: hold amount or debit amount. */
  amount: bigint
  byDecision: boolean
  webhookSeen: boolean
  /** A single-message debit already credited back by its DECLINED webhook. */
  repaired: boolean
}

export interface ModelState {
  accounts: Record<AccountId, { balance: bigint, held: bigint }>
  holds: Map<number, ModelHold>
  /** JIT token -> the decision recorded under it (ours, or a webhook's tombstone). */
  decisions: Map<string, { outcome: 'approved' | 'declined' }>
  /**
   * Identifier value -> purchase, for every identifier the ledger has associated with a purchase;
   * or -> another identifier whose purchase it is (an incremental's JIT and transaction tokens
   * belong to whatever purchase its original's JIT token leads to, now or once it is known).
   */
  known: Map<string, number | string>
  /** `${kind}:${transaction token}` -> the effect of a JIT message (authorization, incremental, immediate_debit). */
  jitEffects: Map<string, JitEffect>
  /** Effect keys of every other money effect: `${kind}:${token}`. */
  effects: Set<string>
  /**
   * Clearings applied as a plain debit with nothing to link (message token -> amount debited): a
   * later copy that links one to an open hold makes that debit the hold's capture.
   */
  unlinkedClearings: Map<string, bigint>
  /** Events waiting for their purchase, by token (the first delivery is the one kept). */
  parked: Map<string, MessageDescriptor>
  /** Card D, its user and its account exist (until then the ledger knows no funding account for it). */
  provisionedD: boolean
  /** Card A's spend today (limits count what was approved, never given back). */
  spentA: { amount: bigint, count: number }
}

export function initialState (h: History): ModelState {
  return {
    accounts: { A: { balance: BigInt(h.balanceA), held: 0n }, C: { balance: BigInt(h.balanceC), held: 0n }, D: { balance: 0n, held: 0n } },
    provisionedD: false,
    holds: new Map(),
    decisions: new Map(),
    known: new Map(),
    jitEffects: new Map(),
    effects: new Set(),
    unlinkedClearings: new Map(),
    parked: new Map(),
    spentA: { amount: 0n, count: 0 }
  }
}

export function cloneState (s: ModelState): ModelState {
  return structuredClone(s)
}

const available = (s: ModelState, a: AccountId): bigint => s.accounts[a].balance - s.accounts[a].held

/** The ledger's model: applies operations to a state, as docs/ledger.md says. */
export class LedgerModel {
  constructor (readonly h: History, readonly tk: Tokens) {}

  apply (s: ModelState, op: Op): void {
    switch (op.t) {
      case 'decide': return this.decide(s, op.p, op.currency === 'same' && !op.late)
      case 'incDecide': return this.decideIncremental(s, op.p, op.k)
      case 'credit':
        // account.credit is idempotent on its message id (one per seq here): a repeat changes nothing
        if (s.effects.has(`credit:${op.seq}`)) return
        s.effects.add(`credit:${op.seq}`)
        s.accounts[op.account].balance += BigInt(op.amount)
        return
      case 'debit': {
        const a = BigInt(op.amount)
        if (s.effects.has(`debit:${op.seq}`)) return
        if (op.force || available(s, op.account) - a >= 0n) {
          s.effects.add(`debit:${op.seq}`)
          s.accounts[op.account].balance -= a
        }
        return
      }
      case 'reserved': return
      case 'release': {
        // hold.release is idempotent on its message id, whatever hold a repeat names
        if (s.effects.has(`release:${op.seq}`)) return
        s.effects.add(`release:${op.seq}`)
        const hold = s.holds.get(op.p)
        if (hold !== undefined && hold.state === 'OPEN') this.release(s, hold, hold.remaining, 'CLOSED')
        return
      }
      case 'expire':
        for (const hold of s.holds.values()) {
          if (hold.state === 'OPEN' && (op.days >= 31 || !hold.lodging)) this.release(s, hold, hold.remaining, 'EXPIRED')
        }
        return
      case 'retry': return this.retry(s)
      case 'purge': return // effect keys are idempotency records only: no money rule reads them
      case 'provisionD':
        if (!s.provisionedD) {
          s.provisionedD = true
          s.accounts.D.balance += BigInt(this.h.balanceD)
        }
        return
      case 'together':
        for (const inner of op.ops) this.apply(s, inner)
        return
      default: {
        const built = buildMessage(this.h, this.tk, op)
        if (built !== undefined) this.message(s, built.descriptor)
      }
    }
  }

  /** Parked events in the order they were parked, each tried once, until none applies. */
  retry (s: ModelState, order?: string[]): void {
    for (let pass = 0; pass < 10; pass++) {
      let progressed = false
      for (const token of order ?? [...s.parked.keys()]) {
        const d = s.parked.get(token)
        if (d === undefined) continue
        if (this.message(s, d, true) !== 'parked') {
          s.parked.delete(token)
          progressed = true
        }
      }
      if (!progressed) return
    }
  }

  /** Parked events attempted in the order the ledger attempted them: each one that applies leaves. */
  retryInSequence (s: ModelState, sequence: string[]): void {
    for (const token of sequence) {
      const d = s.parked.get(token)
      if (d !== undefined && this.message(s, d, true) !== 'parked') s.parked.delete(token)
    }
  }

  /** `decidable`: false for a request in another currency or one that starts past its deadline. */
  private decide (s: ModelState, p: number, decidable: boolean): void {
    const ps = this.h.purchases[p]
    if (ps === undefined) return
    const jit = this.tk.jit(p)
    const tx = this.tk.tx(p)
    if (s.decisions.has(jit)) return // a replay (or a token a webhook claimed first): nothing changes
    this.learn(s, p, jit, tx)
    const kind = ps.method === 'auth' ? 'authorization' : 'immediate_debit'
    const account = ACCOUNT_OF[ps.card]
    const a = BigInt(ps.amount)
    // the webhook about this message came first: its effect is this decision's, never a second one
    const answered = s.jitEffects.has(`${kind}:${tx}`) || s.effects.has(`${kind}_declined:${tx}`)
    const ok = !answered && decidable && available(s, account) >= a && this.withinLimits(s, ps.card, a, false)
    s.decisions.set(jit, { outcome: ok ? 'approved' : 'declined' })
    if (!ok) return
    this.spend(s, ps.card, a, false)
    s.jitEffects.set(`${kind}:${tx}`, { amount: a, byDecision: true, webhookSeen: false, repaired: false })
    if (kind === 'authorization') {
      s.holds.set(p, { p, account, remaining: a, state: 'OPEN', forced: false, lodging: ps.mcc === 'lodging' })
      s.accounts[account].held += a
    } else {
      s.accounts[account].balance -= a
    }
  }

  private decideIncremental (s: ModelState, p: number, k: number): void {
    const ps = this.h.purchases[p]
    const inc = ps?.incrementals[k]
    if (ps === undefined || inc === undefined || ps.method !== 'auth') return
    const jit = this.tk.incJit(p, k)
    const tx = this.tk.incTx(p, k)
    if (s.decisions.has(jit)) return
    // the decision records its original's JIT token: its tokens lead wherever that one does
    this.learn(s, this.tk.jit(p), jit, tx)
    const hold = s.holds.get(p)
    const a = BigInt(inc.amount)
    const answered = s.jitEffects.has(`incremental:${tx}`) || s.effects.has(`incremental_declined:${tx}`)
    const ok = !answered && hold !== undefined && hold.state === 'OPEN' && !hold.forced &&
      s.decisions.get(this.tk.jit(p))?.outcome === 'approved' &&
      available(s, hold.account) >= a && this.withinLimits(s, ps.card, a, true)
    s.decisions.set(jit, { outcome: ok ? 'approved' : 'declined' })
    if (!ok || hold === undefined) return
    this.spend(s, ps.card, a, true)
    s.jitEffects.set(`incremental:${tx}`, { amount: a, byDecision: true, webhookSeen: false, repaired: false })
    hold.remaining += a
    s.accounts[hold.account].held += a
  }

  private withinLimits (s: ModelState, card: string, a: bigint, incremental: boolean): boolean {
    const limits = this.h.limits
    if (card !== 'A' || limits === null) return true
    if (limits.daily !== null && s.spentA.amount + a > BigInt(limits.daily)) return false
    if (!incremental && limits.dailyCount !== null && s.spentA.count + 1 > limits.dailyCount) return false
    return true
  }

  private spend (s: ModelState, card: string, a: bigint, incremental: boolean): void {
    if (card !== 'A' || this.h.limits === null) return
    s.spentA.amount += a
    if (!incremental) s.spentA.count++
  }

  /** The ledger now associates these identifiers with purchase p (or with the purchase of identifier `p`). */
  private learn (s: ModelState, p: number | string, ...ids: string[]): void {
    for (const id of ids) if (!s.known.has(id)) s.known.set(id, p)
  }

  /** The purchase an identifier leads to now. */
  private purchaseOf (s: ModelState, id: string): number | undefined {
    let v = s.known.get(id)
    for (let hops = 0; typeof v === 'string' && hops < 4; hops++) v = s.known.get(v)
    return typeof v === 'number' ? v : undefined
  }

  /** The purchase whose hold a message's identifiers lead to, if any (docs/ledger.md "Keys": any identifier). */
  private findHold (s: ModelState, d: MessageDescriptor): ModelHold | undefined {
    for (const id of d.links) {
      const p = this.purchaseOf(s, id)
      const hold = p === undefined ? undefined : s.holds.get(p)
      if (hold !== undefined) return hold
    }
    return undefined
  }

  private release (s: ModelState, hold: ModelHold, amount: bigint, close: 'CLOSED' | 'EXPIRED' | null): void {
    hold.remaining -= amount
    s.accounts[hold.account].held -= amount
    if (close !== null) hold.state = close
  }

  private grow (s: ModelState, hold: ModelHold, delta: bigint): bigint {
    if (hold.state !== 'OPEN' || delta === 0n) return 0n
    const v = delta > 0n ? delta : -(hold.remaining < -delta ? hold.remaining : -delta)
    hold.remaining += v
    s.accounts[hold.account].held += v
    return v
  }

  /** One processor message; returns 'parked' when it waits for its purchase. */
  message (s: ModelState, d: MessageDescriptor, retrying = false): 'applied' | 'parked' | 'duplicate' | 'refused' {
    if (d.refused || d.action === 'ignored') return 'refused'
    if (d.account === 'D' && !s.provisionedD && !d.action.endsWith('_declined')) {
      // no funding account yet: every kind waits for it (README decision 11); a webhook about
      // a JIT token still claims its decision first
      if (d.action === 'auth' || d.action === 'immediate' || d.action === 'inc') this.tombstone(s, d)
      return this.park(s, d, retrying)
    }
    switch (d.action) {
      case 'auth':
      case 'immediate':
      case 'inc': return this.jitMessage(s, d)
      case 'auth_declined':
      case 'inc_declined':
      case 'immediate_declined': return this.repair(s, d)
      case 'clearing': {
        const key = `clearing:${d.token}`
        if (s.effects.has(key)) {
          // its copy with nothing to link was a plain debit; this copy links it to an open hold:
          // that debit becomes the hold's capture, posted once (docs/ledger.md "Invariants")
          const debited = s.unlinkedClearings.get(d.token)
          const hold = debited === undefined ? undefined : this.findHold(s, d)
          if (debited === undefined || hold === undefined || hold.state !== 'OPEN' || hold.account !== d.account) return 'duplicate'
          s.unlinkedClearings.delete(d.token)
          this.learn(s, hold.p, d.token)
          this.release(s, hold, debited < hold.remaining ? debited : hold.remaining, null)
          if (d.final) this.release(s, hold, hold.remaining, 'CLOSED')
          return 'applied'
        }
        const a = d.amount ?? 0n
        const hold = this.findHold(s, d)
        const linkable = d.links.length > 1
        if (hold === undefined && linkable) return this.park(s, d, retrying)
        s.effects.add(key)
        s.accounts[d.account].balance -= a
        if (hold === undefined || hold.state !== 'OPEN') {
          if (hold !== undefined) this.learn(s, hold.p, d.token)
          else s.unlinkedClearings.set(d.token, a)
          return 'applied' // a plain debit: nothing to link, or the hold is closed
        }
        this.learn(s, hold.p, d.token)
        const capture = a < hold.remaining ? a : hold.remaining
        this.release(s, hold, capture, null)
        if (d.final) this.release(s, hold, hold.remaining, 'CLOSED')
        return 'applied'
      }
      case 'reversal': {
        const key = `reversal:${d.token}`
        if (s.effects.has(key)) return 'duplicate'
        const hold = this.findHold(s, d)
        if (hold === undefined) return this.park(s, d, retrying)
        s.effects.add(key)
        this.learn(s, hold.p, d.token)
        if (hold.state !== 'OPEN') return 'applied'
        const amount = d.amount === null || d.amount > hold.remaining ? hold.remaining : d.amount
        this.release(s, hold, amount, hold.remaining - amount === 0n ? 'CLOSED' : null)
        return 'applied'
      }
      case 'refund': {
        const key = `refund:${d.token}`
        if (s.effects.has(key)) return 'duplicate'
        s.effects.add(key)
        // the purchase's account when its hold is found, else the card's: the same account here
        s.accounts[d.account].balance += d.amount ?? 0n
        return 'applied'
      }
      case 'force': {
        const key = `force_capture:${d.token}`
        if (s.effects.has(key)) return 'duplicate'
        s.effects.add(key)
        s.accounts[d.account].balance -= d.amount ?? 0n
        return 'applied'
      }
    }
    return 'refused'
  }

  /**
   * A webhook about a JIT token nobody decided claims its decision (a tombstone), whatever it
   * then does (a redelivery too: the claim comes before the effect key). That record keeps the
   * message's own token and the original_jit_funding_token it named, so from then on the ledger
   * links this JIT token (and the message's own token) to that purchase, even while the message
   * waits: the purchase's own JIT token, or an incremental's that named its original.
   */
  private tombstone (s: ModelState, d: MessageDescriptor): void {
    if (d.jitToken === null || s.decisions.has(d.jitToken)) return
    s.decisions.set(d.jitToken, { outcome: 'declined' })
    const p = d.p as number
    if (d.jitToken === this.tk.jit(p)) this.learn(s, p, d.jitToken, d.token)
    else if (d.links.includes(this.tk.jit(p))) this.learn(s, this.tk.jit(p), d.jitToken, d.token)
  }

  /** Parks a message; a later copy of a waiting one adds the identifiers it carries (the first copy is the one retried). */
  private park (s: ModelState, d: MessageDescriptor, retrying: boolean): 'parked' {
    if (retrying) return 'parked'
    const first = s.parked.get(d.token)
    if (first === undefined) s.parked.set(d.token, d)
    else s.parked.set(d.token, { ...first, links: [...new Set([...first.links, ...d.links])] })
    return 'parked'
  }

  /** A PENDING / COMPLETION webhook of a JIT message: confirms our decision, else a forced (stand-in) effect. */
  private jitMessage (s: ModelState, d: MessageDescriptor): 'applied' | 'parked' | 'duplicate' {
    const kind = d.action === 'auth' ? 'authorization' : d.action === 'inc' ? 'incremental' : 'immediate_debit'
    const key = `${kind}:${d.token}`
    const p = d.p as number
    const ps = this.h.purchases[p]
    if (ps === undefined) return 'duplicate'
    const eff = s.jitEffects.get(key)
    if (eff?.webhookSeen === true) {
      this.tombstone(s, d)
      return 'duplicate'
    }
    const a = d.amount ?? 0n
    if (eff !== undefined) {
      // our decision's effect: the webhook confirms it; the network's amount wins
      eff.webhookSeen = true
      if (kind === 'immediate_debit') {
        s.accounts[d.account].balance -= a - eff.amount
        eff.amount = a
        return 'applied'
      }
      const hold = s.holds.get(p)
      if (hold !== undefined) {
        this.learn(s, p, d.token)
        eff.amount += this.grow(s, hold, a - eff.amount)
      }
      return 'applied'
    }
    // never decided by us (or declined by us): the processor approved it on its own
    this.tombstone(s, d)
    if (kind === 'immediate_debit') {
      s.jitEffects.set(key, { amount: a, byDecision: false, webhookSeen: true, repaired: false })
      s.accounts[d.account].balance -= a
      if (d.jitToken !== null) this.learn(s, p, d.jitToken)
      return 'applied'
    }
    if (kind === 'incremental') {
      const hold = this.findHold(s, d)
      if (hold === undefined) {
        // its tombstone stays (the claim is on the JIT token); the effect waits
        return this.park(s, d, false)
      }
      s.jitEffects.set(key, { amount: a, byDecision: false, webhookSeen: true, repaired: false })
      this.learn(s, p, d.token, ...(d.jitToken === null ? [] : [d.jitToken]))
      this.grow(s, hold, a)
      return 'applied'
    }
    s.jitEffects.set(key, { amount: a, byDecision: false, webhookSeen: true, repaired: false })
    this.learn(s, p, d.token, ...(d.jitToken === null ? [] : [d.jitToken]))
    const existing = s.holds.get(p)
    if (existing === undefined) {
      s.holds.set(p, { p, account: d.account, remaining: a, state: 'OPEN', forced: true, lodging: ps.mcc === 'lodging' })
      s.accounts[d.account].held += a
    }
    return 'applied'
  }

  /** A DECLINED (timed-out) webhook: releases what we held or credits back what we debited for that message. */
  private repair (s: ModelState, d: MessageDescriptor): 'applied' | 'duplicate' {
    const kind = d.action === 'auth_declined' ? 'authorization' : d.action === 'inc_declined' ? 'incremental' : 'immediate_debit'
    const key = `${kind}_declined:${d.token}`
    this.tombstone(s, d)
    if (s.effects.has(key)) return 'duplicate'
    s.effects.add(key)
    const p = d.p as number
    const eff = s.jitEffects.get(`${kind}:${d.token}`)
    if (eff === undefined) return 'applied' // nothing was placed for it (a later decision places nothing)
    if (kind === 'immediate_debit') {
      if (!eff.repaired) {
        eff.repaired = true
        s.accounts[d.account].balance += eff.amount
      }
      return 'applied'
    }
    const hold = s.holds.get(p)
    if (hold === undefined || hold.state !== 'OPEN') return 'applied'
    if (kind === 'authorization') {
      this.release(s, hold, hold.remaining, 'CLOSED')
    } else {
      const amount = eff.amount < hold.remaining ? eff.amount : hold.remaining
      this.release(s, hold, amount, null)
    }
    return 'applied'
  }
}
