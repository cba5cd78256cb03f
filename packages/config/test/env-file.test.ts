import t from 'tap'
import { join } from 'node:path'
import { readEnvFile, loadConfig, JitAuthorizerConfig } from '../src/index.js'

const FILE = [
  '# a comment',
  'PORT=4001',
  'LOG_LEVEL=debug',
  'JIT_BASIC_AUTH="jit:Str0ng-Secret:with#hash-9f8e7d"',
  'ONLY_IN_FILE=from-file',
  ''
].join('\n')

t.test('the file is merged under the real environment, which wins', async t => {
  const dir = t.testdir({ '.env': FILE })
  const env = readEnvFile(join(dir, '.env'), { PORT: '5001', OTHER: 'real', LOG_LEVEL: undefined })
  t.equal(env.PORT, '5001', 'the real environment wins')
  t.equal(env.LOG_LEVEL, 'debug', 'an undefined real value does not hide the file')
  t.equal(env.ONLY_IN_FILE, 'from-file')
  t.equal(env.OTHER, 'real')
  t.equal(env.JIT_BASIC_AUTH, 'jit:Str0ng-Secret:with#hash-9f8e7d', 'quoted values keep colons and hashes')
  const config = loadConfig(JitAuthorizerConfig, env)
  t.equal(config.PORT, 5001)
  t.equal(config.LOG_LEVEL, 'debug')
})

t.test('process.env is the real environment by default and is never modified', async t => {
  const name = 'JIT_CONFIG_TEST_READ_ENV_FILE'
  const dir = t.testdir({ '.env': `${name}=from-file\n${name}_FILE_ONLY=from-file\n` })
  process.env[name] = 'from-process'
  t.teardown(() => { delete process.env[name] })
  const env = readEnvFile(join(dir, '.env'))
  t.equal(env[name], 'from-process')
  t.equal(env[`${name}_FILE_ONLY`], 'from-file')
  t.equal(process.env[`${name}_FILE_ONLY`], undefined, 'the file does not leak into process.env')
})

t.test('the default path is .env in the current directory', async t => {
  const dir = t.testdir({ '.env': 'JIT_CONFIG_TEST_DEFAULT_PATH=yes\n' })
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  t.equal(readEnvFile(undefined, {}).JIT_CONFIG_TEST_DEFAULT_PATH, 'yes')
})

t.test('a missing file is no error; an unreadable one is', async t => {
  const dir = t.testdir({ sub: {} })
  t.same(readEnvFile(join(dir, 'missing.env'), { A: '1' }), { A: '1' })
  t.throws(() => readEnvFile(join(dir, 'sub'), {}), { code: 'EISDIR' })
})
