/** Thrown by {@link withTimeout} when the work did not settle in time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
}

/**
 * Settles with `work`, or rejects with a {@link TimeoutError} after `ms`. The work itself is not
 * cancelled (none of the clients can cancel a connect or a ping); a late rejection is swallowed
 * so it cannot surface as an unhandled rejection.
 */
export async function withTimeout<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${Math.round(ms)} ms`)), ms)
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** `url` with its password replaced, fit for logs and error messages. */
export function redactUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    // Config validated it already; never echo something unparseable that may hold a secret.
    return '<invalid url>'
  }
}

/** The message of anything thrown, including the `AggregateError` Node gives for dual-stack connects. */
export function errorMessage (err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(e => errorMessage(e)))].join('; ')
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const text = err.message !== '' ? err.message : err.name
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text
  }
  return String(err)
}
