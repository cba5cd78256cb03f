// Writes the AsyncAPI document of the AMQP contract, generated from the TypeBox schemas the
// services validate with (`pnpm run docs` at the root). test/asyncapi-file.test.ts fails when the
// committed file differs from what the code generates, so the document cannot drift.
import { writeFileSync } from 'node:fs'
import { generateAsyncApi } from '../dist/index.js'

const target = process.argv[2] ?? 'asyncapi.json'
writeFileSync(target, JSON.stringify(generateAsyncApi(), null, 2) + '\n')
console.log(`wrote ${target}`)
