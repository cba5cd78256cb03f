import { jitFundingRequest, purchasesOf, webhookBatch, type LoadRequest, type LoadResponseCheck, type SimPurchase } from '@jit/processor-sim'
import { uniformCards, hotCards, type SeedCard, type SeedSpec } from './database.js'

export type Side = 'ours' | 'base'
export type WorkloadName = 'W1' | 'W3' | 'W4'

/** One stream of requests of a workload, sent by its own generator at `share` of the rate. */
export interface Stream {
  name: 'jit' | 'webhooks'
  origin: string
  share: number
  request: (seq: number) => LoadRequest
  check: LoadResponseCheck
}

export interface StreamContext {
  side: Side
  /** Unique per phase: JIT tokens never collide across phases. */
  phaseId: string
  seed: SeedSpec
  jitOrigin: string
  jitAuthorization: string
  webhookOrigin?: string
  webhookAuthorization?: string
}

export interface Workload {
  name: WorkloadName
  description: string
  /** Which sides run it (BASE only decides authorizations: the lifecycle mix is ours alone). */
  sides: Side[]
  /** Needs the worker and webhook-ingest running beside the authorizer. */
  lifecycle: boolean
  streams: (ctx: StreamContext) => Stream[]
}

/** A small deterministic PRNG, so a phase's request sequence is the same on both sides. */
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A JIT answer: 200 (approved) or 402 (declined) with a jit_funding body. */
const jitAnswered: LoadResponseCheck = (status) => status === 200 || status === 402

function jitRequest (ctx: StreamContext, body: Record<string, unknown>): LoadRequest {
  return { path: ctx.side === 'ours' ? '/v1/jit-funding' : '/jit', headers: { authorization: ctx.jitAuthorization, 'content-type': 'application/json' }, body: JSON.stringify(body) }
}

function pick<T> (items: T[], rnd: () => number): T {
  return items[Math.floor(rnd() * items.length)] as T
}

/** Authorizations on random cards; `insufficientShare` of them above any balance. */
function authorizations (cards: SeedCard[], insufficientShare: number, overBalance: number) {
  return (ctx: StreamContext): Stream[] => {
    const rnd = mulberry32(7)
    let n = 0 // across the phase's runs (warm-up, closed loop, ladder): a token is never reused
    return [{
      name: 'jit',
      origin: ctx.jitOrigin,
      share: 1,
      check: jitAnswered,
      request: () => {
        const card = pick(cards, rnd)
        const amount = rnd() < insufficientShare ? overBalance : 100 + Math.floor(rnd() * 4900)
        return jitRequest(ctx, jitFundingRequest(card, { token: `${ctx.phaseId}-${n++}`, amount }))
      }
    }]
  }
}

/**
 * W4, the lifecycle mix: 65 % authorizations, 4 % incrementals, 5 % repeated tokens (half of
 * them the request just sent, so usually still in flight) on the JIT stream; 18 % clearings (a
 * third partial), 5 % reversals and 3 % refunds as webhooks of purchases approved earlier.
 */
function lifecycleMix (cards: SeedCard[]) {
  return (ctx: StreamContext): Stream[] => {
    const rnd = mulberry32(11)
    const approved: Array<{ card: SeedCard, p: SimPurchase }> = []
    const cleared: Array<{ card: SeedCard, p: SimPurchase }> = []
    const pending = new Map<number, { card: SeedCard, p: SimPurchase }>()
    const sentBodies: string[] = []
    let n = 0 // across the phase's runs: tokens are repeated on purpose only
    const jitShare = 0.65 + 0.04 + 0.05
    const jit: Stream = {
      name: 'jit',
      origin: ctx.jitOrigin,
      share: jitShare,
      check: (status, _body, seq) => {
        const purchase = pending.get(seq)
        if (purchase !== undefined) {
          pending.delete(seq)
          if (status === 200) approved.push(purchase)
        }
        return jitAnswered(status, null, seq)
      },
      request: seq => {
        if (seq === 0) pending.clear() // a new run numbers its requests from 0 again
        const id = n++
        const r = rnd() * jitShare
        if (r >= 0.69 && sentBodies.length > 0) {
          // a repeated token: the last request (likely in flight) or an older one (answered)
          const body = rnd() < 0.5 ? sentBodies[sentBodies.length - 1] as string : pick(sentBodies, rnd)
          return { path: '/v1/jit-funding', headers: { authorization: ctx.jitAuthorization, 'content-type': 'application/json' }, body }
        }
        const last = approved[approved.length - 1]
        let req: LoadRequest
        if (r >= 0.65 && last !== undefined) {
          const inc: SimPurchase = { jitToken: `${ctx.phaseId}-i${id}`, txToken: `${ctx.phaseId}-it${id}`, amount: 100 + Math.floor(rnd() * 900) }
          req = jitRequest(ctx, purchasesOf(last.card).request(inc, 'pgfs.authorization.incremental', last.p.jitToken))
        } else {
          const card = pick(cards, rnd)
          const p: SimPurchase = { jitToken: `${ctx.phaseId}-${id}`, txToken: `${ctx.phaseId}-t${id}`, amount: 100 + Math.floor(rnd() * 4900) }
          pending.set(seq, { card, p })
          req = jitRequest(ctx, purchasesOf(card).request(p))
        }
        sentBodies.push(req.body as string)
        if (sentBodies.length > 1000) sentBodies.splice(0, 500)
        return req
      }
    }
    const webhookShare = 0.18 + 0.05 + 0.03
    const webhooks: Stream = {
      name: 'webhooks',
      origin: ctx.webhookOrigin ?? ctx.jitOrigin,
      share: webhookShare,
      check: status => status >= 200 && status < 300,
      request: seq => {
        const r = rnd() * webhookShare
        let event: Record<string, unknown>
        const refundOf = cleared.shift()
        if (r >= 0.23 && refundOf !== undefined) {
          event = purchasesOf(refundOf.card).refund(refundOf.p, Math.max(1, Math.floor(refundOf.p.amount / 4)))
        } else {
          if (refundOf !== undefined) cleared.unshift(refundOf)
          const next = approved.shift()
          if (next === undefined) {
            // nothing approved yet to settle: a force capture on some card
            event = purchasesOf(pick(cards, rnd)).forceCapture(100)
          } else if (r >= 0.18) {
            event = purchasesOf(next.card).reversal(next.p, null)
          } else {
            const partial = seq % 3 === 0
            event = purchasesOf(next.card).clearing(next.p, partial ? Math.max(1, Math.floor(next.p.amount / 2)) : next.p.amount, partial ? true : undefined)
            cleared.push(next)
            if (cleared.length > 1000) cleared.splice(0, 500)
          }
        }
        return { path: '/v1/webhooks/marqeta', headers: { authorization: ctx.webhookAuthorization ?? '', 'content-type': 'application/json' }, body: JSON.stringify(webhookBatch('transactions', [event])) }
      }
    }
    return [jit, webhooks]
  }
}

export function workloads (seed: SeedSpec): Workload[] {
  const uniform = uniformCards(seed)
  return [
    { name: 'W1', description: `uniform authorizations over ${seed.accounts} accounts, 10 % insufficient funds`, sides: ['ours', 'base'], lifecycle: false, streams: authorizations(uniform, 0.1, seed.balance + 1) },
    { name: 'W3', description: `one funding account behind ${seed.hotCards} cards`, sides: ['ours', 'base'], lifecycle: false, streams: authorizations(hotCards(seed), 0, 0) },
    { name: 'W4', description: 'lifecycle mix: 65 % authorizations, 18 % clearings (a third partial), 5 % reversals, 4 % incrementals, 3 % refunds, 5 % repeated tokens (half concurrent), worker running', sides: ['ours'], lifecycle: true, streams: lifecycleMix(uniform) }
  ]
}
