// Opens the database jack runs on — embedded PGlite by default, PostgreSQL when DATABASE_URL is set — and migrates it.
import fs from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import type { Logger } from 'drizzle-orm/logger'
import postgres from 'postgres'
import * as schema from './schema.js'
import { lockDataDir } from './data-dir-lock.js'
import { checkServingRole, derivedServingPassword, passwordOf, SERVING_ROLE } from './serving-role.js'
import { packageRoot } from '../package-root.js'
import { DatabaseUnavailableError } from './database-errors.js'
import type { Config } from '../config.js'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export interface DatabaseStats {
  /** Statements sent through Drizzle; tests use it to prove a path issues no SQL. */
  queries: number
}

export interface Database {
  kind: 'pglite' | 'postgres'
  db: Db
  stats: DatabaseStats
  /** Throws when the database does not answer within `timeoutMs`. */
  ping: (timeoutMs: number) => Promise<void>
  /**
   * Subscribes to NOTIFY on `channel`. `onConnect` runs on every (re)connect of
   * the listening connection, so a caller can drop state that may have missed
   * notifications while it was away.
   */
  listen: (channel: string, onMessage: (payload: string) => void, onConnect: () => void) => Promise<() => Promise<void>>
  close: () => Promise<void>
}

export interface OpenOptions {
  databaseUrl?: string | undefined
  /**
   * PostgreSQL: the owner's URL, to migrate with; `databaseUrl` is then the
   * serving login as given. Unset, `databaseUrl` migrates and jack serves as
   * jack_app with credentials derived from it.
   */
  migrationUrl?: string | undefined
  dataDir: string
  poolSize?: number
  migrate?: boolean
  /** PostgreSQL: how long opening a connection may take (default 2 s), so an outage fails requests fast. */
  connectTimeoutMs?: number
  /** PostgreSQL: statement_timeout on every connection (default 30 s; 0 = none), so a stuck statement cannot hold a request forever. */
  statementTimeoutMs?: number
}

const MIGRATION_LOCK_ID = 7_271_000_001
const WORK_MEM = '32MB'
export const migrationsFolder = path.join(packageRoot, 'drizzle')

function countingLogger (stats: DatabaseStats): Logger {
  return { logQuery: () => { stats.queries++ } }
}

export function pgliteDirectory (dataDir: string): string {
  return path.join(dataDir, 'pg')
}

async function openPglite (options: OpenOptions): Promise<Database> {
  const release = lockDataDir(options.dataDir)
  try {
    const directory = pgliteDirectory(options.dataDir)
    fs.mkdirSync(directory, { recursive: true })
    const client = new PGlite(directory)
    await client.waitReady
    const stats: DatabaseStats = { queries: 0 }
    await client.exec(`set work_mem = '${WORK_MEM}'`)
    const db = drizzlePglite(client, { schema, logger: countingLogger(stats) })
    if (options.migrate !== false) await migratePglite(db, { migrationsFolder })
    // PGlite has one user, a superuser, so the role is SET rather than logged
    // in as: row-level security binds everything after this.
    await client.exec(`set role ${SERVING_ROLE}`)
    return {
      kind: 'pglite',
      db: db as unknown as Db,
      stats,
      ping: async (timeoutMs) => { await withTimeout(client.query('select 1'), timeoutMs) },
      listen: async (channel, onMessage, onConnect) => {
        const unlisten = await client.listen(channel, onMessage)
        onConnect()
        return async () => { if (!client.closed) await unlisten() }
      },
      close: async () => {
        if (client.closed) return
        try {
          await client.close()
        } finally {
          release()
        }
      }
    }
  } catch (error) {
    release()
    throw error
  }
}

/**
 * postgres.js's connect timeout is 30 s by default: with the server gone, every
 * request hung that long before failing. Migrations run with no statement
 * timeout (an index build may take long); serving connections with one.
 */
function postgresOptions (options: OpenOptions, serving: boolean): postgres.Options<Record<string, postgres.PostgresType>> {
  const statementTimeoutMs = serving ? options.statementTimeoutMs ?? 30_000 : 0
  return {
    onnotice: () => {},
    connect_timeout: (options.connectTimeoutMs ?? 2000) / 1000,
    connection: {
      application_name: 'jack',
      // BM25 aggregates and sorts every candidate chunk of a query: at 4 MB (the
      // default) a long question over ~100k chunks spilled both to disk
      // (bench/query.ts, EXPLAIN ANALYZE).
      work_mem: WORK_MEM,
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs, idle_in_transaction_session_timeout: Math.max(statementTimeoutMs, 60_000) } : {})
    }
  }
}

/** Errors of a login refused: a role without LOGIN (28000), a wrong password (28P01). */
function isLoginRefused (error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return code === '28000' || code === '28P01'
}

/** Migrates as the owner; several instances may start at once, and one migrates while the rest wait. */
async function migrateAsOwner (owner: postgres.Sql): Promise<void> {
  const reserved = await owner.reserve()
  try {
    await reserved`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    // Drizzle migrates on the pool's other connection while this one holds the lock.
    await migratePostgres(drizzlePostgres(owner), { migrationsFolder })
  } finally {
    await reserved`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
    reserved.release()
  }
}

async function servingRoleFacts (client: postgres.Sql): Promise<Parameters<typeof checkServingRole>[0]> {
  const [row] = await client<Array<{ user: string, superuser: boolean, bypasses_rls: boolean, owns_tables: number, member: boolean }>>`
    select current_user as user, r.rolsuper as superuser, r.rolbypassrls as bypasses_rls,
           (select count(*)::int from pg_tables where schemaname = 'public' and tableowner = current_user) as owns_tables,
           pg_has_role(current_user, ${SERVING_ROLE}, 'usage') as member
    from pg_roles r where r.rolname = current_user`
  if (row === undefined) throw new Error('could not read the serving role')
  return { user: row.user, superuser: row.superuser, bypassesRls: row.bypasses_rls, ownsTables: row.owns_tables, member: row.member }
}

/**
 * Opens the serving pool, logged in as a role row-level security binds: the
 * derived jack_app login (giving the role LOGIN and its password on first use,
 * or after the owner's password changed), or DATABASE_URL's own login, made a
 * member of jack_app if it is not yet. Refuses a login that would bypass the
 * policies.
 */
async function openServingPool (url: string, options: OpenOptions, owner: () => postgres.Sql, max: number): Promise<postgres.Sql> {
  const derived = options.migrationUrl === undefined
  const password = derived ? derivedServingPassword(passwordOf(url)) : undefined
  const open = (): postgres.Sql => postgres(url, { ...postgresOptions(options, true), max, ...(password === undefined ? {} : { username: SERVING_ROLE, password }) })
  let client = open()
  try {
    let facts
    try {
      facts = await servingRoleFacts(client)
    } catch (error) {
      if (!derived || !isLoginRefused(error)) throw error
      await client.end({ timeout: 1 })
      try {
        await owner().unsafe(`alter role ${SERVING_ROLE} with login password '${password ?? ''}'`)
      } catch (alterError) {
        // Instances starting together on several databases of one server (roles are
        // server-wide) race to set the same password: the loser's work is done.
        if ((alterError as { message?: unknown }).message !== 'tuple concurrently updated') throw alterError
      }
      client = open()
      facts = await servingRoleFacts(client)
    }
    if (!derived && !facts.member && !facts.superuser) {
      await owner().unsafe(`grant ${SERVING_ROLE} to "${facts.user.replaceAll('"', '""')}"`)
      facts = await servingRoleFacts(client)
    }
    checkServingRole(facts)
    return client
  } catch (error) {
    await client.end({ timeout: 1 })
    throw error
  }
}

async function openPostgres (url: string, options: OpenOptions): Promise<Database> {
  const ownerUrl = options.migrationUrl ?? url
  let ownerClient: postgres.Sql | undefined
  const owner = (): postgres.Sql => (ownerClient ??= postgres(ownerUrl, { ...postgresOptions(options, false), max: 2 }))
  let client: postgres.Sql
  try {
    if (options.migrate !== false) await migrateAsOwner(owner())
    client = await openServingPool(url, options, owner, Math.max(1, options.poolSize ?? 10))
  } finally {
    await ownerClient?.end({ timeout: 1 })
  }
  const stats: DatabaseStats = { queries: 0 }
  const db = drizzlePostgres(client, { schema, logger: countingLogger(stats) })
  let closed = false
  return {
    kind: 'postgres',
    db: db as unknown as Db,
    stats,
    ping: async (timeoutMs) => { await withTimeout(client`select 1`.execute(), timeoutMs) },
    listen: async (channel, onMessage, onConnect) => {
      const subscription = await client.listen(channel, onMessage, onConnect)
      return async () => { if (!closed) await subscription.unlisten() }
    },
    close: async () => {
      if (closed) return
      closed = true
      await client.end({ timeout: 5 })
    }
  }
}

/** The options jack's configuration gives: the same for `jack serve`, `jack worker` and the CLI, but for the pool size. */
export function databaseOptions (config: Pick<Config, 'databaseUrl' | 'databaseMigrationUrl' | 'dataDir' | 'databasePoolSize' | 'databaseConnectTimeoutMs' | 'databaseStatementTimeoutMs'>, poolSize = config.databasePoolSize): OpenOptions {
  return {
    databaseUrl: config.databaseUrl,
    migrationUrl: config.databaseMigrationUrl,
    dataDir: config.dataDir,
    poolSize,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs
  }
}

export async function openDatabase (options: OpenOptions): Promise<Database> {
  return options.databaseUrl === undefined
    ? await openPglite(options)
    : await openPostgres(options.databaseUrl, options)
}

async function withTimeout<T> (promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`database did not answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
