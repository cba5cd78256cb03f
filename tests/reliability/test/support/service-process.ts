import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, openSync, readSync, closeSync, statSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../../', import.meta.url))

/**
 * One service as production runs it: `node services/<name>/dist/server.js`, configured by its
 * environment only, its stdout and stderr appended to `logFile` (scanned for secrets later).
 * Started and killed by the fault suite; never left running after the test.
 */
export class ServiceProcess {
  readonly origin: string
  private child: ChildProcess | undefined
  private log: WriteStream | undefined
  starts = 0
  /** Exits nobody asked for, with the error the process logged last; each was restarted. */
  readonly crashes: Array<{ at: number, reason: string }> = []
  private closing = false
  private startMark = 0

  constructor (readonly name: 'jit-authorizer' | 'webhook-ingest' | 'txn-worker', readonly port: number, private readonly env: Record<string, string>, readonly logFile: string) {
    this.origin = `http://127.0.0.1:${port}`
  }

  get pid (): number | undefined {
    return this.child?.pid
  }

  /** Starts the process and waits until its `GET /health` answers 200. */
  async start (timeoutMs = 60_000): Promise<void> {
    const server = join(root, 'services', this.name, 'dist', 'server.js')
    if (!existsSync(server)) throw new Error(`${server} is missing: scripts/test builds the services before the tests (pnpm build)`)
    this.log ??= createWriteStream(this.logFile, { flags: 'a' })
    this.startMark = this.outputMark()
    const child = spawn(process.execPath, [server], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...this.env, HOST: '127.0.0.1', PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    this.starts++
    child.stdout?.pipe(this.log, { end: false })
    child.stderr?.pipe(this.log, { end: false })
    // Deployments restart a service that exits (docker-compose `restart: unless-stopped`): so does
    // this supervisor, after recording the crash. kill() and close() detach the child first.
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.closing) return
      this.child = undefined
      this.crashes.push({ at: Date.now(), reason: `exit ${code ?? signal ?? '?'}: ${this.lastError()}` })
      setTimeout(() => { if (!this.closing) this.start().catch(() => {}) }, 500)
    })
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode} while starting (see ${this.logFile})`)
      const status = await fetch(`${this.origin}/health`).then(r => r.status, () => 0)
      if (status === 200) return
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`${this.name} did not answer /health within ${timeoutMs} ms (see ${this.logFile})`)
  }

  /** Sends a signal and waits for the process to exit (SIGKILL: a crash; SIGTERM: a shutdown). */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>(resolve => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process: a decision that takes longer than the deadline. */
  signal (signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child?.kill(signal)
  }

  /** The message of the last error the process logged since it started (why it exited). */
  private lastError (): string {
    let reason = 'no error logged'
    const lines = this.outputSince(this.startMark).split('\n')
    // the error the process shut down for, when it said so; else the last error it logged
    const fatal = lines.filter(l => l.includes('"shutting down after an error"'))
    for (const line of fatal.length > 0 ? fatal : lines) {
      if (!line.includes('"level":50') && !line.includes('"level":60')) continue
      try {
        const entry = JSON.parse(line) as { msg?: string, err?: { message?: string, stack?: string } }
        reason = `${entry.msg ?? ''}: ${entry.err?.message ?? ''} ${(entry.err?.stack ?? '').split('\n')[1]?.trim() ?? ''}`
      } catch {}
    }
    return reason
  }

  /** The size of the captured output so far: a mark for {@link ServiceProcess.outputSince}. */
  outputMark (): number {
    return existsSync(this.logFile) ? statSync(this.logFile).size : 0
  }

  /** The output written since `mark`. */
  outputSince (mark: number): string {
    const size = this.outputMark()
    if (size <= mark) return ''
    const buffer = Buffer.alloc(size - mark)
    const fd = openSync(this.logFile, 'r')
    try { readSync(fd, buffer, 0, buffer.length, mark) } finally { closeSync(fd) }
    return buffer.toString('utf8')
  }

  /**
   * Requests this service itself answered after `ms` (Fastify's `responseTime`, from the request's
   * arrival to its answer, in its own log lines since `mark`): the server's view of lateness,
   * without the delays of a client starved of CPU. Each with the error it logged, if any.
   */
  lateAnswers (mark: number, ms: number): string[] {
    const errors = new Map<string, string>()
    const late: string[] = []
    for (const line of this.outputSince(mark).split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        const entry = JSON.parse(line) as { reqId?: string, msg?: string, responseTime?: number, err?: { message?: string }, res?: { statusCode?: number } }
        if (entry.reqId === undefined) continue
        if (entry.err?.message !== undefined) errors.set(entry.reqId, `${entry.msg ?? ''}: ${entry.err.message}`)
        if (entry.msg === 'request completed' && typeof entry.responseTime === 'number' && entry.responseTime > ms) {
          late.push(`${Math.round(entry.responseTime)} ms, ${entry.res?.statusCode ?? '?'}, ${errors.get(entry.reqId) ?? 'no error logged'}`)
        }
      } catch {}
    }
    return late
  }

  async close (): Promise<void> {
    this.closing = true
    if (this.child !== undefined) this.child.kill('SIGCONT')
    await this.kill('SIGTERM')
    await new Promise<void>(resolve => { if (this.log === undefined) resolve(); else this.log.end(() => resolve()) })
    this.log = undefined
  }
}
