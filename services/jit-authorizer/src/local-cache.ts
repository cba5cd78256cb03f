import type { Cache, CacheEntryKey, CacheKind } from '@jit/redis'

export interface LocalCacheOptions {
  /** How long an entry is served from memory, ms. */
  ttlMs: number
  /** Most entries kept; the oldest go first. */
  maxEntries: number
}

/** Loads the entries of a read that neither memory nor Redis had: their indexes, their values in that order. */
export type MissingLoader<T> = (missing: number[]) => Promise<ReadonlyArray<T | null>>

export interface LocalCache {
  /**
   * The values of `entries`, in order: from memory where fresh, the rest in one Redis read (and
   * one `load` call for what Redis lacks). When every entry is in memory and already loaded, the
   * answer is returned at once, not as a promise: a decision on warm data makes no round trip,
   * arms no timer and awaits nothing.
   */
  getMany: <T>(entries: readonly CacheEntryKey[], load: MissingLoader<T>) => Array<T | null> | Promise<Array<T | null>>
  /** Serves `value` from memory from now on (read fresh from the source of truth). */
  put: (kind: CacheKind, key: string, value: unknown) => void
  /** Drops the entry here and tombstones it in Redis. */
  invalidate: (kind: CacheKind, key: string) => Promise<boolean>
  size: () => number
}

interface Entry {
  at: number
  /** The value once known. */
  value: unknown
  /** The read still in flight (concurrent misses of one key share it); null once settled. */
  pending: Promise<unknown> | null
}

const idOf = (kind: CacheKind, key: string): string => `${kind}\u0000${key}`

/**
 * An in-process layer in front of the Redis cache: users, cards and limits are read from memory
 * for a few seconds. It cannot change an answer: the decision statement re-validates every
 * revision read here, so a stale entry costs a retry on fresh data, and the decider replaces the
 * entries it found stale. Concurrent misses of one key share one Redis read.
 */
export function createLocalCache (redis: Pick<Cache, 'getManyOrLoad' | 'invalidate'>, opts: LocalCacheOptions): LocalCache {
  const entries = new Map<string, Entry>()

  function store (id: string, entry: Entry): void {
    // re-inserted, so the Map's order stays oldest first
    entries.delete(id)
    entries.set(id, entry)
    if (entries.size <= opts.maxEntries) return
    for (const old of entries.keys()) {
      if (entries.size <= opts.maxEntries) break
      entries.delete(old)
    }
  }

  function getMany<T> (wanted: readonly CacheEntryKey[], load: MissingLoader<T>): Array<T | null> | Promise<Array<T | null>> {
    const now = Date.now()
    const out = new Array<T | null>(wanted.length)
    let missing: number[] | null = null
    let waiting: Array<Promise<void>> | null = null
    for (let i = 0; i < wanted.length; i++) {
      const w = wanted[i] as CacheEntryKey
      const hit = entries.get(idOf(w.kind, w.key))
      if (hit === undefined || now - hit.at >= opts.ttlMs) (missing ??= []).push(i)
      else if (hit.pending === null) out[i] = hit.value as T
      else (waiting ??= []).push(hit.pending.then(v => { out[i] = v as T }))
    }
    if (missing === null && waiting === null) return out
    const reads = waiting ?? []
    if (missing !== null) {
      const asked = missing
      const read = redis.getManyOrLoad<T>(asked.map(i => wanted[i] as CacheEntryKey), async m => await load(m.map(j => asked[j] as number)))
      asked.forEach((i, j) => {
        const w = wanted[i] as CacheEntryKey
        const id = idOf(w.kind, w.key)
        const entry: Entry = { at: now, value: undefined, pending: null }
        entry.pending = read.then(values => {
          const value = values[j] ?? null
          // a failed or empty read is not remembered (a card created a moment later is seen at once)
          if (value === null) { if (entries.get(id) === entry) entries.delete(id) } else {
            entry.value = value
            entry.pending = null
          }
          return value
        }, (err: unknown) => {
          if (entries.get(id) === entry) entries.delete(id)
          throw err
        })
        store(id, entry)
        reads.push(entry.pending.then(v => { out[i] = v as T }))
      })
    }
    return Promise.all(reads).then(() => out)
  }

  return {
    getMany,
    put (kind, key, value) {
      store(idOf(kind, key), { at: Date.now(), value, pending: null })
    },
    async invalidate (kind, key) {
      entries.delete(idOf(kind, key))
      return await redis.invalidate(kind, key)
    },
    size: () => entries.size
  }
}
