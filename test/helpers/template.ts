// One migrated database per test run, copied for each test file: PGlite data directories on disk, PostgreSQL via CREATE DATABASE … TEMPLATE.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { migrationsFolder, openDatabase, pgliteDirectory } from '../../src/db/client.js'

/** A server URL for the PostgreSQL runs (any database on it); unset = PGlite. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL === '' ? undefined : process.env.TEST_DATABASE_URL

function migrationsHash (): string {
  const hash = createHash('sha256')
  for (const file of fs.readdirSync(migrationsFolder, { recursive: true }).map(String).sort()) {
    const full = path.join(migrationsFolder, file)
    if (fs.statSync(full).isFile()) hash.update(file).update(fs.readFileSync(full))
  }
  return hash.digest('hex').slice(0, 12)
}

const hash = migrationsHash()
export const pgliteTemplateDir = path.join(os.tmpdir(), `jack-test-template-${hash}`)
// Test processes and the before/after scripts are all children of one tap
// runner, so its pid names this run's template: concurrent runs never share one.
export const postgresTemplateName = `jack_test_${hash}_${process.ppid}`

export function urlForDatabase (serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A connection to the server's maintenance database, for CREATE/DROP DATABASE. */
export function adminConnection (serverUrl: string): postgres.Sql {
  return postgres(urlForDatabase(serverUrl, 'postgres'), { max: 1, onnotice: () => {} })
}

export async function preparePgliteTemplate (): Promise<void> {
  if (fs.existsSync(path.join(pgliteTemplateDir, 'pg', 'PG_VERSION'))) return
  const building = `${pgliteTemplateDir}.building-${process.pid}`
  fs.rmSync(building, { recursive: true, force: true })
  const database = await openDatabase({ dataDir: building })
  await database.close()
  try {
    fs.renameSync(building, pgliteTemplateDir)
  } catch {
    fs.rmSync(building, { recursive: true, force: true }) // another run finished first
  }
}

/** Creates and migrates this run's template unless it exists; safe to call from parallel test files. */
export async function preparePostgresTemplate (serverUrl: string): Promise<void> {
  const admin = adminConnection(serverUrl)
  try {
    await admin`select pg_advisory_lock(7271000099)`
    const [existing] = await admin`select 1 from pg_database where datname = ${postgresTemplateName}`
    if (existing !== undefined) return
    // Built under another name and renamed, so a half-migrated template is never used.
    const building = `${postgresTemplateName}_building`
    await admin.unsafe(`drop database if exists "${building}" with (force)`)
    await admin.unsafe(`create database "${building}"`)
    const database = await openDatabase({ databaseUrl: urlForDatabase(serverUrl, building), dataDir: '', poolSize: 1 })
    await database.close()
    await admin.unsafe(`alter database "${building}" rename to "${postgresTemplateName}"`)
  } finally {
    await admin.end()
  }
}

export async function dropPostgresTemplate (serverUrl: string): Promise<void> {
  const admin = adminConnection(serverUrl)
  try {
    await admin.unsafe(`drop database if exists "${postgresTemplateName}" with (force)`)
  } finally {
    await admin.end()
  }
}

export { pgliteDirectory }
