/** Resolves after `ms` milliseconds. */
export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * Polls `check` every 25 ms until it returns a value other than `false`, `null` or `undefined`,
 * and resolves to that value; throws `timed out after N ms waiting for <what>` when `timeoutMs`
 * passes first. For things that must happen (a message arrives, a row appears).
 */
export async function waitFor<T> (check: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/**
 * Polls `check` every 25 ms until it returns true or `timeoutMs` passes, checking once more at
 * the end; resolves to the last answer instead of throwing, for `t.ok(await eventually(...))`.
 */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(25)
  }
  return await check()
}
