import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { CommonConfig, ConfigError, loadConfig, type Environment } from '@jit/config'
import { createConnections, type Connections } from '@jit/connections'
import { checkLedgerInvariants } from '@jit/ledger'
import { listDeadLetters, redriveDeadLetters } from './dead-letters.js'
import { purgeHistory } from './purge.js'
import { hashOperatorPassword } from '../console/operators.js'
import { processorSetupCommand, reconcileCommand } from './processor-cli.js'

/** Where {@link runCli} reads its configuration and writes its output. */
export interface CliIo {
  env: Environment
  /** The password of `operators hash` is read from here (never from argv, which `ps` shows). @default process.stdin */
  stdin?: NodeJS.ReadableStream
  stdout: (text: string) => void
  stderr: (text: string) => void
}

/** Exit codes of `jit-ops`. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, config: 78 })

const USAGE = `Usage: jit-ops <command> [options]

Commands:
  dead-letters list [--queue <q>] [--limit <n>] [--json]
      Show dead-lettered messages with their failure reasons; they stay in the queue.
  dead-letters redrive --queue <q> [--limit <n>]
      Move dead-lettered messages back to the queue they failed in.
  invariants
      Check the ledger invariants; exits 1 and prints each violation when one is broken.
  purge [--outbox-days <n>] [--effects-days <n>] [--archive]
      Delete published outbox rows, effect keys and processed command ids older than n days
      (effect keys: at least 21), and archived documents past retention.
  operators hash
      Read a password from stdin (first line) and print its scrypt hash for CONSOLE_OPERATORS
      (user:hash,...). Needs no configuration.
  processor setup --base-url <core api> --gateway-url <url> --webhook-url <url> [--timeout-ms <n>] [--name <n>] [--events <e,...>]
      Create the program gateway funding source (JIT_BASIC_AUTH, timeout_millis consistent with
      JIT_DECISION_BUDGET_MS) and the webhook endpoint (WEBHOOK_BASIC_AUTH, WEBHOOK_HMAC_SECRET).
  reconcile --base-url <core api> --from <date> --to <date> [--json]
      Compare the processor's transactions of the period with the ledger: missing events, amount
      mismatches, holds still open after a final clearing or a decline; exits 1 when any.
      Both read the Core API credentials from stdin as application_token:access_token.

Configuration: the service's environment (DATABASE_URL, AMQP_URL, MONGO_URL, ...; .env is read).
`

class UsageError extends Error {}

function positiveInt (name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive whole number, got '${value}'`)
  return Number(value)
}

function parse (argv: string[]): { positionals: string[], values: Record<string, string | boolean | undefined> } {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        queue: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        'outbox-days': { type: 'string' },
        'effects-days': { type: 'string' },
        archive: { type: 'boolean' },
        'base-url': { type: 'string' },
        'gateway-url': { type: 'string' },
        'webhook-url': { type: 'string' },
        'timeout-ms': { type: 'string' },
        name: { type: 'string' },
        events: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
    return { positionals, values }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/**
 * The operations CLI behind `jit-ops`: parses `argv` (without the node and script paths), runs
 * the command against the services' PostgreSQL, RabbitMQ and archive, and resolves the exit code.
 * Never throws: errors are written to `stderr` and mapped to {@link EXIT} codes.
 */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  let command: string
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    ({ positionals, values } = parse(argv))
    command = positionals.join(' ')
    if (values.help === true || command === '' || command === 'help') {
      io.stdout(USAGE)
      return command === '' && values.help !== true ? EXIT.usage : EXIT.ok
    }
    if (!['dead-letters list', 'dead-letters redrive', 'invariants', 'purge', 'operators hash', 'processor setup', 'reconcile'].includes(command)) {
      throw new UsageError(`unknown command '${command}'`)
    }
    if (command === 'dead-letters redrive' && typeof values.queue !== 'string') throw new UsageError('dead-letters redrive needs --queue')
    if (command === 'purge' && values['outbox-days'] === undefined && values['effects-days'] === undefined && values.archive !== true) {
      throw new UsageError('purge needs at least one of --outbox-days, --effects-days, --archive')
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr(`jit-ops: ${err.message}\n\n${USAGE}`)
    return EXIT.usage
  }

  if (command === 'operators hash') return await hashFromStdin(io)
  if (command === 'processor setup') return await processorSetupCommand(values, io, async () => await readFirstLine(io))

  let config
  try {
    config = loadConfig(CommonConfig, io.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`jit-ops: ${err.message}\n`)
      return EXIT.config
    }
    throw err
  }

  const logger = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, base: { service: 'jit-ops' } }, pino.destination(2))
  const needsAmqp = command.startsWith('dead-letters')
  const connections: Connections = createConnections({
    config,
    logger,
    name: 'jit-ops',
    use: { cache: false, amqp: needsAmqp, archive: command === 'purge' && values.archive === true },
    // the CLI inspects; the services migrate and declare (a declare with other retry delays than
    // the vhost's would be refused by the broker)
    migrate: false,
    declareTopology: false,
    postgres: { poolMin: 0, poolMax: 2 }
  })
  try {
    await connections.start()
    switch (command) {
      case 'dead-letters list': {
        const letters = await listDeadLetters(connections.amqp, {
          ...(typeof values.queue === 'string' ? { queue: values.queue } : {}),
          limit: positiveInt('limit', values.limit as string | undefined) ?? 100
        })
        if (values.json === true) {
          io.stdout(JSON.stringify(letters, null, 2) + '\n')
        } else {
          io.stdout(`${letters.length} dead-lettered message(s)\n`)
          for (const l of letters) {
            io.stdout(`${l.deadQueue}\t${l.messageId ?? '-'}\t${l.routingKey ?? '-'}\tretries=${l.retryCount}\treason=${l.reason ?? '-'}\n`)
          }
        }
        return EXIT.ok
      }
      case 'dead-letters redrive': {
        const limit = positiveInt('limit', values.limit as string | undefined)
        const result = await redriveDeadLetters(connections.amqp, { queue: values.queue as string, ...(limit === undefined ? {} : { limit }) })
        io.stdout(`${result.redriven} message(s) moved from ${result.deadQueue}: ${JSON.stringify(result.byQueue)}\n`)
        const unroutable = Object.values(result.unroutable).reduce((a, b) => a + b, 0)
        if (unroutable + result.unencodable === 0) return EXIT.ok
        if (unroutable > 0) io.stderr(`jit-ops: ${unroutable} message(s) left in ${result.deadQueue}, their queue does not exist: ${JSON.stringify(result.unroutable)}\n`)
        if (result.unencodable > 0) io.stderr(`jit-ops: ${result.unencodable} message(s) left in ${result.deadQueue}, their body cannot be re-encoded\n`)
        return EXIT.failed
      }
      case 'reconcile':
        return await reconcileCommand(connections.db, values, io, async () => await readFirstLine(io))
      case 'invariants': {
        const violations = await checkLedgerInvariants(connections.db.sql)
        if (violations.length === 0) {
          io.stdout('ledger invariants hold\n')
          return EXIT.ok
        }
        io.stdout(`${violations.length} ledger invariant violation(s)\n`)
        for (const v of violations) io.stdout(`${v.invariant}\t${JSON.stringify(v.detail)}\n`)
        return EXIT.failed
      }
      default: {
        const outboxDays = positiveInt('outbox-days', values['outbox-days'] as string | undefined)
        const effectsDays = positiveInt('effects-days', values['effects-days'] as string | undefined)
        const result = await purgeHistory(
          { db: connections.db, ...(values.archive === true ? { archive: connections.archive } : {}) },
          { ...(outboxDays === undefined ? {} : { outboxDays }), ...(effectsDays === undefined ? {} : { effectsDays }), archive: values.archive === true }
        )
        io.stdout(`purged: ${JSON.stringify(result)}\n`)
        return EXIT.ok
      }
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof RangeError) {
      io.stderr(`jit-ops: ${err.message}\n`)
      return EXIT.usage
    }
    io.stderr(`jit-ops: ${err instanceof Error ? err.message : String(err)}\n`)
    return EXIT.failed
  } finally {
    await connections.close()
  }
}

/** The first line of stdin (secrets are read there, never from argv). */
async function readFirstLine (io: CliIo): Promise<string> {
  const input = io.stdin ?? process.stdin
  let text = ''
  for await (const chunk of input) {
    text += String(chunk)
    if (text.includes('\n') || text.length > 4096) break
  }
  return text.split(/\r?\n/)[0] ?? ''
}

/** `operators hash`: the first line of stdin, hashed; the password itself is never printed. */
async function hashFromStdin (io: CliIo): Promise<number> {
  const password = await readFirstLine(io)
  if (password === '') {
    io.stderr('jit-ops: operators hash reads the password from stdin, e.g. `read -rs P && printf "%s\\n" "$P" | jit-ops operators hash`\n')
    return EXIT.usage
  }
  io.stdout(`${await hashOperatorPassword(password)}\n`)
  return EXIT.ok
}
