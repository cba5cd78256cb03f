import { readFileSync } from 'node:fs'
import { parse } from 'dotenv'
import type { Environment } from './load.js'

/**
 * For server entry points only: the environment with a `.env` file merged underneath it.
 * Variables already set in the real environment win over the file, so a deployment can always
 * override it. A missing file is not an error (production usually has none); an unreadable one is.
 * Nothing is written to `process.env`, and nothing is read at import time.
 *
 * @param path the file to read; defaults to `.env` in the current directory.
 * @param env the real environment; defaults to `process.env`.
 */
export function readEnvFile (path = '.env', env: Environment = process.env): Environment {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...env }
    throw err
  }
  const merged: Environment = { ...parse(text) }
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) merged[name] = value
  }
  return merged
}
