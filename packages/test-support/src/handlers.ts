/**
 * A message handler that fails every call with `failure()`, and how many calls it has seen: for
 * the tests of what a consumer does with such a handler (retried, requeued, dead-lettered once).
 */
export function alwaysFailing (failure: () => Error): { handler: () => Promise<never>, calls: () => number } {
  let calls = 0
  return {
    handler: async () => {
      calls++
      throw failure()
    },
    calls: () => calls
  }
}
