import type { Static, TObject } from '@sinclair/typebox'
import { readEnvFile } from './env-file.js'
import { ConfigError, loadConfig, type Environment } from './load.js'

/** The exit status of a process whose configuration is wrong (sysexits' EX_CONFIG). */
export const EXIT_CONFIG = 78

/**
 * A service entry point's configuration: the environment (and `.env`) read once through
 * `schema`. On a {@link ConfigError} it writes `<service>: <every problem>` to stderr and exits
 * with {@link EXIT_CONFIG}, the same in every service (secret values never appear in the
 * message). Any other error is thrown. Only entry points (server.ts, CLIs) call this.
 */
export function loadServiceConfig<T extends TObject> (schema: T, service: string, env: Environment = readEnvFile()): Static<T> {
  try {
    return loadConfig(schema, env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${service}: ${err.message}\n`)
    process.exit(EXIT_CONFIG)
  }
}
