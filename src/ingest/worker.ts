// The ingest worker: claims jobs from the durable queue, processes them under a lease and a time limit on extraction threads, retries with back-off.
// A database outage costs no document an attempt: the worker waits for the database and then finishes or gives back the job.
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { Database } from '../db/client.js'
import { INGEST_CHANNEL } from '../repositories/documents.repo.js'
import { claimNextJob, finishIndexJob, finishJob, loadPayload, releaseLease, renewLease, scheduleRetry, type ClaimedJob } from '../repositories/ingest-jobs.repo.js'
import { IndexMerger } from '../search-index/index-merger.js'
import { classifyFailure, processPayload, type ProcessedDocument } from './process-document.js'
import { ExtractionPool } from './extraction-pool.js'
import type { ExtractLimits } from './extract/extract-limits.js'
import { maintainSearchIndex } from '../db/maintenance.js'
import { isDatabaseUnavailable } from '../db/database-errors.js'

// PGlite has no autovacuum: once the queue runs dry, a worker vacuums the search
// index if this many documents became ready since it last did, or any did and
// this long has passed, so a bulk ingest is vacuumed once, at its end.
const MAINTENANCE_AFTER_DOCUMENTS = 100
const MAINTENANCE_AFTER_MS = 5 * 60_000

// While the database is out of reach, writes are retried this often at first, backing off to the maximum.
const OUTAGE_RETRY_FIRST_MS = 250
const OUTAGE_RETRY_MAX_MS = 5000
// One log line per outage and then at most one this often, not one per poll of every loop.
const OUTAGE_LOG_EVERY_MS = 30_000

export interface WorkerOptions {
  concurrency: number
  leaseMs: number
  jobTimeoutMs: number
  maxAttempts: number
  allowPrivateUrls: boolean
  /** Each extraction thread's JS heap limit. */
  extractionMemoryMb: number
  /** Bounds on what one document may expand to while extracting. */
  extractLimits?: Partial<ExtractLimits>
  /** How often an idle worker looks for due retries and expired leases. */
  pollIntervalMs?: number
  /** First retry delay; doubled for each further attempt. */
  retryBaseMs?: number
  log: FastifyBaseLogger
  /** Replaces the real processing (tests of the queue itself). */
  process?: typeof processPayload
  /** Replaces the worker's own extraction threads (tests of thread failures). */
  pool?: ExtractionPool
}

/** The worker settings of a jack configuration. */
export function workerOptionsFrom (config: Config, log: FastifyBaseLogger): WorkerOptions {
  return {
    concurrency: config.workers,
    leaseMs: config.jobLeaseMs,
    jobTimeoutMs: config.jobTimeoutMs,
    maxAttempts: config.jobMaxAttempts,
    retryBaseMs: config.jobRetryBaseMs,
    allowPrivateUrls: config.urlAllowPrivate,
    extractionMemoryMb: config.extractionMemoryMb,
    extractLimits: config.extractLimits,
    log
  }
}

class JobTimeoutError extends Error {}

export class IngestWorker {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  private running = false
  private loops: Array<Promise<void>> = []
  private readonly active = new Map<string, { job: ClaimedJob, controller: AbortController }>()
  private wakers: Array<() => void> = []
  private unlisten: (() => Promise<void>) | undefined
  private readySinceMaintenance = 0
  private lastMaintenance = Date.now()
  private maintaining = false
  private outageSince: number | undefined
  private outageLoggedAt = 0
  readonly pool: ExtractionPool
  /** Merges the search index segments of organisations whose documents this worker indexed. */
  readonly merger: IndexMerger

  constructor (private readonly database: Database, private readonly options: WorkerOptions) {
    this.pool = options.pool ?? new ExtractionPool({ threads: options.concurrency, memoryLimitMb: options.extractionMemoryMb })
    this.merger = new IndexMerger(database.db, options.log)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.unlisten = await this.database.listen(INGEST_CHANNEL, () => this.wake(), () => this.wake())
    this.loops = Array.from({ length: this.options.concurrency }, async () => await this.loop())
  }

  /**
   * Stops claiming, lets running jobs finish for up to `graceMs`, then aborts
   * the rest and gives their jobs back so another worker takes them at once.
   */
  async stop (graceMs = 10_000): Promise<void> {
    if (!this.running) return
    this.running = false
    this.wake()
    const finished = Promise.all(this.loops)
    const timer = new Promise((resolve) => setTimeout(resolve, graceMs).unref())
    await Promise.race([finished, timer])
    const abandoned = [...this.active.values()]
    for (const { controller } of abandoned) controller.abort()
    await Promise.all(abandoned.map(async ({ job }) => {
      await releaseLease(this.database.db, job.orgId, job.documentId, this.id).catch((error: unknown) => {
        this.options.log.warn({ err: error, documentId: job.documentId }, 'could not release an ingest job; its lease will expire')
      })
    }))
    await finished
    await this.merger.stop()
    await this.pool.close()
    await this.unlisten?.()
  }

  private wake (): void {
    const wakers = this.wakers
    this.wakers = []
    for (const wake of wakers) wake()
  }

  private async idle (): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.pollIntervalMs ?? 1000)
      function done (): void {
        clearTimeout(timer)
        resolve()
      }
      this.wakers.push(done)
    })
  }

  private async loop (): Promise<void> {
    while (this.running) {
      let job: ClaimedJob | undefined
      try {
        job = await claimNextJob(this.database.db, this.id, this.options.leaseMs)
        this.databaseAnswered()
      } catch (error) {
        if (isDatabaseUnavailable(error)) this.databaseUnavailable(error)
        else this.options.log.error({ err: error }, 'could not claim an ingest job')
      }
      if (job === undefined) {
        await this.maintainIfDue()
        if (this.running) await this.idle()
        continue
      }
      await this.run(job)
      // Another job may be waiting; look again before sleeping.
    }
  }

  private async maintainIfDue (): Promise<void> {
    const due = this.readySinceMaintenance >= MAINTENANCE_AFTER_DOCUMENTS ||
      (this.readySinceMaintenance > 0 && Date.now() - this.lastMaintenance >= MAINTENANCE_AFTER_MS)
    if (!due || this.maintaining || !this.running) return
    this.maintaining = true
    const documents = this.readySinceMaintenance
    this.readySinceMaintenance = 0
    try {
      const started = Date.now()
      if (await maintainSearchIndex(this.database)) this.options.log.info({ documents, ms: Date.now() - started }, 'search index vacuumed and analysed')
    } catch (error) {
      this.options.log.warn({ err: error }, 'search index maintenance failed; it is retried after the next documents')
    } finally {
      this.lastMaintenance = Date.now()
      this.maintaining = false
    }
  }

  private async run (job: ClaimedJob): Promise<void> {
    const { db } = this.database
    const key = `${job.orgId}/${job.documentId}`
    const controller = new AbortController()
    this.active.set(key, { job, controller })
    const heartbeat = setInterval(() => {
      renewLease(db, job.orgId, job.documentId, this.id, this.options.leaseMs)
        .then((held) => { if (!held) controller.abort() })
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'could not renew an ingest lease'))
    }, Math.max(100, Math.floor(this.options.leaseMs / 3)))
    try {
      if (job.attempts > this.options.maxAttempts) {
        // Earlier attempts died without a word (the process was killed, or hung past its lease).
        const error = `Processing did not finish after ${this.options.maxAttempts} attempts`
        await this.untilDatabaseAnswers(async () => await finishJob(db, job.orgId, job.documentId, this.id, { error }))
        this.options.log.warn({ documentId: job.documentId, orgId: job.orgId, attempts: job.attempts - 1 }, 'document failed: earlier attempts never finished')
        return
      }
      const payload = await loadPayload(db, job.orgId, job.documentId)
      if (payload === undefined) return // deleted meanwhile; the cascade removed the job too
      if (payload.status === 'ready') {
        // Ready before the search index existed (drizzle/0009): only its stored chunks are to be indexed.
        const outcome = await this.untilDatabaseAnswers(async () => await finishIndexJob(db, job.orgId, job.documentId, this.id))
        if (outcome === 'done') this.merger.request(job.orgId)
        return
      }
      const process = this.options.process ?? processPayload
      const result = await this.withTimeLimit(async () => await process(payload, { allowPrivateUrls: this.options.allowPrivateUrls, signal: controller.signal, pool: this.pool, limits: this.options.extractLimits ?? {} }), controller)
      // The work is done: an outage now only delays writing it.
      const outcome = await this.untilDatabaseAnswers(async () => await finishJob(db, job.orgId, job.documentId, this.id, { chunks: result.chunks, format: result.format }))
      this.readySinceMaintenance++
      if (outcome === 'done') this.merger.request(job.orgId)
      this.options.log.info({ documentId: job.documentId, chunks: result.chunks.length, outcome }, 'document processed')
    } catch (error) {
      if (controller.signal.aborted && !this.running && !(error instanceof JobTimeoutError)) return // stopping: the job is released
      if (isDatabaseUnavailable(error)) await this.giveBack(job, error)
      else await this.fail(job, error)
    } finally {
      clearInterval(heartbeat)
      this.active.delete(key)
    }
  }

  private async fail (job: ClaimedJob, error: unknown): Promise<void> {
    const { permanent, message } = error instanceof JobTimeoutError
      ? { permanent: false, message: error.message }
      : classifyFailure(error)
    if (!permanent && !(error instanceof JobTimeoutError)) this.options.log.error({ err: error, documentId: job.documentId }, 'ingest attempt failed')
    try {
      if (permanent || job.attempts >= this.options.maxAttempts) {
        await this.untilDatabaseAnswers(async () => await finishJob(this.database.db, job.orgId, job.documentId, this.id, { error: message }))
        this.options.log.warn({ documentId: job.documentId, orgId: job.orgId, attempts: job.attempts, reason: message }, 'document failed')
      } else {
        const delay = (this.options.retryBaseMs ?? 2000) * 2 ** (job.attempts - 1)
        await this.untilDatabaseAnswers(async () => await scheduleRetry(this.database.db, job.orgId, job.documentId, this.id, delay, message))
      }
    } catch (storeError) {
      this.options.log.error({ err: storeError, documentId: job.documentId }, 'could not record an ingest failure; the lease will expire and the job run again')
    }
  }

  /** The database failed the job, not the document: hand it back with its attempt restored. */
  private async giveBack (job: ClaimedJob, error: unknown): Promise<void> {
    this.databaseUnavailable(error)
    try {
      await this.untilDatabaseAnswers(async () => await releaseLease(this.database.db, job.orgId, job.documentId, this.id))
    } catch (releaseError) {
      this.options.log.warn({ err: releaseError, documentId: job.documentId }, 'could not give back an ingest job; its lease will expire')
    }
  }

  /**
   * Runs a write until the database takes it. Outages are retried while the
   * worker runs; any other error, or a stop, is thrown. The lease is renewed
   * meanwhile by the heartbeat whenever the database answers, so a short
   * outage (shorter than the lease) loses the job to no other worker.
   */
  private async untilDatabaseAnswers<T> (write: () => Promise<T>): Promise<T> {
    let delay = OUTAGE_RETRY_FIRST_MS
    for (;;) {
      try {
        const result = await write()
        this.databaseAnswered()
        return result
      } catch (error) {
        if (!isDatabaseUnavailable(error) || !this.running) throw error
        this.databaseUnavailable(error)
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, OUTAGE_RETRY_MAX_MS)
      }
    }
  }

  private databaseUnavailable (error: unknown): void {
    const now = Date.now()
    this.outageSince ??= now
    if (now - this.outageLoggedAt < OUTAGE_LOG_EVERY_MS) return
    this.outageLoggedAt = now
    this.options.log.error({ err: error, sinceMs: now - this.outageSince }, 'the database is unavailable; ingest waits for it and no document loses an attempt')
  }

  private databaseAnswered (): void {
    if (this.outageSince === undefined) return
    this.options.log.info({ outageMs: Date.now() - this.outageSince }, 'the database answers again; ingest resumes')
    this.outageSince = undefined
    this.outageLoggedAt = 0
  }

  private async withTimeLimit (work: () => Promise<ProcessedDocument>, controller: AbortController): Promise<ProcessedDocument> {
    const seconds = Math.round(this.options.jobTimeoutMs / 1000)
    let timedOut = false
    let timer: NodeJS.Timeout | undefined
    // Raced as well as aborted, in case some work ignores its signal.
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        controller.abort()
        reject(new JobTimeoutError(`Processing timed out after ${seconds} s`))
      }, this.options.jobTimeoutMs)
    })
    try {
      return await Promise.race([work(), timeout])
    } catch (error) {
      // Whatever the aborted work threw (a terminated thread, a cancelled fetch), the cause is the time limit.
      if (timedOut) throw new JobTimeoutError(`Processing timed out after ${seconds} s`)
      throw error
    } finally {
      clearTimeout(timer)
    }
  }
}
