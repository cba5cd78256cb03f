import t from 'tap'
import { COMMAND_TYPES, EVENT_ROUTING_KEYS, EVENT_SCHEMAS, COMMAND_SCHEMAS, generateAsyncApi } from '../src/index.js'

interface Doc {
  asyncapi: string
  info: { version: string }
  servers: Record<string, { url: string, protocol: string, variables?: unknown }>
  channels: Record<string, {
    publish?: { message: { $ref: string } }
    subscribe?: { message: { $ref: string } }
    bindings: { amqp: { exchange: { name: string, type: string } } }
  }>
  components: { messages: Record<string, { name: string, payload: Record<string, unknown> }> }
}

function messageOf (doc: Doc, ref: string | undefined) {
  const name = (ref ?? '').replace('#/components/messages/', '')
  return doc.components.messages[name]
}

t.test('the AsyncAPI document lists every command and event with its payload schema', async (t) => {
  const doc = generateAsyncApi() as unknown as Doc
  t.equal(doc.asyncapi, '2.6.0')
  t.equal(doc.servers.broker?.protocol, 'amqp')

  for (const key of Object.values(EVENT_ROUTING_KEYS)) {
    const channel = doc.channels[key]
    t.ok(channel?.subscribe, `event ${key} is a subscribe channel`)
    t.equal(channel?.bindings.amqp.exchange.name, 'cards.events')
    t.equal(channel?.bindings.amqp.exchange.type, 'topic')
    const message = messageOf(doc, channel?.subscribe?.message.$ref)
    t.equal(message?.name, key)
    t.same(message?.payload, JSON.parse(JSON.stringify(EVENT_SCHEMAS[key])), `${key} payload is the TypeBox schema`)
  }
  for (const type of COMMAND_TYPES) {
    const channel = doc.channels[type]
    t.ok(channel?.publish, `command ${type} is a publish channel`)
    t.equal(channel?.bindings.amqp.exchange.name, 'cards.commands')
    const message = messageOf(doc, channel?.publish?.message.$ref)
    t.equal(message?.name, type)
    t.same(message?.payload, JSON.parse(JSON.stringify(COMMAND_SCHEMAS[type])), `${type} payload is the TypeBox schema`)
  }
  t.ok(doc.channels['webhook.transactions.{type}'], 'webhook transactions channel')
  t.ok(doc.channels['webhook.{family}.{type}'], 'generic webhook channel')
  t.equal(Object.keys(doc.channels).length, Object.keys(EVENT_SCHEMAS).length + COMMAND_TYPES.length + 2, 'nothing else')

  // Every $ref resolves, and the document is plain JSON (no TypeBox symbols or functions).
  const text = JSON.stringify(doc)
  for (const m of text.matchAll(/"\$ref":"#\/components\/messages\/([^"]+)"/g)) t.ok(doc.components.messages[m[1] ?? ''], `ref ${m[1]} resolves`)
  t.same(JSON.parse(text), doc, 'round-trips through JSON unchanged')
})

t.test('options', async (t) => {
  const doc = generateAsyncApi({ version: '2.1.0', serverUrl: 'amqp://broker.internal:5672/prod' }) as unknown as Doc
  t.equal(doc.info.version, '2.1.0')
  t.equal(doc.servers.broker?.url, 'amqp://broker.internal:5672/prod')
  t.notOk(doc.servers.broker?.variables, 'no vhost variable when the url has none')
  t.ok((generateAsyncApi() as unknown as Doc).servers.broker?.variables, 'a vhost variable by default')
})
