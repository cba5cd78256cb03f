import t from 'tap'
import { readFileSync } from 'node:fs'
import { generateAsyncApi } from '../src/index.js'

t.test('docs/asyncapi.json is what the contract schemas generate (run `pnpm run docs` after a change)', async t => {
  const committed = JSON.parse(readFileSync(new URL('../../../docs/asyncapi.json', import.meta.url), 'utf8')) as unknown
  // the script writes it with the release version, which this package's manifest carries
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  t.same(committed, JSON.parse(JSON.stringify(generateAsyncApi({ version }))))
})
