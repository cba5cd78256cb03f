import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A gateway seen through a slow network: see {@link startSlowGateway}. */
export interface SlowGateway { url: string, close: () => Promise<void> }

/**
 * Forwards every request to `targetOrigin` and holds each answer back for `delayMs` before passing
 * it on: the gateway decides as usual, but its answer reaches the processor late, which is what a
 * slow gateway looks like from the processor's side (and how a late approval happens).
 */
export async function startSlowGateway (targetOrigin: string, delayMs: number): Promise<SlowGateway> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
        if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v
      }
      const forwarded = fetch(new URL(req.url ?? '/', targetOrigin), { method: req.method ?? 'GET', headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) })
        .then(async r => ({ status: r.status, type: r.headers.get('content-type') ?? 'application/json', body: Buffer.from(await r.arrayBuffer()) }))
        .catch(() => ({ status: 502, type: 'text/plain', body: Buffer.from('gateway unreachable') }))
      forwarded.then(answer => {
        setTimeout(() => {
          if (res.destroyed) return
          res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body)
        }, delayMs)
      }, () => {})
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
