// The ingest worker: claims jobs from the durable queue, processes them under a lease and a time limit, retries with back-off.
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { Database } from '../db/client.js'
import { INGEST_CHANNEL } from '../repositories/documents.repo.js'
import { claimNextJob, finishJob, loadPayload, releaseLease, renewLease, scheduleRetry, type ClaimedJob } from '../repositories/ingest-jobs.repo.js'
import { classifyFailure, processPayload, type ProcessedDocument } from './process-document.js'
import { maintainSearchIndex } from '../db/maintenance.js'

// PGlite has no autovacuum: once the queue runs dry, a worker vacuums the search
// index if this many documents became ready since it last did, or any did and
// this long has passed, so a bulk ingest is vacuumed once, at its end.
const MAINTENANCE_AFTER_DOCUMENTS = 100
const MAINTENANCE_AFTER_MS = 5 * 60_000

export interface WorkerOptions {
  concurrency: number
  leaseMs: number
  jobTimeoutMs: number
  maxAttempts: number
  allowPrivateUrls: boolean
  /** How often an idle worker looks for due retries and expired leases. */
  pollIntervalMs?: number
  /** First retry delay; doubled for each further attempt. */
  retryBaseMs?: number
  log: FastifyBaseLogger
  /** Replaces the real processing (tests of the queue itself). */
  process?: typeof processPayload
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

  constructor (private readonly database: Database, private readonly options: WorkerOptions) {}

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
      } catch (error) {
        this.options.log.error({ err: error }, 'could not claim an ingest job')
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
        await finishJob(db, job.orgId, job.documentId, this.id, { error: `Processing did not finish after ${this.options.maxAttempts} attempts` })
        return
      }
      const payload = await loadPayload(db, job.orgId, job.documentId)
      if (payload === undefined) return // deleted meanwhile; the cascade removed the job too
      const result = await this.withTimeLimit(async () => await (this.options.process ?? processPayload)(payload, { allowPrivateUrls: this.options.allowPrivateUrls, signal: controller.signal }), controller)
      const outcome = await finishJob(db, job.orgId, job.documentId, this.id, { chunks: result.chunks, format: result.format })
      this.readySinceMaintenance++
      this.options.log.info({ documentId: job.documentId, chunks: result.chunks.length, outcome }, 'document processed')
    } catch (error) {
      if (controller.signal.aborted && !this.running && !(error instanceof JobTimeoutError)) return // stopping: the job is released
      await this.fail(job, error)
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
        await finishJob(this.database.db, job.orgId, job.documentId, this.id, { error: message })
      } else {
        const delay = (this.options.retryBaseMs ?? 2000) * 2 ** (job.attempts - 1)
        await scheduleRetry(this.database.db, job.orgId, job.documentId, this.id, delay, message)
      }
    } catch (storeError) {
      this.options.log.error({ err: storeError, documentId: job.documentId }, 'could not record an ingest failure; the lease will expire and the job run again')
    }
  }

  private async withTimeLimit (work: () => Promise<ProcessedDocument>, controller: AbortController): Promise<ProcessedDocument> {
    const seconds = Math.round(this.options.jobTimeoutMs / 1000)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort()
        reject(new JobTimeoutError(`Processing timed out after ${seconds} s`))
      }, this.options.jobTimeoutMs)
    })
    try {
      return await Promise.race([work(), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}
