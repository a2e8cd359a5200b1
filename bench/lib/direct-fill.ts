// A bulk fill in the benchmark's own process through jack's own ingest code: insertDocuments (what POST /v1/ingest calls), then jack's IngestWorker with its index merger, configured as `jack serve` configures them — no HTTP, no server; and jack's IndexMerger alone, to finish the merges a stopped server left.
//
// For fills too large to send over HTTP in reasonable time (bench/query.ts at a million
// chunks). The database is opened (and migrated) as the server opens it, from
// loadConfig(env), so a server started on the same env afterwards finds it ready; the
// default organisation is created by jack's own bootstrap (ensureDefaultOrg) with the
// bootstrap key, so that key authenticates against the server later. PGlite's data
// directory is locked by whichever process opens it: call this before the server starts.
import { performance } from 'node:perf_hooks'
import { sql } from 'drizzle-orm'
import { pino } from 'pino'
import { ensureDefaultOrg } from '../../src/bootstrap.js'
import { loadConfig } from '../../src/config.js'
import { databaseOptions, openDatabase, type Database } from '../../src/db/client.js'
import { maintainSearchIndex } from '../../src/db/maintenance.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import { IngestWorker, workerOptionsFrom } from '../../src/ingest/worker.js'
import { IndexMerger } from '../../src/search-index/index-merger.js'
import { loggerOptions } from '../../src/logging/logger-options.js'
import type { OrgId } from '../../src/org-id.js'
import { insertDocuments } from '../../src/repositories/documents.repo.js'
import { BATCH_SIZE, type IngestDocument } from './api.js'
import { formatInt } from './report.js'
import { progress, sleep } from './server.js'

export interface DirectFillOptions {
  /** The server's environment (storage, JACK_WORKERS, JACK_BOOTSTRAP_KEY, …); LOG_LEVEL is set to debug here, to see every merge. */
  env: Record<string, string>
  chunkSize: number
  chunkOverlap: number
  /** Documents inserted per round; a round is inserted only while fewer than `backlogDocuments` are processing. */
  waveDocuments: number
  backlogDocuments: number
  /** Rounds start only this long (ms); the fill then drains what was inserted and reports itself partial. */
  budgetMs: number
  label: string
}

export interface MergeLog {
  /** Every merge the worker's merger logged (debug below 1 s, info from 1 s). */
  count: number
  totalMs: number
  maxMs: number
  /** Merges of at least 1 s (what the server logs at info): chunks and ms each. */
  slow: Array<{ chunks: number, segments: number, ms: number }>
}

export interface DirectFillResult {
  orgId: OrgId
  submitted: number
  partial: boolean
  /** From the first insert until no document was processing. */
  drainSeconds: number
  /** From then until the merger was idle (the merges the last documents asked for). */
  mergeTailSeconds: number
  /** Stopping the worker and closing the database. */
  closeSeconds: number
  /**
   * PGlite: jack's end-of-queue maintenance (maintainSearchIndex: VACUUM (ANALYZE) of the
   * search index, ANALYZE of the tables queries plan over), run once more after the worker
   * stopped, since a worker stopped right after its queue ran dry may skip it; undefined on
   * PostgreSQL, where jack leaves it to autovacuum.
   */
  maintenanceSeconds: number | undefined
  merges: MergeLog
  /** Log lines at warn or above (the first 200). */
  warnings: string[]
  warningTotal: number
}

const KEPT_WARNINGS = 200
const WARN_LEVEL = 40

/** A pino destination that keeps warnings and the merger's lines instead of printing the worker's chatter. */
function logSink (merges: MergeLog, warnings: string[], counts: { warnings: number }): { write: (line: string) => void } {
  return {
    write: (line) => {
      let parsed: { level?: unknown, msg?: unknown, ms?: unknown, chunks?: unknown, segments?: unknown }
      try {
        parsed = JSON.parse(line) as typeof parsed
      } catch {
        return
      }
      if (parsed.msg === 'search index segments merged') {
        const ms = Number(parsed.ms)
        merges.count++
        merges.totalMs += ms
        merges.maxMs = Math.max(merges.maxMs, ms)
        if (ms >= 1000) merges.slow.push({ chunks: Number(parsed.chunks), segments: Number(parsed.segments), ms })
      }
      if (typeof parsed.level === 'number' && parsed.level >= WARN_LEVEL) {
        counts.warnings++
        if (warnings.length < KEPT_WARNINGS) warnings.push(line.trimEnd())
      }
    }
  }
}

async function processingCount (database: Database, orgId: OrgId): Promise<number> {
  const [row] = rowsOf<{ n: number | string }>(await inOrg(database.db, orgId, async (tx) => await tx.execute(sql`
    select count(*) as n from documents where org_id = ${orgId} and status = 'processing'`)))
  return Number(row?.n ?? 0)
}

/**
 * Opens the database as `jack serve` would on `options.env`, bootstraps the
 * default organisation, starts an IngestWorker in this process and inserts
 * `documents` in rounds through insertDocuments (BATCH_SIZE per call, as the
 * ingest route takes them) while the worker processes them; then waits until
 * none is processing and the merger is idle, stops the worker, runs jack's
 * end-of-queue maintenance (PGlite) and closes the database.
 */
export async function directFill (documents: readonly IngestDocument[], options: DirectFillOptions): Promise<DirectFillResult> {
  const env = { ...options.env, LOG_LEVEL: 'debug' }
  const config = loadConfig(env)
  const merges: MergeLog = { count: 0, totalMs: 0, maxMs: 0, slow: [] }
  const warnings: string[] = []
  const counts = { warnings: 0 }
  const log = pino(loggerOptions('debug'), logSink(merges, warnings, counts))
  const database = await openDatabase(databaseOptions(config))
  let worker: IngestWorker | undefined
  try {
    const bootstrap = await ensureDefaultOrg(database.db, config.bootstrapKey)
    if (!bootstrap.created) throw new Error(`${options.label}: the database already has an organisation; the direct fill needs fresh storage`)
    const orgId = bootstrap.org.id
    worker = new IngestWorker(database, workerOptionsFrom(config, log))
    await worker.start()
    const started = performance.now()
    const elapsed = (): number => performance.now() - started
    let submitted = 0
    let partial = false
    let reported = started
    while (submitted < documents.length) {
      while (await processingCount(database, orgId) >= options.backlogDocuments && elapsed() <= options.budgetMs) await sleep(100)
      if (elapsed() > options.budgetMs) {
        partial = true
        progress(`${options.label}: fill budget of ${options.budgetMs / 1000} s reached; no more documents after ${formatInt(submitted)} of ${formatInt(documents.length)}`)
        break
      }
      const wave = documents.slice(submitted, submitted + options.waveDocuments)
      for (let offset = 0; offset < wave.length; offset += BATCH_SIZE) {
        await insertDocuments(database.db, orgId, wave.slice(offset, offset + BATCH_SIZE).map(({ text, metadata, filename }) => ({
          document: { sourceType: 'text', filename: filename ?? null, format: 'text', metadata, chunkSize: options.chunkSize, chunkOverlap: options.chunkOverlap },
          payload: { text }
        })))
      }
      submitted += wave.length
      if (performance.now() - reported > 15_000) {
        reported = performance.now()
        progress(`${options.label}: ${formatInt(submitted)} / ${formatInt(documents.length)} documents inserted after ${(elapsed() / 1000).toFixed(0)} s; ${merges.count} merges so far (${(merges.totalMs / 1000).toFixed(0)} s)`)
      }
    }
    for (;;) {
      const processing = await processingCount(database, orgId)
      if (processing === 0) break
      if (performance.now() - reported > 15_000) {
        reported = performance.now()
        progress(`${options.label}: ${formatInt(processing)} documents still processing after ${(elapsed() / 1000).toFixed(0)} s`)
      }
      await sleep(100)
    }
    const drainSeconds = elapsed() / 1000
    progress(`${options.label}: queue empty after ${drainSeconds.toFixed(0)} s; waiting for the merger`)
    // The worker asks for a merge after each document it finishes, just after the
    // commit this loop saw: ask once more, so idle() cannot return before that request.
    worker.merger.request(orgId)
    await worker.merger.idle()
    const mergeTailSeconds = elapsed() / 1000 - drainSeconds
    const stopping = performance.now()
    await worker.stop()
    worker = undefined
    const maintaining = performance.now()
    const maintained = await maintainSearchIndex(database)
    const maintenanceSeconds = maintained ? (performance.now() - maintaining) / 1000 : undefined
    const closing = performance.now()
    await database.close()
    const closeSeconds = (maintaining - stopping + performance.now() - closing) / 1000
    return { orgId, submitted, partial, drainSeconds, mergeTailSeconds, closeSeconds, maintenanceSeconds, merges, warnings, warningTotal: counts.warnings }
  } finally {
    await worker?.stop()
    await database.close()
  }
}

export interface MergeTail {
  seconds: number
  merges: MergeLog
  warnings: string[]
  warningTotal: number
}

/**
 * The merges a server stopped before its merger was done (stopping drops
 * the merges it had not begun): jack's IndexMerger in this process, asked
 * for the organisation once, as a worker asks after each document, until
 * the merge policy asks for no more. Opens the database as `jack serve`
 * would on `env` (PGlite: only while no server holds the directory).
 */
export async function finishMerges (env: Record<string, string>, orgId: OrgId): Promise<MergeTail> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'debug' })
  const merges: MergeLog = { count: 0, totalMs: 0, maxMs: 0, slow: [] }
  const warnings: string[] = []
  const counts = { warnings: 0 }
  const log = pino(loggerOptions('debug'), logSink(merges, warnings, counts))
  const database = await openDatabase(databaseOptions(config))
  try {
    const merger = new IndexMerger(database.db, log)
    const started = performance.now()
    merger.request(orgId)
    await merger.idle()
    const seconds = (performance.now() - started) / 1000
    await merger.stop()
    return { seconds, merges, warnings, warningTotal: counts.warnings }
  } finally {
    await database.close()
  }
}
