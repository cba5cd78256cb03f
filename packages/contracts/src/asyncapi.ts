import type { TSchema } from '@sinclair/typebox'
import { COMMAND_SCHEMAS, COMMAND_TYPES, EVENT_SCHEMAS, EXCHANGES, QUEUES, type CommandType, type EventRoutingKey } from './amqp.js'
import { TransactionEvent, WebhookEvent } from './webhook-schemas.js'

/** Options of {@link generateAsyncApi}. */
export interface AsyncApiOptions {
  /** `info.version` of the document (`packages/contracts/scripts/write-asyncapi.mjs` passes the release version). @default '1.0.0' */
  version?: string
  /** Broker URL shown in `servers`. @default 'amqp://localhost:5672/{vhost}' */
  serverUrl?: string
}

/** Plain JSON of a TypeBox schema: drops TypeBox's symbol keys, keeps everything JSON Schema. */
function toJsonSchema (schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
}

function messageName (key: string): string {
  return key.split(/[.{}]/).filter((w) => w !== '').map((w) => w[0]?.toUpperCase() + w.slice(1)).join('')
}

const ENVELOPE = 'Every message: JSON body, content_type application/json, a unique message_id, ' +
  'type equal to its routing key, a timestamp, and correlation_id where it answers a command.'

const EVENT_SUMMARIES: Record<EventRoutingKey, string> = {
  'jit.decision.approved': 'A JIT funding request was approved (a hold or debit exists).',
  'jit.decision.declined': 'A JIT funding request was declined (402 with a decline reason).',
  'jit.decision.answered': 'An informative message or inquiry was answered 200 without a decision.',
  'ledger.hold.placed': 'A hold was opened for a purchase.',
  'ledger.hold.increased': 'An incremental authorization (or a larger confirmation) grew a hold.',
  'ledger.hold.captured': 'A clearing captured part or all of a hold.',
  'ledger.hold.released': 'A reversal, final clearing, decline or operator released a hold\'s remainder.',
  'ledger.hold.expired': 'A hold without activity expired and its remainder was released.',
  'ledger.account.credited': 'Money was posted into an account.',
  'ledger.account.debited': 'Money was posted out of an account.',
  'ledger.account.overdrawn': 'A forced effect took available below zero (or the credit line).',
  'command.applied': 'A command was applied (or acknowledged as stale/duplicate); correlation_id = its message_id.',
  'command.rejected': 'A command was refused and changed nothing; correlation_id = its message_id.'
}

const COMMAND_SUMMARIES: Record<CommandType, string> = {
  'user.upsert': 'Create or update a cardholder (versioned).',
  'card.upsert': 'Create or update a card (versioned).',
  'account.credit': 'Credit an account (account_token or user_token).',
  'account.debit': 'Debit an account; beyond available only with force.',
  'limits.set': 'Replace the spending limits of a user or card.',
  'hold.release': 'Release a purchase\'s hold by hand (audited).'
}

function exchangeBinding (name: string) {
  return {
    amqp: {
      is: 'routingKey',
      exchange: { name, type: 'topic', durable: true, autoDelete: false },
      bindingVersion: '0.2.0'
    }
  }
}

/**
 * The AsyncAPI 2.6 document of the AMQP contract, generated from the same TypeBox schemas the
 * services validate with, so the documentation cannot drift from the code. One channel per
 * routing key; commands are `publish` operations (other services publish them to us), events
 * are `subscribe` operations (other services subscribe to them).
 */
export function generateAsyncApi (opts: AsyncApiOptions = {}): Record<string, unknown> {
  const channels: Record<string, unknown> = {}
  const messages: Record<string, unknown> = {}

  for (const [key, schema] of Object.entries(EVENT_SCHEMAS) as Array<[EventRoutingKey, TSchema]>) {
    const name = messageName(key)
    const answersCommand = key.startsWith('command.')
    messages[name] = {
      name: key,
      title: name,
      summary: EVENT_SUMMARIES[key],
      contentType: 'application/json',
      ...(answersCommand ? { correlationId: { description: 'The command\'s message_id', location: '$message.header#/correlation_id' } } : {}),
      payload: toJsonSchema(schema),
      bindings: { amqp: { messageType: key, bindingVersion: '0.2.0' } }
    }
    channels[key] = {
      description: `${EVENT_SUMMARIES[key]} Published on ${EXCHANGES.events}. ${ENVELOPE}`,
      bindings: exchangeBinding(EXCHANGES.events),
      subscribe: { operationId: `on${name}`, message: { $ref: `#/components/messages/${name}` } }
    }
  }

  for (const type of COMMAND_TYPES) {
    const name = `${messageName(type)}Command`
    messages[name] = {
      name: type,
      title: name,
      summary: COMMAND_SUMMARIES[type],
      contentType: 'application/json',
      payload: toJsonSchema(COMMAND_SCHEMAS[type]),
      bindings: { amqp: { messageType: type, bindingVersion: '0.2.0' } }
    }
    channels[type] = {
      description: `${COMMAND_SUMMARIES[type]} Sent to ${EXCHANGES.commands}, consumed from queue ${QUEUES.commands}; ` +
        `idempotent on message_id, answered by command.applied or command.rejected. ${ENVELOPE}`,
      bindings: exchangeBinding(EXCHANGES.commands),
      publish: { operationId: `send${name}`, message: { $ref: `#/components/messages/${name}` } }
    }
  }

  messages.WebhookTransactionEvent = {
    name: 'webhook.transactions',
    title: 'WebhookTransactionEvent',
    summary: 'One processor transaction event, as received (fields beyond these pass through).',
    contentType: 'application/json',
    payload: toJsonSchema(TransactionEvent)
  }
  messages.WebhookEvent = {
    name: 'webhook',
    title: 'WebhookEvent',
    summary: 'One processor webhook event of any family, as received.',
    contentType: 'application/json',
    payload: toJsonSchema(WebhookEvent)
  }
  channels['webhook.transactions.{type}'] = {
    description: `Each transaction webhook event, split from its batch; the type keeps its dots. Published on ${EXCHANGES.events}. ${ENVELOPE}`,
    parameters: { type: { description: 'The event\'s type, e.g. authorization.clearing', schema: { type: 'string' } } },
    bindings: exchangeBinding(EXCHANGES.events),
    subscribe: { operationId: 'onWebhookTransaction', message: { $ref: '#/components/messages/WebhookTransactionEvent' } }
  }
  channels['webhook.{family}.{type}'] = {
    description: 'Each webhook event of any family; a family without type uses status, then state ' +
      `(webhook.cardtransitions.SUSPENDED). Published on ${EXCHANGES.events}. ${ENVELOPE}`,
    parameters: {
      family: { description: 'Batch property name, e.g. cardtransitions', schema: { type: 'string' } },
      type: { description: 'type, else status, else state, else unknown', schema: { type: 'string' } }
    },
    bindings: exchangeBinding(EXCHANGES.events),
    subscribe: { operationId: 'onWebhookEvent', message: { $ref: '#/components/messages/WebhookEvent' } }
  }

  const url = opts.serverUrl ?? 'amqp://localhost:5672/{vhost}'
  return {
    asyncapi: '2.6.0',
    id: 'urn:jit-funding:amqp',
    info: {
      title: 'JIT funding: AMQP contract',
      version: opts.version ?? '1.0.0',
      description: 'Events on cards.events and commands on cards.commands (topic exchanges, durable), ' +
        'dead-lettering through cards.dlx. ' + ENVELOPE
    },
    servers: {
      broker: {
        url,
        protocol: 'amqp',
        protocolVersion: '0.9.1',
        ...(url.includes('{vhost}') ? { variables: { vhost: { default: '%2F', description: 'One vhost per environment; names inside never change' } } } : {})
      }
    },
    defaultContentType: 'application/json',
    channels,
    components: { messages }
  }
}
