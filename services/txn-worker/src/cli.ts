#!/usr/bin/env node
import { readEnvFile } from '@jit/config'
import { runCli } from './ops/run-cli.js'

// The entry point of `jit-ops`: configuration from the environment (and .env), output to the terminal.
process.exitCode = await runCli(process.argv.slice(2), {
  env: readEnvFile(),
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) }
})
