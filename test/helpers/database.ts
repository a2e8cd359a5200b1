// A fresh database per test file (or per test), copied from the run's template and removed at teardown.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { openDatabase, type Database } from '../../src/db/client.js'
import { adminConnection, pgliteTemplateDir, preparePgliteTemplate, preparePostgresTemplate, postgresTemplateName, testDatabaseUrl, urlForDatabase } from './template.js'

export interface TestDatabase {
  kind: 'pglite' | 'postgres'
  /** Set on PostgreSQL: the URL other processes and app instances can share. */
  databaseUrl: string | undefined
  /** The JACK_DATA_DIR to use (the PGlite copy lives here). */
  dataDir: string
  open: () => Promise<Database>
}

export async function createTestDatabase (t: Test): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-test-'))
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  if (testDatabaseUrl === undefined) {
    await preparePgliteTemplate()
    fs.cpSync(path.join(pgliteTemplateDir, 'pg'), path.join(dataDir, 'pg'), { recursive: true })
    return { kind: 'pglite', databaseUrl: undefined, dataDir, open: async () => await openDatabase({ dataDir }) }
  }
  const serverUrl = testDatabaseUrl
  await preparePostgresTemplate(serverUrl)
  const name = `${postgresTemplateName}_${randomBytes(6).toString('hex')}`
  const admin = adminConnection(serverUrl)
  try {
    await admin.unsafe(`create database "${name}" template "${postgresTemplateName}"`)
  } finally {
    await admin.end()
  }
  t.teardown(async () => {
    const dropper = adminConnection(serverUrl)
    try {
      await dropper.unsafe(`drop database if exists "${name}" with (force)`)
    } finally {
      await dropper.end()
    }
  })
  const databaseUrl = urlForDatabase(serverUrl, name)
  return { kind: 'postgres', databaseUrl, dataDir, open: async () => await openDatabase({ databaseUrl, dataDir, poolSize: 5 }) }
}
