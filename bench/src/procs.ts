import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
export { freePort } from '@jit/test-support'

/** A service the benchmark started, with the tail of what it wrote to stderr/stdout. */
export interface Service {
  name: string
  pid: number
  origin: string
  child: ChildProcess
  output: () => string
}

let clockTicks: number | undefined
/** Clock ticks per second of /proc/<pid>/stat (usually 100). */
function ticksPerSecond (): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return clockTicks
}

/** CPU time (user + system) a process has used, ms; null when it is gone. */
export function cpuMs (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may contain spaces) start at state (field 3)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / ticksPerSecond()
  } catch {
    return null
  }
}

/** Pids whose command name is `comm` (e.g. redis-server, beam.smp). */
export function pidsNamed (comm: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** The summed CPU ms of a set of pids (those that have exited count 0). */
export function cpuOf (pids: number[]): Map<number, number> {
  const m = new Map<number, number>()
  for (const pid of pids) m.set(pid, cpuMs(pid) ?? 0)
  return m
}

/** CPU used between two readings, ms, over the pids present in the first. */
export function cpuSpent (before: Map<number, number>, after: Map<number, number>): number {
  let total = 0
  for (const [pid, start] of before) {
    const end = after.get(pid)
    if (end !== undefined && end >= start) total += end - start
  }
  return total
}

/**
 * Starts `node <script>` with `env` and waits until `GET <origin><healthPath>` answers 200.
 * Its output is kept (last 8 KiB) for the error message when it fails.
 */
export async function startService (name: string, script: string, env: Record<string, string>, port: number, opts: { healthPath?: string, nodeArgs?: string[], timeoutMs?: number } = {}): Promise<Service> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const keep = (chunk: Buffer): void => { out = (out + chunk.toString('utf8')).slice(-8192) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const origin = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  let exited: number | null = null
  child.on('exit', code => { exited = code ?? -1 })
  for (;;) {
    if (exited !== null) throw new Error(`${name} exited (${String(exited)}) before it was ready:\n${out}`)
    try {
      const res = await fetch(origin + (opts.healthPath ?? '/health'))
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} was not ready in time:\n${out}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { name, pid: child.pid ?? 0, origin, child, output: () => out }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopService (s: Service, graceMs = 10_000): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  const exited = new Promise<void>(resolve => s.child.once('exit', () => resolve()))
  s.child.kill('SIGTERM')
  const timer = setTimeout(() => s.child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}
