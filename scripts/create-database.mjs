#!/usr/bin/env node
// Creates the database named in a PostgreSQL URL when it does not exist yet (local runs).
// Uses psql against the server's `postgres` database, so it needs no package of the workspace.
import { execFileSync } from 'node:child_process'

const target = new URL(process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/jit')
const name = decodeURIComponent(target.pathname.replace(/^\//, ''))
if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
  console.error(`create-database: refusing the database name ${JSON.stringify(name)}`)
  process.exit(2)
}
const admin = new URL(target)
admin.pathname = '/postgres'
const psql = (sql) => execFileSync('psql', [admin.toString(), '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { encoding: 'utf8' }).trim()
if (psql(`select 1 from pg_database where datname = '${name}'`) !== '1') {
  psql(`create database "${name}"`)
  console.log(`created database ${name}`)
}
