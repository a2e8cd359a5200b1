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
export const postgresTemplateName = `jack_test_${hash}`

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

export async function preparePostgresTemplate (serverUrl: string): Promise<void> {
  const admin = adminConnection(serverUrl)
  try {
    await admin.unsafe(`drop database if exists "${postgresTemplateName}" with (force)`)
    await admin.unsafe(`create database "${postgresTemplateName}"`)
  } finally {
    await admin.end()
  }
  const database = await openDatabase({ databaseUrl: urlForDatabase(serverUrl, postgresTemplateName), dataDir: '', poolSize: 1 })
  await database.close()
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
