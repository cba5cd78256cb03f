import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

/**
 * Where a service's committed OpenAPI document lives: `docs/openapi/<service>.json` at the
 * repository root (this file sits in `src/` or `dist/`, both one level below the package).
 */
export function openApiDocumentPath (service: string): string {
  return fileURLToPath(new URL(`../../../docs/openapi/${service}.json`, import.meta.url))
}

/** The document an app generates from its route schemas, as plain JSON. */
export async function generatedDocument (app: FastifyInstance): Promise<Record<string, unknown>> {
  await app.ready()
  return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>
}

/** The committed document of a service. */
export function committedDocument (service: string): Record<string, unknown> {
  return JSON.parse(readFileSync(openApiDocumentPath(service), 'utf8')) as Record<string, unknown>
}

/**
 * Writes the app's document to `docs/openapi/<service>.json` (what `pnpm run docs` runs for each
 * service), then closes the app and whatever else `close` releases. Returns the path written.
 * The services' drift tests compare the committed file with {@link generatedDocument}.
 */
export async function writeOpenApiDocument (app: FastifyInstance, service: string, close: () => Promise<unknown> = async () => {}): Promise<string> {
  const target = openApiDocumentPath(service)
  try {
    const document = await generatedDocument(app)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, JSON.stringify(document, null, 2) + '\n')
    return target
  } finally {
    await app.close()
    await close()
  }
}
