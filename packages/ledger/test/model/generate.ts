import fc from 'fast-check'
import type {
  AmountForm, AnswerIds, CardId, CurrencyForm, FollowIds, History, IncrementalSpec, Limits, MessageForm, Op, PurchaseSpec
} from './history.js'

/**
 * Classes of histories the CI-sized run leaves out while the ledger finding about them is open
 * (each flag is named after its finding; remove it from this list as soon as the fix lands).
 * The long mode includes everything unless told otherwise (`--exclude`).
 */
export const CI_EXCLUDED: ReadonlyArray<{ flag: GeneratorFlag, finding: number, why: string }> = []

/**
 * Every flag the generator knows: the CI exclusions above, the flags of findings already fixed
 * (F1-F11: kept so a regression can be looked past with `--exclude`), and classes the long mode
 * can be told to leave out.
 */
export type GeneratorFlag =
  | 'F1-answer-missing-ids' | 'F2-reserved-accounts' | 'F3-gateway-id-links' | 'F4-repair-odd-fields' | 'F5-redelivery-other-ids' | 'F6-reversal-foreign-currency'
  | 'F7-decision-after-its-webhook' | 'F8-concurrent-command-repeat' | 'F9-refused-copy-parked' | 'F11-link-through-late-decision'
  | 'foreign-currency' | 'odd-amount' | 'cross-kind-token' | 'concurrency' | 'batched-apply' | 'single-message'

export interface GeneratorOptions {
  /** Most operations in one history (a group counts once). */
  maxOps: number
  /** Classes left out (flags tied to open findings). */
  exclude: ReadonlySet<GeneratorFlag>
}

const money = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 1, max: 40000 }) },
  { weight: 3, arbitrary: fc.constantFrom(100, 1000, 2500, 5000, 10000) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000_000_000_000, max: 20_000_000_000_000 }) }
)

const incremental: fc.Arbitrary<IncrementalSpec> = fc.record({
  amount: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(2000, 3000)),
  fate: fc.constantFrom<IncrementalSpec['fate']>('approved', 'approved', 'declined')
})

const purchase: fc.Arbitrary<PurchaseSpec> = fc.record({
  card: fc.constantFrom<CardId>('A', 'A', 'B', 'C', 'D'),
  method: fc.constantFrom<PurchaseSpec['method']>('auth', 'auth', 'auth', 'auth', 'pindebit', 'apc'),
  amount: money,
  mcc: fc.constantFrom<PurchaseSpec['mcc']>('grocery', 'grocery', 'lodging'),
  fate: fc.constantFrom<PurchaseSpec['fate']>('approved', 'approved', 'approved', 'declined'),
  incrementals: fc.array(incremental, { maxLength: 2 })
})

const followIds: fc.Arbitrary<FollowIds> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ jit: true, orig: true, gw: true, prec: true }) },
  { weight: 4, arbitrary: fc.record({ jit: fc.boolean(), orig: fc.boolean(), gw: fc.boolean(), prec: fc.boolean() }) }
)

function form (exclude: ReadonlySet<GeneratorFlag>, repair = true): fc.Arbitrary<MessageForm> {
  const currencies: Array<fc.WeightedArbitrary<CurrencyForm>> = [
    { weight: 14, arbitrary: fc.constant('same') },
    { weight: 2, arbitrary: fc.constant('gpaOnly') }
  ]
  if (!exclude.has('foreign-currency')) currencies.push({ weight: 1, arbitrary: fc.constant('other') })
  if (repair) currencies.push({ weight: 1, arbitrary: fc.constant('absent') })
  const amounts: Array<fc.WeightedArbitrary<AmountForm>> = [
    { weight: 12, arbitrary: fc.constant('number') },
    { weight: 3, arbitrary: fc.constant('string') },
    { weight: 1, arbitrary: fc.constant('negated') }
  ]
  if (!exclude.has('odd-amount')) amounts.push({ weight: 1, arbitrary: fc.constant('odd') })
  return fc.record({ amountForm: fc.oneof(...amounts), currency: fc.oneof(...currencies) })
}

/** Percent of the purchase's amount a follow-up carries (partial, exact, over, tiny). */
const share = fc.constantFrom(100, 100, 50, 25, 120, 10, 150, 0)

/** Operations before their amounts are made concrete from their purchase. */
type RawOp = Op | { t: 'clearingRaw', p: number, seq: number, pct: number, final: boolean | null, ids: FollowIds, form: MessageForm } |
{ t: 'reversalRaw', p: number, seq: number, pct: number | null, ids: FollowIds, form: MessageForm, advice: boolean }

function opArb (o: GeneratorOptions, depth: number): fc.Arbitrary<RawOp> {
  const p = fc.nat({ max: 5 })
  const seq = fc.nat({ max: 2 })
  const x = o.exclude
  const answerIds = fc.constantFrom<AnswerIds>('full', 'full', 'full', 'gwOnly', 'noJit', 'noGpaOrder')
  const delta = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3000, max: 3000 }) })
  const arbs: Array<fc.WeightedArbitrary<RawOp>> = [
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('decide' as const),
        p,
        currency: fc.constantFrom<'same' | 'other'>('same', 'same', 'same', 'same', 'same', 'other'),
        late: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
      })
    },
    {
      weight: 7,
      arbitrary: fc.tuple(p, answerIds, delta, fc.boolean(), form(x)).map(([pp, ids, d, standin, f]) =>
        ({ t: 'answer' as const, p: pp, ids, delta: d, standin, ...f }))
    },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('incDecide' as const), p, k: fc.nat({ max: 1 }) }) },
    {
      weight: 3,
      arbitrary: fc.tuple(p, fc.nat({ max: 1 }), followIds, delta, form(x)).map(([pp, k, ids, d, f]) =>
        ({ t: 'incAnswer' as const, p: pp, k, ids, delta: d, ...f }))
    },
    {
      weight: 7,
      arbitrary: fc.record({ t: fc.constant('clearingRaw' as const), p, seq, pct: share, final: fc.constantFrom(true, true, false, null), ids: followIds, form: form(x, false) })
    },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant('reversalRaw' as const), p, seq, pct: fc.option(share, { nil: null }), ids: followIds, form: form(x, false), advice: fc.boolean() })
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom<CardId>('A', 'B', 'C', 'D'), fc.option(p, { nil: null }), seq, money, followIds, form(x, false)).map(([card, pp, s, amount, ids, f]) =>
        ({ t: 'refund' as const, card, p: pp, seq: s, amount, ids, ...f }))
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom<CardId>('A', 'B', 'C', 'D'), seq, money, form(x, false)).map(([card, s, amount, f]) =>
        ({ t: 'force' as const, card, seq: s, amount, ...f }))
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('credit' as const), account: fc.constantFrom<'A' | 'C'>('A', 'C'), amount: money, seq: fc.nat({ max: 3 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('debit' as const), account: fc.constantFrom<'A' | 'C'>('A', 'C'), amount: money, force: fc.boolean(), seq: fc.nat({ max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), p, seq: fc.nat({ max: 1 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), days: fc.constantFrom<8 | 31>(8, 31) }) },
    { weight: 3, arbitrary: fc.constant({ t: 'retry' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'purge' as const }) },
    { weight: 2, arbitrary: fc.constant({ t: 'provisionD' as const }) }
  ]
  if (!x.has('cross-kind-token')) {
    arbs.push({
      weight: 1,
      arbitrary: fc.tuple(p, fc.constantFrom<'refund' | 'clearing'>('refund', 'clearing'), money, form(x, false))
        .map(([pp, as, amount, f]) => ({ t: 'crossKind' as const, p: pp, as, amount, ...f }))
    })
  }
  if (!x.has('F2-reserved-accounts')) {
    arbs.push({
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('reserved' as const),
        name: fc.constantFrom<'network_settlement' | 'program_funding'>('network_settlement', 'program_funding'),
        credit: fc.boolean(),
        amount: money,
        seq: fc.nat({ max: 3 })
      })
    })
  }
  if (depth === 0 && !x.has('concurrency')) {
    arbs.push({
      weight: 3,
      arbitrary: fc.tuple(
        fc.array(opArb(o, 1).filter(op => op.t !== 'retry' && op.t !== 'expire' && op.t !== 'purge'), { minLength: 2, maxLength: 3 }),
        x.has('batched-apply') ? fc.constant(false) : fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
      ).map(([ops, batched]) => ({ t: 'together' as const, ops: ops as Op[], batched }))
    })
  }
  return fc.oneof(...arbs)
}

const limitsArb: fc.Arbitrary<Limits | null> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.record({ daily: fc.option(fc.integer({ min: 1000, max: 60000 }), { nil: null }), dailyCount: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }) }) }
)

/** Random histories: a few purchases and up to `maxOps` operations on them, in any order. */
export function historyArb (o: GeneratorOptions): fc.Arbitrary<History> {
  return fc.record({
    balanceA: fc.oneof(fc.integer({ min: 1, max: 200000 }), fc.constant(100000)),
    balanceC: fc.integer({ min: 1, max: 100000 }),
    balanceD: fc.integer({ min: 1, max: 100000 }),
    limits: limitsArb,
    purchases: fc.array(purchase, { minLength: 1, maxLength: 5 }),
    ops: fc.array(opArb(o, 0), { minLength: 1, maxLength: o.maxOps, size: 'medium' })
  }).map(raw => concrete(raw, o))
}

/** Which message (or command) an operation delivers: repeats of one identity share its token or message id. */
function identity (op: Op): string | null {
  switch (op.t) {
    case 'answer': return `answer:${op.p}`
    case 'incAnswer': return `inc:${op.p}:${op.k}`
    case 'clearing':
    case 'reversal':
    case 'advice': return `${op.t}:${op.p}:${op.seq}`
    case 'refund': return `refund:${op.p ?? op.card}:${op.seq}`
    case 'crossKind': return `cross:${op.p}:${op.as}`
    case 'force': return `force:${op.card}:${op.seq}`
    // account.credit / account.debit (and D's load) are found in the journal, which is never
    // purged, so their repeats stay in; a manual release is keyed by its message id only
    case 'release': return `${op.t}:${op.seq}`
    default: return null
  }
}

/** After a purge, messages and commands delivered before it are not delivered again. */
function afterPurge (ops: Op[]): Op[] {
  const before = new Set<string>()
  const delivered = new Set<string>()
  const keep = (op: Op): Op | null => {
    if (op.t === 'together') {
      const inner = op.ops.map(keep).filter((x): x is Op => x !== null)
      return inner.length === 0 ? null : { ...op, ops: inner }
    }
    if (op.t === 'purge') {
      for (const id of delivered) before.add(id)
      return op
    }
    const id = identity(op)
    if (id === null) return op
    if (before.has(id)) return null
    delivered.add(id)
    return op
  }
  return ops.map(keep).filter((x): x is Op => x !== null)
}

/** Makes purchase references and follow-up amounts concrete, and drops what a flag leaves out. */
function concrete (raw: { balanceA: number, balanceC: number, balanceD: number, limits: Limits | null, purchases: PurchaseSpec[], ops: RawOp[] }, o: GeneratorOptions): History {
  const purchases = raw.purchases.filter(ps => !(o.exclude.has('single-message') && ps.method !== 'auth'))
  if (purchases.length === 0) purchases.push({ card: 'A', method: 'auth', amount: 10000, mcc: 'grocery', fate: 'approved', incrementals: [] })
  const n = purchases.length
  // F3: a gateway id is only ever sent alongside another link while that finding is open
  const gatewayIdLinks = <T extends { ids: FollowIds }>(op: T): T =>
    o.exclude.has('F3-gateway-id-links') && op.ids.gw && !op.ids.prec && !(op.ids.jit && op.ids.orig) ? { ...op, ids: { ...op.ids, gw: false } } : op
  const fix = (op: RawOp): Op | null => {
    if ('p' in op && typeof op.p === 'number') op = { ...op, p: op.p % n }
    switch (op.t) {
      case 'clearingRaw': {
        const ps = purchases[op.p] as PurchaseSpec
        return gatewayIdLinks<Op & { ids: FollowIds }>({ t: 'clearing', p: op.p, seq: op.seq, amount: Math.round(ps.amount * op.pct / 100), final: op.final, ids: op.ids, ...op.form })
      }
      case 'reversalRaw': {
        const ps = purchases[op.p] as PurchaseSpec
        const amount = op.pct === null ? null : Math.max(1, Math.round(ps.amount * op.pct / 100))
        if (o.exclude.has('F6-reversal-foreign-currency') && op.form.currency === 'other') op = { ...op, form: { ...op.form, currency: 'same' } }
        if (op.advice) return gatewayIdLinks<Op & { ids: FollowIds }>({ t: 'advice', p: op.p, seq: op.seq, amount: amount ?? ps.amount, ids: op.ids, ...op.form })
        return gatewayIdLinks<Op & { ids: FollowIds }>({ t: 'reversal', p: op.p, seq: op.seq, amount, ids: op.ids, ...op.form })
      }
      case 'answer':
      case 'incAnswer': {
        if (op.t === 'answer' && o.exclude.has('F1-answer-missing-ids') && op.ids !== 'full') return null
        const ps = purchases[op.p] as PurchaseSpec
        // an auth_plus_capture webhook is typed `authorization`: only its jit_funding.method tells
        // it from an authorization, so the processor's copy always carries it
        if (op.t === 'answer' && ps.method === 'apc' && op.ids !== 'full') op = { ...op, ids: 'full' }
        const fate = op.t === 'answer' ? ps.fate : ps.incrementals[op.k]?.fate
        // a missing currency is only sent on repairs (DECLINED); F4 keeps repairs well-formed
        if (fate !== 'declined' && op.currency === 'absent') op = { ...op, currency: 'same' }
        if (fate === 'declined' && o.exclude.has('F4-repair-odd-fields')) op = { ...op, currency: 'same', amountForm: 'number' }
        return op.t === 'incAnswer' ? gatewayIdLinks(op) : op
      }
      case 'refund':
        return gatewayIdLinks(op)
      case 'clearing':
      case 'reversal':
      case 'advice':
        return gatewayIdLinks(op)
      case 'together': {
        const ops = op.ops.map(fix).filter((x): x is Op => x !== null)
        return ops.length === 0 ? null : { ...op, ops }
      }
      default:
        return op
    }
  }
  // F9: a refused copy of a follow-up never shares its token with a valid one
  const refusedApart = (op: Op): Op => {
    if (op.t === 'together') return { ...op, ops: op.ops.map(refusedApart) }
    if (!o.exclude.has('F9-refused-copy-parked')) return op
    const refused = 'amountForm' in op && (op.currency === 'other' || op.currency === 'absent' || op.amountForm === 'odd')
    if (!refused) return op
    if (op.t === 'clearing' || op.t === 'reversal' || op.t === 'advice' || op.t === 'refund') return { ...op, seq: op.seq + 10 }
    if (op.t === 'incAnswer' && (purchases[op.p]?.incrementals[op.k]?.fate ?? 'approved') === 'approved') return { ...op, currency: 'same', amountForm: 'number' }
    return op
  }
  // F5: every delivery of one follow-up message carries the identifiers of its first delivery
  const firstIds = new Map<string, FollowIds>()
  const sameIds = (op: Op): Op => {
    if (op.t === 'together') return { ...op, ops: op.ops.map(sameIds) }
    if (!o.exclude.has('F5-redelivery-other-ids') || !('ids' in op) || typeof op.ids !== 'object') return op
    const card = 'card' in op && !('p' in op && op.p !== null) ? op.card : ''
    const key = `${op.t}:${'p' in op ? String(op.p) : ''}:${'seq' in op ? op.seq : ''}:${'k' in op ? op.k : ''}:${card}`
    const ids = firstIds.get(key)
    if (ids === undefined) {
      firstIds.set(key, op.ids)
      return op
    }
    return { ...op, ids } as Op
  }
  // F7 (and F11 for authorizations): a webhook that comes before its own JIT decision carries its jit_funding
  const decided = new Set<string>()
  const beforeDecision = (op: Op): Op => {
    const f7 = o.exclude.has('F7-decision-after-its-webhook')
    if (!f7 && !o.exclude.has('F11-link-through-late-decision')) return op
    if (op.t === 'together') {
      // sent at once: a webhook may be serialized before the decision sent with it
      const inner = op.ops.map(member => member.t === 'decide' || member.t === 'incDecide' ? member : beforeDecision(member))
      inner.forEach(member => { if (member.t === 'decide' || member.t === 'incDecide') beforeDecision(member) })
      return { ...op, ops: inner }
    }
    if (op.t === 'decide') decided.add(`${op.p}`)
    if (op.t === 'incDecide') decided.add(`${op.p}:${op.k}`)
    if (f7 && op.t === 'incAnswer' && !op.ids.jit && !decided.has(`${op.p}:${op.k}`)) return { ...op, ids: { ...op.ids, jit: true } }
    if (op.t === 'answer' && op.ids !== 'full' && !decided.has(`${op.p}`)) return { ...op, ids: 'full' }
    return op
  }
  // F8: one message id is never sent twice at once
  const oneKeyAtOnce = (op: Op): Op => {
    if (op.t !== 'together' || !o.exclude.has('F8-concurrent-command-repeat')) return op
    const keys = new Set<string>()
    return {
      ...op,
      ops: op.ops.filter(inner => {
        if (inner.t !== 'credit' && inner.t !== 'debit' && inner.t !== 'release' && inner.t !== 'reserved') return true
        const key = `${inner.t}:${inner.seq}`
        if (keys.has(key)) return false
        keys.add(key)
        return true
      })
    }
  }
  // Card D's messages may come before its account exists, when a refused copy could only be
  // parked (the first parked copy of a token wins): they are sent well-formed.
  const cardOf = (op: Op): CardId | null => {
    if ('p' in op && typeof op.p === 'number') return purchases[op.p]?.card ?? null
    return 'card' in op ? op.card : null
  }
  const wellFormedOnD = (op: Op): Op => {
    if (op.t === 'together') return { ...op, ops: op.ops.map(wellFormedOnD) }
    if (!('amountForm' in op) || cardOf(op) !== 'D') return op
    const fate = op.t === 'answer' ? purchases[op.p]?.fate : op.t === 'incAnswer' ? purchases[op.p]?.incrementals[op.k]?.fate : 'approved'
    return fate === 'declined' ? op : { ...op, currency: 'same', amountForm: op.amountForm === 'odd' ? 'number' : op.amountForm }
  }
  const ops = afterPurge(raw.ops.map(fix).filter((x): x is Op => x !== null).map(refusedApart).map(sameIds).map(beforeDecision).map(oneKeyAtOnce).map(wellFormedOnD))
  return { balanceA: raw.balanceA, balanceC: raw.balanceC, balanceD: raw.balanceD, limits: raw.limits, purchases, ops }
}
