import postgres from 'postgres'
import { uniqueTestName } from './names.js'
import type { Teardownable } from './teardown.js'

/** Where test databases are created; any superuser connection on the shared server. */
export const adminDatabaseUrl = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** The URL of database `name` on the same server as the admin URL. */
export function databaseUrlFor (name: string, base = adminDatabaseUrl): string {
  const url = new URL(base)
  url.pathname = '/' + name
  return url.toString()
}

/**
 * Creates an empty database of its own for one test file and drops it at teardown
 * (WITH (FORCE), so connections a failed test left open do not keep it alive).
 */
export async function createTestDatabase (t: Teardownable, label = 'db'): Promise<string> {
  const name = uniqueTestName(label)
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  t.teardown(async () => {
    const sql = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} })
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    } finally {
      await sql.end({ timeout: 5 })
    }
  })
  return databaseUrlFor(name)
}
