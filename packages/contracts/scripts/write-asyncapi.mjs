// Writes the AsyncAPI document of the AMQP contract, generated from the TypeBox schemas the
// services validate with (`pnpm run docs` at the root). test/asyncapi-file.test.ts fails when the
// committed file differs from what the code generates, so the document cannot drift.
// `info.version` is the release version (CHANGELOG.md), which this package's manifest carries.
import { readFileSync, writeFileSync } from 'node:fs'
import { generateAsyncApi } from '../dist/index.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const target = process.argv[2] ?? 'asyncapi.json'
writeFileSync(target, JSON.stringify(generateAsyncApi({ version }), null, 2) + '\n')
console.log(`wrote ${target}`)
