/**
 * Parses a comma-separated list of delays in ms such as `AMQP_RETRY_DELAYS_MS=1000,5000,25000`
 * (the schema's pattern has already refused anything but positive integers).
 * @throws Error when an entry is not a positive integer
 */
export function parseDelays (value: string): number[] {
  return value.split(',').map(part => {
    const n = Number(part.trim())
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a delay in ms: ${JSON.stringify(part)}`)
    return n
  })
}
