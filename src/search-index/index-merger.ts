// Runs segment merges in the background, one at a time per process, for the organisations whose documents a worker just indexed.
import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../db/client.js'
import { isDatabaseUnavailable } from '../db/database-errors.js'
import type { OrgId } from '../org-id.js'
import { mergeNext } from './merge-segments.js'

/**
 * How long a request waits before its organisation's segments are looked at.
 * Checking after every document cost five statements a document; a bulk
 * ingest now leaves up to a few dozen one-document segments between checks,
 * which the next check merges ten at a time.
 */
const CHECK_DELAY_MS = 250

export class IndexMerger {
  private readonly pending = new Set<OrgId>()
  /** Segments found not worn enough to rewrite, at the deletion estimate then (see chooseMerge). */
  private readonly checked = new Map<number, number>()
  private running: Promise<void> | undefined
  private stopped = false

  constructor (private readonly db: Db, private readonly log: FastifyBaseLogger) {}

  /** Asks for the organisation's segments to be checked (and merged while the policy asks for it) soon; returns at once. */
  request (orgId: OrgId): void {
    if (this.stopped) return
    this.pending.add(orgId)
    this.running ??= this.drain().finally(() => { this.running = undefined })
  }

  /** Resolves when every requested merge is done (tests, and shutdown). */
  async idle (): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /** Starts no further merge; waits for the one in progress, which cannot be interrupted halfway (its transaction would be lost work, not harm). */
  async stop (): Promise<void> {
    this.stopped = true
    this.pending.clear()
    await this.idle()
  }

  private async drain (): Promise<void> {
    for (;;) {
      // A bulk ingest finishes documents faster than it is worth looking at segments: let requests gather first.
      await new Promise((resolve) => setTimeout(resolve, CHECK_DELAY_MS))
      const next = this.pending.values().next()
      if (next.done === true) return
      const orgId = next.value
      this.pending.delete(orgId)
      await this.mergeWhileNeeded(orgId)
    }
  }

  private async mergeWhileNeeded (orgId: OrgId): Promise<void> {
    while (!this.stopped) {
      try {
        const result = await mergeNext(this.db, orgId, this.checked)
        if (result === undefined) return
        if (result.notWorn !== undefined) {
          // Bounded: one entry per segment, and segments are few.
          if (this.checked.size > 10_000) this.checked.clear()
          this.checked.set(result.notWorn.segmentId, result.notWorn.estimate)
          continue
        }
        if (result.ms >= 1000) this.log.info({ segments: result.segments, chunks: result.chunks, expunged: result.expunged, ms: Math.round(result.ms) }, 'search index segments merged')
        else this.log.debug({ segments: result.segments, chunks: result.chunks, expunged: result.expunged, ms: Math.round(result.ms) }, 'search index segments merged')
        // A lone segment rewritten without dropping anything would be chosen again: stop there.
        if (result.segments === 1 && result.expunged === 0) return
      } catch (error) {
        // Nothing is lost: the segments stay as they were and the next request merges them.
        if (isDatabaseUnavailable(error)) this.log.warn({ err: error }, 'search index merge postponed: the database is unavailable')
        else this.log.error({ err: error }, 'search index merge failed; the segments stay as they are')
        return
      }
    }
  }
}
