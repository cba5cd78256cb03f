import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** What one fault did, as docs/reliability.md reports it. */
export interface FaultReport {
  fault: string
  requestsSent: number
  /** Due while every connection was busy: not sent at all (the open-loop generator never queues). */
  requestsUnsent: number
  answeredInTime: number
  /** Answered after the processor's deadline (it treats them as no answer): must be 0 but where injected. */
  answeredLate: number
  /** Answered after the deadline by the authorizer's own clock (its log's responseTime). */
  serverLate: number
  /** Those late answers: duration, status and the error logged for the request. */
  serverLateAnswers: string[]
  /** No answer at all (refused connection, reset): the processor's timed-out webhook follows. */
  unanswered: number
  approved: number
  latencyP99Ms: number
  eventsAccepted: number
  eventsApplied: number
  eventsArchived: number
  webhook503: number
  invariantViolations: number
  recoverySeconds: number
  /** Service processes that exited by themselves during the fault (restarted, as a deployment does). */
  crashes: string[]
  seconds: number
}

/**
 * Writes a suite's figures as JSON beside the temporary files (RELIABILITY_REPORT_DIR to keep
 * them elsewhere) and prints them, so a run's numbers can be copied into docs/reliability.md.
 */
export function writeReport (name: string, figures: unknown): string {
  const dir = process.env.RELIABILITY_REPORT_DIR ?? tmpdir()
  const path = join(dir, `jit-reliability-${name}.json`)
  writeFileSync(path, JSON.stringify(figures, null, 2) + '\n')
  return path
}
