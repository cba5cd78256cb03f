/** One hold-expiry override: MCCs `from`..`to` (inclusive) keep holds open `days` days. */
export interface MccDays {
  from: number
  to: number
  days: number
}

const ENTRY = /^(\d{4})(?:-(\d{4}))?:(\d{1,3})$/
const MAX_DAYS = 365

/**
 * Parses a hold-expiry override list such as `3351-3441:30,3501-3999:30,7011:30`: comma-separated
 * entries of a 4-digit MCC or an inclusive MCC range, a colon and a number of days (1..365).
 * `none` means an empty list (an empty variable falls back to the default instead).
 * Overlapping ranges are refused because the hold expiry of an MCC in both would be ambiguous.
 *
 * @throws Error naming the first malformed entry.
 */
export function parseMccDays (value: string): MccDays[] {
  if (value.trim() === 'none') return []
  const entries: MccDays[] = []
  for (const raw of value.split(',')) {
    const entry = raw.trim()
    const match = ENTRY.exec(entry)
    if (match === null) {
      throw new Error(`entry '${entry}' must be MCC:days or MCC-MCC:days with 4-digit MCCs`)
    }
    const from = Number(match[1])
    const to = match[2] === undefined ? from : Number(match[2])
    const days = Number(match[3])
    if (to < from) throw new Error(`entry '${entry}' has a range that ends before it starts`)
    if (days < 1 || days > MAX_DAYS) throw new Error(`entry '${entry}' must have 1 to ${MAX_DAYS} days`)
    const overlap = entries.find(e => from <= e.to && e.from <= to)
    if (overlap !== undefined) {
      throw new Error(`entry '${entry}' overlaps ${overlap.from}-${overlap.to}`)
    }
    entries.push({ from, to, days })
  }
  return entries
}
