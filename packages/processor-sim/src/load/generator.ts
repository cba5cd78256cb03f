import { performance } from 'node:perf_hooks'
import { Pool, type Dispatcher } from 'undici'
import * as hdr from 'hdr-histogram-js'

/** One request the generator sends: built per request so tokens and amounts can differ. */
export interface LoadRequest {
  path: string
  /** An HTTP method, e.g. 'POST'. @default 'POST' when a body is given, else 'GET' */
  method?: string
  headers?: Record<string, string>
  body?: string
}

/**
 * Builds the request of a given sequence number (0, 1, 2...). It runs on the generator's
 * hot path, so it should be cheap (precompute bodies when the rate is high).
 */
export type LoadRequestFactory = (seq: number) => LoadRequest

/** Whether an answer counts as a success: by default any status below 500. */
export type LoadResponseCheck = (status: number, body: string | null, seq: number) => boolean

interface CommonOptions {
  /** Where to send, e.g. `http://127.0.0.1:3000`. */
  origin: string
  /** How long the phase lasts, ms (requests still in flight at its end are awaited). */
  durationMs: number
  request: LoadRequestFactory
  /** A request with no answer after this long is an error (`timeout`). @default 10000 */
  timeoutMs?: number
  /**
   * Decides whether an answer is a success. When given, each body is read as text and passed in;
   * without it, bodies are discarded unread and any status below 500 is a success.
   */
  check?: LoadResponseCheck
}

export interface OpenLoopOptions extends CommonOptions {
  /** Fixed arrival rate, requests per second, independent of how fast answers come back. */
  rate: number
  /**
   * Connections, hence requests in flight at most. A request whose scheduled time comes while all
   * of them are busy is not sent and is counted in `unsent` (never queued, never hidden).
   */
  maxInFlight: number
}

export interface ClosedLoopOptions extends CommonOptions {
  /** Connections, each sending its next request as soon as its previous answer is in. */
  connections: number
}

/** Latency percentiles in milliseconds (microsecond resolution). */
export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

/** What a phase did: every scheduled request is sent, unsent or still counted somewhere. */
export interface LoadResult {
  mode: 'open' | 'closed'
  /** The target arrival rate (open loop), null for closed loop. */
  targetRate: number | null
  /** Connections (closed loop) or the in-flight cap (open loop). */
  connections: number
  durationMs: number
  /** Requests whose scheduled time fell inside the phase (open loop), or that were sent (closed). */
  scheduled: number
  sent: number
  /** Scheduled but not sent: all connections were busy at the scheduled time. */
  unsent: number
  /** Answered and accepted by the check. */
  ok: number
  /** Answered but refused by the check, failed on the network, or timed out. */
  errors: number
  /** Error counts by kind: `status:<code>`, `check`, `timeout`, or the network error's code. */
  errorKinds: Record<string, number>
  /** Answer counts by HTTP status. */
  statuses: Record<string, number>
  /** Answers (ok + refused by the check) per second of the phase. */
  throughput: number
  /**
   * Latency of the answered requests: from the scheduled send time (open loop, so a slow
   * generator or a full connection pool shows up as latency) or from the send (closed loop).
   */
  latencyMs: LatencySummary
  /** The HDR histogram of latencies in microseconds, compressed (HdrHistogram base64 format). */
  histogram: string
  /** How far behind schedule the generator itself fell at worst, ms (open loop; 0 for closed). */
  maxScheduleLagMs: number
}

const HIGHEST_US = 120_000_000

function newHistogram (): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false })
}

/** The percentiles of a latency histogram recorded in microseconds, in milliseconds. */
export function summarizeLatency (h: hdr.Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 }
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean)
  }
}

/** Reads a histogram back from `LoadResult.histogram` (e.g. to merge phases). */
export function decodeLatencyHistogram (encoded: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false)
}

class Phase {
  readonly histogram = newHistogram()
  readonly errorKinds: Record<string, number> = {}
  readonly statuses: Record<string, number> = {}
  sent = 0
  ok = 0
  errors = 0
  inFlight = 0
  private readonly pool: Pool
  private readonly timeoutMs: number
  private idle: (() => void) | null = null

  constructor (private readonly options: CommonOptions, connections: number) {
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.pool = new Pool(options.origin, {
      connections,
      pipelining: 1,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000
    })
  }

  /** Sends request `seq`; latency is counted from `fromMs` (performance.now() clock). */
  async send (seq: number, fromMs: number): Promise<void> {
    const spec = this.options.request(seq)
    this.sent++
    this.inFlight++
    try {
      const res = await this.pool.request({
        path: spec.path,
        method: (spec.method ?? (spec.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod,
        headers: spec.headers ?? (spec.body === undefined ? undefined : { 'content-type': 'application/json' }),
        body: spec.body
      })
      let text: string | null = null
      if (this.options.check === undefined) await res.body.dump()
      else text = await res.body.text()
      const tookUs = Math.max(1, Math.round((performance.now() - fromMs) * 1000))
      this.histogram.recordValue(Math.min(tookUs, HIGHEST_US))
      this.count(this.statuses, String(res.statusCode))
      const accepted = this.options.check === undefined ? res.statusCode < 500 : this.options.check(res.statusCode, text, seq)
      if (accepted) this.ok++
      else this.fail(this.options.check === undefined ? `status:${res.statusCode}` : 'check')
    } catch (err) {
      const code = (err as { code?: string }).code
      this.fail(code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : code ?? 'error')
    } finally {
      this.inFlight--
      if (this.inFlight === 0 && this.idle !== null) this.idle()
    }
  }

  /** Resolves when nothing is in flight any more. */
  async drained (): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>(resolve => { this.idle = resolve })
    this.idle = null
  }

  async close (): Promise<void> {
    await this.pool.close()
  }

  result (mode: 'open' | 'closed', extra: { targetRate: number | null, connections: number, scheduled: number, unsent: number, elapsedMs: number, maxScheduleLagMs: number }): LoadResult {
    const answered = Object.values(this.statuses).reduce((a, b) => a + b, 0)
    return {
      mode,
      targetRate: extra.targetRate,
      connections: extra.connections,
      durationMs: Math.round(extra.elapsedMs),
      scheduled: extra.scheduled,
      sent: this.sent,
      unsent: extra.unsent,
      ok: this.ok,
      errors: this.errors,
      errorKinds: this.errorKinds,
      statuses: this.statuses,
      throughput: Math.round(answered / (extra.elapsedMs / 1000) * 10) / 10,
      latencyMs: summarizeLatency(this.histogram),
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
      maxScheduleLagMs: Math.round(extra.maxScheduleLagMs * 10) / 10
    }
  }

  private fail (kind: string): void {
    this.errors++
    this.count(this.errorKinds, kind)
  }

  private count (into: Record<string, number>, key: string): void {
    into[key] = (into[key] ?? 0) + 1
  }
}

function positive (name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`)
}

/**
 * Open loop: requests are scheduled at a fixed arrival rate (request `i` at `start + i / rate`),
 * whatever the answers do, and each latency is measured from its scheduled time, so a stalled
 * server cannot slow the generator down and hide its own latency (no coordinated omission). A
 * request due while `maxInFlight` requests are outstanding is counted as unsent.
 */
export async function runOpenLoop (options: OpenLoopOptions): Promise<LoadResult> {
  positive('rate', options.rate)
  positive('durationMs', options.durationMs)
  positive('maxInFlight', options.maxInFlight)
  const phase = new Phase(options, options.maxInFlight)
  const intervalMs = 1000 / options.rate
  const total = Math.floor(options.durationMs / intervalMs)
  let next = 0
  let unsent = 0
  let maxLag = 0
  const start = performance.now()
  try {
    await new Promise<void>(resolve => {
      const tick = (): void => {
        const now = performance.now()
        while (next < total) {
          const at = start + next * intervalMs
          if (at > now) break
          maxLag = Math.max(maxLag, now - at)
          if (phase.inFlight >= options.maxInFlight) unsent++
          else phase.send(next, at).catch(() => {})
          next++
        }
        if (next >= total) { resolve(); return }
        const wait = start + next * intervalMs - performance.now()
        // setTimeout's floor is about 1 ms: shorter waits yield to I/O and come straight back
        if (wait >= 1) setTimeout(tick, Math.floor(wait))
        else setImmediate(tick)
      }
      tick()
    })
    const elapsed = performance.now() - start
    await phase.drained()
    return phase.result('open', { targetRate: options.rate, connections: options.maxInFlight, scheduled: total, unsent, elapsedMs: Math.max(elapsed, options.durationMs), maxScheduleLagMs: maxLag })
  } finally {
    await phase.close()
  }
}

/**
 * Closed loop: `connections` senders, each sending its next request when its previous answer
 * is in; the throughput this reaches is the server's capacity at that concurrency.
 */
export async function runClosedLoop (options: ClosedLoopOptions): Promise<LoadResult> {
  positive('connections', options.connections)
  positive('durationMs', options.durationMs)
  const phase = new Phase(options, options.connections)
  let seq = 0
  const start = performance.now()
  const end = start + options.durationMs
  try {
    await Promise.all(Array.from({ length: options.connections }, async () => {
      while (performance.now() < end) await phase.send(seq++, performance.now())
    }))
    const elapsed = performance.now() - start
    return phase.result('closed', { targetRate: null, connections: options.connections, scheduled: phase.sent, unsent: 0, elapsedMs: elapsed, maxScheduleLagMs: 0 })
  } finally {
    await phase.close()
  }
}
