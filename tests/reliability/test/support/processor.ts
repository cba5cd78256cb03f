import { performance } from 'node:perf_hooks'
import { signBody } from '@jit/http-auth'
import { jitFundingRequest, purchasesOf, runOpenLoop, webhookBatch, type LoadResult, type SimCard, type SimPurchase } from '@jit/processor-sim'
import type { LogScanner } from './log-scan.js'

/** One JIT request the processor sent, and what came back. */
export interface Purchase {
  phase: string
  card: SimCard
  p: SimPurchase
  sentAt: number
  status?: number
  latencyMs?: number
  /** The processor's view: an answer after its deadline is no answer. */
  outcome?: 'approved' | 'declined' | 'late' | 'unanswered'
  /** What the processor does next with an approval: clear it (final) or reverse it. */
  settle: 'clear' | 'reverse'
}

interface QueuedEvent { event: Record<string, unknown>, phase: string, notBefore: number }

export interface ProcessorOptions {
  authorizer: string
  ingest: string
  jitAuth: string
  webhookAuth: string
  hmacSecret: string
  cards: SimCard[]
  /** The processor's deadline: an answer after it counts as no answer. @default 3000 */
  deadlineMs?: number
  /** Signatures sent are registered here, so no log may show them. */
  logs: LogScanner
  /** Amounts in minor units are drawn from 1..maxAmount. */
  maxAmount: number
}

/** Per phase: what the processor saw. */
export interface PhaseCounts {
  sent: number
  unsent: number
  inTime: number
  late: number
  unanswered: number
  approved: number
  declined: number
  eventsAccepted: number
  webhook503: number
}

/**
 * A Marqeta-style processor driving the services from outside: JIT funding requests at an open-loop
 * rate (the project's one generator, @jit/processor-sim's runOpenLoop), then for each purchase the
 * webhooks it would send, signed and retried until answered 200: an approval in time is confirmed
 * (PENDING) and cleared or reversed; a decision that came after the deadline, or never, gets the
 * DECLINED webhook with `gateway_log.timed_out = true`.
 */
export class Processor {
  readonly purchases: Purchase[] = []
  private readonly queue: QueuedEvent[] = []
  private readonly counts = new Map<string, PhaseCounts>()
  /** The tokens of the webhook events answered 200, by phase. */
  readonly accepted = new Map<string, Set<string>>()
  private readonly sims: Array<ReturnType<typeof purchasesOf>>
  private readonly deadlineMs: number
  private seq = 0

  constructor (private readonly opts: ProcessorOptions) {
    this.sims = opts.cards.map(c => purchasesOf(c))
    this.deadlineMs = opts.deadlineMs ?? 3000
  }

  phase (name: string): PhaseCounts {
    let c = this.counts.get(name)
    if (c === undefined) {
      c = { sent: 0, unsent: 0, inTime: 0, late: 0, unanswered: 0, approved: 0, declined: 0, eventsAccepted: 0, webhook503: 0 }
      this.counts.set(name, c)
    }
    return c
  }

  /** Webhook events not yet answered 200. */
  get pendingEvents (): number {
    return this.queue.length
  }

  private enqueue (phase: string, events: Array<Record<string, unknown>>, delayMs = 0): void {
    const notBefore = performance.now() + delayMs
    for (const event of events) this.queue.push({ event, phase, notBefore })
  }

  private followUps (purchase: Purchase): void {
    const sim = this.sims[this.opts.cards.indexOf(purchase.card)]
    if (sim === undefined) return
    if (purchase.outcome === 'approved') {
      const next = purchase.settle === 'clear' ? sim.clearing(purchase.p, purchase.p.amount, true) : sim.reversal(purchase.p, null)
      this.enqueue(purchase.phase, [sim.pending(purchase.p), next])
    } else if (purchase.outcome === 'late' || purchase.outcome === 'unanswered') {
      this.enqueue(purchase.phase, [sim.declined(purchase.p, true)])
    }
  }

  /** JIT requests at `rate` per second for `durationMs`; answers are classified as they arrive. */
  async jit (phase: string, rate: number, durationMs: number, maxInFlight = 48): Promise<LoadResult> {
    const counts = this.phase(phase)
    const bySeq = new Map<number, Purchase>()
    const result = await runOpenLoop({
      origin: this.opts.authorizer,
      rate,
      durationMs,
      maxInFlight,
      // longer than the deadline, so a late answer is seen (and counted) rather than cut off
      timeoutMs: 10_000,
      request: (seq) => {
        const n = this.seq++
        const card = this.opts.cards[n % this.opts.cards.length] as SimCard
        const sim = this.sims[n % this.sims.length] as ReturnType<typeof purchasesOf>
        const p = sim.purchase(1 + (n * 7919) % this.opts.maxAmount)
        const purchase: Purchase = { phase, card, p, sentAt: performance.now(), settle: n % 3 === 0 ? 'reverse' : 'clear' }
        bySeq.set(seq, purchase)
        this.purchases.push(purchase)
        const body = jitFundingRequest(card, { token: p.jitToken, amount: p.amount, transactionToken: p.txToken })
        return { path: '/v1/jit-funding', method: 'POST', headers: { authorization: this.opts.jitAuth, 'content-type': 'application/json' }, body: JSON.stringify(body) }
      },
      check: (status, body, seq) => {
        const purchase = bySeq.get(seq)
        if (purchase === undefined) return false
        purchase.status = status
        purchase.latencyMs = performance.now() - purchase.sentAt
        const answered = status === 200 || status === 402
        if (!answered) purchase.outcome = 'unanswered'
        else if (purchase.latencyMs > this.deadlineMs) purchase.outcome = 'late'
        else purchase.outcome = status === 200 ? 'approved' : 'declined'
        this.followUps(purchase)
        return answered
      }
    })
    for (const purchase of bySeq.values()) {
      if (purchase.outcome === undefined) {
        purchase.outcome = 'unanswered'
        this.followUps(purchase)
      }
      counts.sent++
      if (purchase.outcome === 'approved' || purchase.outcome === 'declined') counts.inTime++
      if (purchase.outcome === 'approved') counts.approved++
      if (purchase.outcome === 'declined') counts.declined++
      if (purchase.outcome === 'late') counts.late++
      if (purchase.outcome === 'unanswered') counts.unanswered++
    }
    counts.unsent += result.unsent
    return result
  }

  /**
   * Webhook batches (up to 10 events, signed) at `rate` per second for `durationMs`, each taken
   * from the queue of events due; with nothing due, a ping batch. Anything but 200 puts the batch's
   * events back, due again after `retryMs` (the processor retries, with a shorter backoff here).
   */
  async webhooks (rate: number, durationMs: number, retryMs = 1000): Promise<LoadResult> {
    const inFlight = new Map<number, QueuedEvent[]>()
    const result = await runOpenLoop({
      origin: this.opts.ingest,
      rate,
      durationMs,
      maxInFlight: 16,
      timeoutMs: 15_000,
      request: (seq) => {
        const now = performance.now()
        const batch: QueuedEvent[] = []
        for (let i = 0; i < this.queue.length && batch.length < 10;) {
          const q = this.queue[i] as QueuedEvent
          if (q.notBefore <= now) { batch.push(q); this.queue.splice(i, 1) } else i++
        }
        inFlight.set(seq, batch)
        const body = JSON.stringify(batch.length > 0 ? webhookBatch('transactions', batch.map(q => q.event)) : { pings: [{ token: 'marqeta', payload: 'healthcheck' }] })
        const signature = signBody(body, this.opts.hmacSecret)
        this.opts.logs.sentSignature(signature)
        return { path: '/v1/webhooks/marqeta', method: 'POST', headers: { authorization: this.opts.webhookAuth, 'content-type': 'application/json', 'x-marqeta-signature': signature }, body }
      },
      check: (status, _body, seq) => {
        const batch = inFlight.get(seq) ?? []
        inFlight.delete(seq)
        if (status === 200) {
          for (const q of batch) {
            const tokens = this.accepted.get(q.phase) ?? new Set<string>()
            this.accepted.set(q.phase, tokens)
            // a retried batch that was in fact published the first time counts once
            if (!tokens.has(String(q.event.token))) this.phase(q.phase).eventsAccepted++
            tokens.add(String(q.event.token))
          }
        } else {
          if (status === 503) for (const q of batch) this.phase(q.phase).webhook503++
          this.requeue(batch, retryMs)
        }
        return status === 200 || status === 503
      }
    })
    // no answer at all (a network error): sent again later, like any failure
    for (const batch of inFlight.values()) this.requeue(batch, retryMs)
    return result
  }

  private requeue (batch: QueuedEvent[], retryMs: number): void {
    const due = performance.now() + retryMs
    for (const q of batch) this.queue.push({ ...q, notBefore: due })
  }

  /** Sends webhooks until every queued event is answered 200, or `timeoutMs` passed. */
  async deliverAll (timeoutMs: number, rate = 30): Promise<void> {
    const until = performance.now() + timeoutMs
    while (this.queue.length > 0 && performance.now() < until) await this.webhooks(rate, 1000, 500)
  }
}
