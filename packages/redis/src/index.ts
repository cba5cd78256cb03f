/**
 * @packageDocumentation
 * The Redis read-through cache of users, cards and spending limits. Never the authority for
 * money: a slow or dead Redis costs at most the command timeout, then reads go to the loader.
 */
export {
  createCache,
  CacheUnavailableError,
  type Cache,
  type CacheKind,
  type CacheOptions,
  type CacheStats,
  type CacheEntryKey
} from './cache.js'
