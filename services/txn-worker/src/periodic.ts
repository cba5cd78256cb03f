import type { Logger } from 'pino'

/** A background loop started by {@link startPeriodic}. */
export interface PeriodicTask {
  /** Stops scheduling and waits for the round in flight. */
  stop: () => Promise<void>
}

/**
 * Runs `run` every `intervalMs` (measured from the end of a round, so rounds never overlap) until
 * stopped. A failing round is logged and the loop goes on: the next round retries.
 */
export function startPeriodic (opts: { name: string, intervalMs: number, run: () => Promise<unknown>, logger: Logger }): PeriodicTask {
  const { name, intervalMs, run, logger } = opts
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let current: Promise<void> | undefined

  function schedule (): void {
    if (stopped) return
    timer = setTimeout(() => {
      timer = undefined
      current = run()
        .then(() => undefined, (err: unknown) => { logger.error({ err, task: name }, 'periodic task failed') })
        .finally(() => {
          current = undefined
          schedule()
        })
    }, intervalMs)
  }
  schedule()

  return {
    async stop () {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      await current
    }
  }
}
