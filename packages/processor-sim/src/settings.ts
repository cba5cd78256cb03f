import { parseCredentials, type Credentials } from './processor.js'
import type { Environment } from '@jit/config'

/**
 * Where the simulator finds the services and which credentials it presents: the services' own
 * variables (JIT_BASIC_AUTH, WEBHOOK_BASIC_AUTH, WEBHOOK_HMAC_SECRET, OPERATOR_BASIC_AUTH,
 * AMQP_URL) from the environment or the root `.env`, so it speaks to them as configured; the
 * services' addresses come from command-line options.
 */
export interface SimSettings {
  gatewayUrl: string
  ingestUrl: string
  workerUrl: string
  amqpUrl: string
  jitCredentials: Credentials
  webhookCredentials: Credentials
  operatorCredentials: Credentials
  webhookSecret: string
  deadlineMs: number
}

export const DEFAULT_URLS = Object.freeze({
  gateway: 'http://127.0.0.1:3001',
  ingest: 'http://127.0.0.1:3002',
  worker: 'http://127.0.0.1:3003'
})

function credentials (env: Environment, name: string): Credentials {
  const value = env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set (the simulator presents the same credentials the services expect; copy .env.example to .env)`)
  try {
    return parseCredentials(value)
  } catch {
    throw new Error(`${name} must be user:password`)
  }
}

export function readSimSettings (env: Environment, urls: { gateway?: string, ingest?: string, worker?: string, deadlineMs?: number } = {}): SimSettings {
  return {
    gatewayUrl: urls.gateway ?? DEFAULT_URLS.gateway,
    ingestUrl: urls.ingest ?? DEFAULT_URLS.ingest,
    workerUrl: urls.worker ?? DEFAULT_URLS.worker,
    amqpUrl: env.AMQP_URL === undefined || env.AMQP_URL === '' ? 'amqp://guest:guest@127.0.0.1:5672' : env.AMQP_URL,
    jitCredentials: credentials(env, 'JIT_BASIC_AUTH'),
    webhookCredentials: credentials(env, 'WEBHOOK_BASIC_AUTH'),
    operatorCredentials: credentials(env, 'OPERATOR_BASIC_AUTH'),
    webhookSecret: env.WEBHOOK_HMAC_SECRET ?? '',
    deadlineMs: urls.deadlineMs ?? 3000
  }
}
