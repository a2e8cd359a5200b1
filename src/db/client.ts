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
import { packageRoot } from '../package-root.js'

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
  dataDir: string
  poolSize?: number
  migrate?: boolean
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

async function openPostgres (url: string, options: OpenOptions): Promise<Database> {
  const client = postgres(url, {
    // Migration holds one connection for its lock while Drizzle migrates on another.
    max: Math.max(2, options.poolSize ?? 10),
    onnotice: () => {},
    // BM25 aggregates and sorts every candidate chunk of a query: at 4 MB (the
    // default) a long question over ~100k chunks spilled both to disk
    // (bench/query.ts, EXPLAIN ANALYZE).
    connection: { application_name: 'jack', work_mem: WORK_MEM }
  })
  const stats: DatabaseStats = { queries: 0 }
  const db = drizzlePostgres(client, { schema, logger: countingLogger(stats) })
  try {
    if (options.migrate !== false) {
      // Several instances may start at once; one migrates while the rest wait.
      const reserved = await client.reserve()
      try {
        await reserved`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
        await migratePostgres(db, { migrationsFolder })
      } finally {
        await reserved`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
        reserved.release()
      }
    }
  } catch (error) {
    await client.end({ timeout: 1 })
    throw error
  }
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

export async function openDatabase (options: OpenOptions): Promise<Database> {
  return options.databaseUrl === undefined
    ? await openPglite(options)
    : await openPostgres(options.databaseUrl, options)
}

async function withTimeout<T> (promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
