#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { readEnvFile } from '@jit/config'
import { runSimCli } from './run-cli.js'

// The entry point of `jit-sim`: configuration from the environment (and .env), output to the terminal.
const stopSignal = new Promise<void>(resolve => {
  process.once('SIGINT', () => { resolve() })
  process.once('SIGTERM', () => { resolve() })
})
// like scripts/start and pnpm dev: .env when present, else the local-development .env.example
const envFile = existsSync('.env') || !existsSync('.env.example') ? '.env' : '.env.example'
process.exitCode = await runSimCli(process.argv.slice(2), {
  env: readEnvFile(envFile),
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) },
  interactive: process.stderr.isTTY,
  stopSignal
})
// open handles (keep-alive sockets of fetch) must not keep a finished command alive
process.exit(process.exitCode)
