import type { Cache, CacheKind } from '@jit/redis'

export interface LocalCacheOptions {
  /** How long an entry is served from memory, ms. */
  ttlMs: number
  /** Most entries kept; the oldest go first. */
  maxEntries: number
}

/** The part of the cache the decider reads through. */
export type ReadThroughCache = Pick<Cache, 'getOrLoad' | 'invalidate'>

/**
 * An in-process layer in front of the Redis cache: users, cards and limits are read from memory
 * for a few seconds. It cannot change an answer: the decision statement re-validates every
 * revision read here, so a stale entry costs a retry on fresh data, and the decider drops the
 * entries it found stale. Concurrent misses of one key share one Redis read.
 */
export function createLocalCache (redis: Cache, opts: LocalCacheOptions): ReadThroughCache & { size: () => number } {
  const entries = new Map<string, { at: number, value: Promise<unknown> }>()

  function evict (): void {
    for (const key of entries.keys()) {
      if (entries.size <= opts.maxEntries) break
      entries.delete(key)
    }
  }

  return {
    async getOrLoad<T> (kind: CacheKind, key: string, load: () => Promise<T | null>): Promise<T | null> {
      const id = `${kind}\u0000${key}`
      const now = Date.now()
      const hit = entries.get(id)
      if (hit !== undefined && now - hit.at < opts.ttlMs) return await (hit.value as Promise<T | null>)
      const value = redis.getOrLoad(kind, key, load)
      entries.delete(id)
      entries.set(id, { at: now, value })
      if (entries.size > opts.maxEntries) evict()
      // a failed or empty read is not remembered (a card created a moment later is seen at once)
      const forget = (): void => { if (entries.get(id)?.value === value) entries.delete(id) }
      value.then(v => { if (v === null) forget() }, forget)
      return await value
    },
    async invalidate (kind: CacheKind, key: string): Promise<boolean> {
      entries.delete(`${kind}\u0000${key}`)
      return await redis.invalidate(kind, key)
    },
    size: () => entries.size
  }
}
