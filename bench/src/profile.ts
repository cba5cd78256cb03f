import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }

/** The functions with the most self time in the V8 CPU profiles of a directory, by share of samples. */
export function topSelfTime (dir: string, top = 25): Array<{ fn: string, share: number }> {
  const byFn = new Map<string, number>()
  let total = 0
  for (const file of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] }
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0
      if (hits === 0) continue
      const url = n.callFrame.url.replace(/^.*node_modules\/\.pnpm\/([^/]+)\/.*\/([^/]+)$/, '$1/$2').replace(/^file:\/\/.*\/(packages|services)\//, '$1/')
      const fn = `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName} ${url}:${n.callFrame.lineNumber + 1}`
      byFn.set(fn, (byFn.get(fn) ?? 0) + hits)
      total += hits
    }
  }
  return [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, hits]) => ({ fn, share: Math.round(hits / Math.max(1, total) * 1000) / 10 }))
}
