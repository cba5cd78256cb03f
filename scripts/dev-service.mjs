#!/usr/bin/env node
// `pnpm dev` for one service (run from its directory by turbo): reads the root .env (or, when there
// is none, .env.example), runs src/server.ts from source with tsx on the @jit/source condition, so a
// change to the service or to any workspace package it imports restarts it at once, and pretty-prints
// its JSON logs with pino-pretty when DEPLOY_ENV=local. Variables already set in the environment win
// over the file, as in production.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'dotenv'

const root = fileURLToPath(new URL('..', import.meta.url))
const service = basename(process.cwd())
let file = join(root, '.env')
if (!existsSync(file)) {
  file = join(root, '.env.example')
  process.stderr.write(`${service}: no .env at the repository root, using .env.example (cp .env.example .env to change it)\n`)
}
const env = { ...parse(readFileSync(file, 'utf8')) }
for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
// each service keeps its own port when one .env serves all three (an empty PORT is the default)
if (env.PORT === '') delete env.PORT

const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs')
const pretty = env.DEPLOY_ENV === 'local'
const child = spawn(process.execPath, [tsx, 'watch', '--clear-screen=false', '--conditions=@jit/source', 'src/server.ts'], {
  env,
  stdio: ['inherit', pretty ? 'pipe' : 'inherit', 'inherit']
})
if (pretty) {
  const { default: pinoPretty } = await import('pino-pretty')
  child.stdout.pipe(pinoPretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { child.kill(signal) })
// turbo killed without a signal to its children: do not leave the service running as an orphan
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) child.kill('SIGTERM') }, 1000)
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 0 : 1)) })
