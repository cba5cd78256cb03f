import { randomUUID } from 'node:crypto'
import { Connection } from 'rabbitmq-client'
import type { SimCard } from './messages.js'
import type { OperatorClient } from './operator.js'

/** `command.applied` or `command.rejected`, with its body. */
export interface CommandAnswer { type: string, body: Record<string, unknown> }

/** Sends provisioning commands on `cards.commands` and waits for each one's answer. */
export interface Provisioner {
  command: (type: string, body: Record<string, unknown>, messageId?: string) => Promise<CommandAnswer>
  close: () => Promise<void>
}

/** Thrown when a command is rejected or not answered: names the command and the reason. */
export class CommandError extends Error {
  constructor (readonly commandType: string, readonly reason: string) {
    super(`${commandType}: ${reason}`)
    this.name = 'CommandError'
  }
}

/**
 * Connects to the broker as an internal service would: publishes commands with confirms and
 * listens for their answers on an exclusive queue bound to `command.#` of `cards.events`.
 */
export async function createProvisioner (options: { amqpUrl: string, timeoutMs?: number }): Promise<Provisioner> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const connection = new Connection({ url: options.amqpUrl, connectionName: 'jit-sim', retryLow: 200, retryHigh: 2000 })
  const waiting = new Map<string, (a: CommandAnswer) => void>()
  const consumer = connection.createConsumer({
    queue: `jit-sim-answers-${randomUUID()}`,
    queueOptions: { exclusive: true, autoDelete: true },
    queueBindings: [{ exchange: 'cards.events', routingKey: 'command.#' }]
  }, async (msg) => {
    const body = (typeof msg.body === 'object' && msg.body !== null && !Buffer.isBuffer(msg.body) ? msg.body : JSON.parse(String(msg.body))) as Record<string, unknown>
    const id = String(msg.correlationId ?? body.correlation_id)
    waiting.get(id)?.({ type: msg.routingKey, body })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RabbitMQ at ${redact(options.amqpUrl)} not reachable within ${timeoutMs} ms`)), timeoutMs)
      consumer.once('ready', () => { clearTimeout(timer); resolve() })
    })
  } catch (err) {
    await consumer.close()
    await connection.close()
    throw err
  }
  const publisher = connection.createPublisher({ confirm: true, maxAttempts: 3 })
  return {
    async command (type, body, messageId = randomUUID()) {
      const answer = new Promise<CommandAnswer>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(messageId)
          reject(new CommandError(type, `no answer within ${timeoutMs} ms (is txn-worker running?)`))
        }, timeoutMs)
        waiting.set(messageId, (a) => { clearTimeout(timer); waiting.delete(messageId); resolve(a) })
      })
      await publisher.send({ exchange: 'cards.commands', routingKey: type, messageId, type, contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000), durable: true }, body)
      return await answer
    },
    async close () {
      await publisher.close()
      await consumer.close()
      await connection.close()
    }
  }
}

function redact (url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

/** Fails unless the command was applied. */
export async function applyCommand (p: Provisioner, type: string, body: Record<string, unknown>): Promise<void> {
  const answer = await p.command(type, body)
  if (answer.type !== 'command.applied') throw new CommandError(type, String(answer.body.reason ?? answer.type))
}

/** What one cardholder is provisioned with. */
export interface CardholderSpec extends SimCard {
  /** Decimal string in major units, e.g. `'1000.00'`. */
  funding: string
  currency?: string
  /** `limits.set` fields of the card (decimal strings), e.g. `{ per_transaction: '500.00' }`. */
  cardLimits?: Record<string, unknown>
}

/** An active cardholder with an active card and a funded account, through the AMQP commands. */
export async function provisionCardholder (p: Provisioner, spec: CardholderSpec): Promise<void> {
  const currency = spec.currency ?? 'USD'
  await applyCommand(p, 'user.upsert', { user_token: spec.user, status: 'ACTIVE' })
  await applyCommand(p, 'card.upsert', { card_token: spec.card, user_token: spec.user, status: 'ACTIVE', expiration: '2099-12' })
  await applyCommand(p, 'account.credit', { user_token: spec.user, amount: spec.funding, currency })
  if (spec.cardLimits !== undefined) await applyCommand(p, 'limits.set', { scope: 'card', token: spec.card, currency, ...spec.cardLimits })
}

/** A demo program: its cardholders and cards. */
export interface SeededProgram {
  prefix: string
  currency: string
  cards: SimCard[]
  /** Cardholders created by this run (the others already existed). */
  created: number
}

/** The tokens of the demo program's cardholder `i` (stable, so a second seed finds them). */
export function demoCard (prefix: string, i: number): SimCard {
  const n = String(i + 1).padStart(4, '0')
  return { user: `${prefix}-user-${n}`, card: `${prefix}-card-${n}` }
}

/**
 * Provisions `cardholders` funded cardholders named after `prefix`; one that already has an
 * account (seen through the operator API) is left as it is, so seeding twice changes nothing.
 */
export async function seedProgram (p: Provisioner, operator: OperatorClient, options: { prefix: string, cardholders: number, funding: string, currency?: string, onProgress?: (done: number, total: number) => void }): Promise<SeededProgram> {
  const cards: SimCard[] = []
  let created = 0
  for (let i = 0; i < options.cardholders; i++) {
    const card = demoCard(options.prefix, i)
    cards.push(card)
    if (await operator.account(card.user) === null) {
      await provisionCardholder(p, { ...card, funding: options.funding, currency: options.currency ?? 'USD' })
      created++
    }
    options.onProgress?.(i + 1, options.cardholders)
  }
  return { prefix: options.prefix, currency: options.currency ?? 'USD', cards, created }
}
