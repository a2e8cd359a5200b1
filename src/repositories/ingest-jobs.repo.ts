// SQL for the durable ingest queue: claiming with a lease, renewing it, retrying, and finishing a document.
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { rowsOf } from '../db/rows.js'
import { inOrg } from '../db/org-scope.js'
import { documentPayloads, documents, ingestJobs, type DocumentRow } from '../db/schema.js'
import { asOrgId, type OrgId } from '../org-id.js'
import { indexDocument, insertChunks } from './search-index.repo.js'
import type { ChunkPosting } from '../search-index/segment-builder.js'

export interface ClaimedJob {
  orgId: OrgId
  documentId: string
  /** Including this claim. */
  attempts: number
}

export interface StoredPayload {
  status: 'processing' | 'ready' | 'failed'
  sourceType: 'text' | 'file' | 'url'
  filename: string | null
  format: string | null
  chunkSize: number
  chunkOverlap: number
  text: string | null
  url: string | null
  bytes: Buffer | null
}

export interface NewChunk {
  index: number
  text: string
  tokenCount: number
  start: number
  end: number
}

/** Chunks per INSERT: large enough to amortise round trips, small enough to keep one statement's text bounded. */
const CHUNK_INSERT_BATCH = 500

/**
 * Takes the next due job of any organisation — the queue serves them all, and
 * each job then acts only for its own org. A job is due when its back-off has
 * passed and nobody holds a live lease on it (an expired lease is a dead
 * worker). Row-level security lets only jack_claim_ingest_job
 * (drizzle/0007_row_level_security.sql) see the whole queue.
 */
export async function claimNextJob (db: Db, workerId: string, leaseMs: number): Promise<ClaimedJob | undefined> {
  const result = await db.execute(sql`select org_id, document_id, attempts from jack_claim_ingest_job(${workerId}, ${leaseMs})`)
  const [row] = rowsOf<{ org_id: string, document_id: string, attempts: number }>(result)
  return row === undefined ? undefined : { orgId: asOrgId(row.org_id), documentId: row.document_id, attempts: Number(row.attempts) }
}

/** Extends the lease; false when this worker no longer holds the job (it expired and was reclaimed, or the document was deleted). */
export async function renewLease (db: Db, orgId: OrgId, documentId: string, workerId: string, leaseMs: number): Promise<boolean> {
  const rows = await inOrg(db, orgId, async (tx) => await tx.update(ingestJobs)
    .set({ leaseExpiresAt: sql`now() + ${leaseMs} * interval '1 millisecond'` })
    .where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId), eq(ingestJobs.leasedBy, workerId)))
    .returning({ documentId: ingestJobs.documentId }))
  return rows.length > 0
}

/** Gives a job back at once (graceful shutdown), without counting the attempt. */
export async function releaseLease (db: Db, orgId: OrgId, documentId: string, workerId: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => await tx.update(ingestJobs)
    .set({ leaseExpiresAt: null, leasedBy: null, attempts: sql`greatest(${ingestJobs.attempts} - 1, 0)` })
    .where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId), eq(ingestJobs.leasedBy, workerId))))
}

export async function scheduleRetry (db: Db, orgId: OrgId, documentId: string, workerId: string, delayMs: number, error: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => await tx.update(ingestJobs)
    .set({ leaseExpiresAt: null, leasedBy: null, lastError: error, runAfter: sql`now() + ${delayMs} * interval '1 millisecond'` })
    .where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId), eq(ingestJobs.leasedBy, workerId))))
}

export async function loadPayload (db: Db, orgId: OrgId, documentId: string): Promise<StoredPayload | undefined> {
  return await inOrg(db, orgId, async (tx) => {
    const [document] = await tx.select({
      status: documents.status,
      sourceType: documents.sourceType,
      filename: documents.filename,
      format: documents.format,
      chunkSize: documents.chunkSize,
      chunkOverlap: documents.chunkOverlap
    }).from(documents).where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
    if (document === undefined) return undefined
    const parts = await tx.select().from(documentPayloads)
      .where(and(eq(documentPayloads.orgId, orgId), eq(documentPayloads.documentId, documentId)))
      .orderBy(asc(documentPayloads.part))
    const first = parts[0]
    const bytes = parts.some((part) => part.bytes !== null) ? Buffer.concat(parts.map((part) => part.bytes ?? Buffer.alloc(0))) : null
    return { ...document, text: first?.text ?? null, url: first?.url ?? null, bytes }
  })
}

export type Outcome = 'done' | 'gone'

/**
 * Locks the job's document and then the job, and returns the document only
 * while this worker still holds the lease: a document deleted meanwhile stays
 * deleted, and a worker whose lease was taken over writes nothing.
 */
async function lockHeldJob (tx: Db, orgId: OrgId, documentId: string, workerId: string): Promise<{ status: DocumentRow['status'], chunkCount: number, firstOrdinal: number | null, metadata: Record<string, string> } | undefined> {
  const [document] = await tx.select({ status: documents.status, chunkCount: documents.chunkCount, firstOrdinal: documents.firstOrdinal, metadata: documents.metadata })
    .from(documents).where(and(eq(documents.orgId, orgId), eq(documents.id, documentId))).for('update')
  if (document === undefined) return undefined
  const [job] = await tx.select({ leasedBy: ingestJobs.leasedBy }).from(ingestJobs)
    .where(and(eq(ingestJobs.orgId, orgId), eq(ingestJobs.documentId, documentId))).for('update')
  return job?.leasedBy === workerId ? document : undefined
}

/** Removes the job and whatever payload its document still has. */
async function endJob (tx: Db, orgId: OrgId, documentId: string): Promise<void> {
  await tx.execute(sql`
    with payload as (delete from ${documentPayloads} where org_id = ${orgId} and document_id = ${documentId})
    delete from ${ingestJobs} where org_id = ${orgId} and document_id = ${documentId}`)
}

/**
 * Ends a job: writes the chunks, marks the document ready and indexes it, or
 * marks it failed; 'gone' when the document was deleted or the lease taken
 * over meanwhile (lockHeldJob).
 */
export async function finishJob (db: Db, orgId: OrgId, documentId: string, workerId: string, result: { chunks: NewChunk[], format: string | null } | { error: string }): Promise<Outcome> {
  return await inOrg(db, orgId, async (tx) => {
    const document = await lockHeldJob(tx, orgId, documentId, workerId)
    if (document === undefined) return 'gone'
    if ('error' in result) {
      await tx.update(documents)
        .set({ status: 'failed', errorMessage: result.error, chunkCount: 0, updatedAt: sql`now()` })
        .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
    }
    await endJob(tx, orgId, documentId)
    if ('error' in result) return 'done'
    if (result.chunks.length === 0) {
      await tx.update(documents)
        .set({ status: 'ready', errorMessage: null, chunkCount: 0, format: result.format, updatedAt: sql`now()` })
        .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
      return 'done'
    }
    // Chunks, then the document ready and in the search index, searchable from this commit on. The index
    // statement comes last: it takes the organisation's ordinal counter, whose row lock lasts until the commit.
    const postings: ChunkPosting[] = []
    for (let offset = 0; offset < result.chunks.length; offset += CHUNK_INSERT_BATCH) {
      postings.push(...await insertChunks(tx, orgId, documentId, result.chunks.slice(offset, offset + CHUNK_INSERT_BATCH)))
    }
    await indexDocument(tx, orgId, documentId, result.chunks.length, document.metadata, { postings, markReady: { format: result.format } })
    return 'done'
  })
}

/**
 * Ends the job of a document that is ready already but not in the search
 * index (one made ready before the index existed, drizzle/0009): indexes its
 * stored chunks. 'gone' as finishJob.
 */
export async function finishIndexJob (db: Db, orgId: OrgId, documentId: string, workerId: string): Promise<Outcome> {
  return await inOrg(db, orgId, async (tx) => {
    const document = await lockHeldJob(tx, orgId, documentId, workerId)
    if (document === undefined) return 'gone'
    if (document.status === 'ready' && document.firstOrdinal === null) await indexDocument(tx, orgId, documentId, document.chunkCount, document.metadata)
    await endJob(tx, orgId, documentId)
    return 'done'
  })
}
