import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }

/** A V8 CPU profile (`--cpu-prof`): samples are node ids, timeDeltas µs since the previous one. */
export interface CpuProfile { nodes: ProfileNode[], startTime: number, samples?: number[], timeDeltas?: number[] }

/** A profile node's function, named with a short path (package or service relative). */
function functionName (n: ProfileNode): string {
  const url = n.callFrame.url.replace(/^.*node_modules\/\.pnpm\/([^/]+)\/.*\/([^/]+)$/, '$1/$2').replace(/^file:\/\/.*\/(packages|services)\//, '$1/')
  return `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName} ${url}:${n.callFrame.lineNumber + 1}`
}

/**
 * Self time by function over a window of a profile only (start-up and warm-up left out): the
 * window is in `process.hrtime.bigint()` nanoseconds, the clock V8 stamps its samples with
 * (monotonic, shared by the processes of one machine). `(idle)` is not busy time.
 */
export function windowSelfTime (profile: CpuProfile, fromNs: bigint, toNs: bigint, top = 30): { busyUs: number, sampledUs: number, top: Array<{ fn: string, selfUs: number }> } {
  const from = Number(fromNs / 1000n)
  const to = Number(toNs / 1000n)
  const names = new Map(profile.nodes.map(n => [n.id, functionName(n)]))
  const byFn = new Map<string, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let at = profile.startTime
  let busyUs = 0
  let sampledUs = 0
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0
    // a sample stands for the interval up to the next one
    const span = deltas[i + 1] ?? 0
    if (at < from || at >= to) continue
    sampledUs += span
    const fn = names.get(samples[i] as number) ?? '?'
    if (fn.startsWith('(idle)')) continue
    busyUs += span
    byFn.set(fn, (byFn.get(fn) ?? 0) + span)
  }
  if (sampledUs === 0) throw new Error('no profile sample inside the measured window (are the clocks the same?)')
  return { busyUs, sampledUs, top: [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, selfUs]) => ({ fn, selfUs })) }
}

/** The functions with the most self time in the V8 CPU profiles of a directory, by share of samples. */
export function topSelfTime (dir: string, top = 25): Array<{ fn: string, share: number }> {
  const byFn = new Map<string, number>()
  let total = 0
  for (const file of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] }
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0
      if (hits === 0) continue
      const fn = functionName(n)
      byFn.set(fn, (byFn.get(fn) ?? 0) + hits)
      total += hits
    }
  }
  return [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, hits]) => ({ fn, share: Math.round(hits / Math.max(1, total) * 1000) / 10 }))
}
