// Builds a jack app on a fresh test database and closes it at teardown; mints orgs and keys for tests.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/db/client.js'
import { createApiKey } from '../../src/keys/api-key.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import type { OrgId } from '../../src/org-id.js'
import { createTestDatabase, type TestDatabase } from './database.js'

export function testConfig (testDatabase: TestDatabase, overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({}),
    logLevel: 'silent',
    databaseUrl: testDatabase.databaseUrl,
    dataDir: testDatabase.dataDir,
    // Tests send far more than 60 requests a minute, and many bad keys from one
    // address; the rate-limit and auth-abuse tests set low limits of their own.
    rateLimit: 1_000_000,
    authFailureLimit: 1_000_000,
    ...overrides
  }
}

export interface TestApp {
  app: FastifyInstance
  database: Database
  testDatabase: TestDatabase
}

export interface TestAppOptions {
  config?: Partial<Config>
  logStream?: DestinationStream
  /** Share an existing test database (a second instance on PostgreSQL). */
  testDatabase?: TestDatabase
}

export async function buildTestApp (t: Test, options: TestAppOptions = {}): Promise<TestApp> {
  const testDatabase = options.testDatabase ?? await createTestDatabase(t)
  const database = await testDatabase.open()
  const app = await buildApp({
    config: testConfig(testDatabase, options.config),
    database,
    ...(options.logStream === undefined ? {} : { logStream: options.logStream })
  })
  // Teardowns run in reverse order: the app closes before its database.
  t.teardown(async () => { await database.close() })
  t.teardown(async () => { await app.close() })
  await app.ready()
  return { app, database, testDatabase }
}

export interface TestOrg {
  orgId: OrgId
  key: string
  keyId: string
}

export async function createOrgWithKey (database: Database, name = 'test org'): Promise<TestOrg> {
  const org = await createOrg(database.db, name)
  const { record, key } = await createApiKey(database.db, org.id, 'test')
  return { orgId: org.id, key, keyId: record.id }
}
