// SQL for documents and their raw payloads. Every function is scoped by organisation.
import fs from 'node:fs'
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { inOrg } from '../db/org-scope.js'
import { documentPayloads, documents, ingestJobs, type DocumentRow } from '../db/schema.js'
import type { OrgId } from '../org-id.js'
import { completeIdempotencyClaim, type IdempotencyCompletion } from './idempotency-keys.repo.js'
import { indexDocument, unindexDocument } from './search-index.repo.js'

/** Payload is empty; workers wake on it instead of waiting for their next poll. */
export const INGEST_CHANNEL = 'jack_ingest'

/** A file is stored in parts of this size, so no single parameter or row is huge. */
export const PAYLOAD_PART_BYTES = 1024 * 1024

export type DocumentStatus = DocumentRow['status']
export type SourceType = DocumentRow['sourceType']

export interface DocumentRecord {
  id: string
  orgId: OrgId
  filename: string | null
  sourceType: SourceType
  metadata: Record<string, string>
  status: DocumentStatus
  errorMessage: string | null
  chunkCount: number
  createdAt: Date
  updatedAt: Date
}

export interface NewDocument {
  sourceType: SourceType
  filename: string | null
  format: string | null
  metadata: Record<string, string>
  chunkSize: number
  chunkOverlap: number
}

export type NewPayload = { text: string } | { url: string } | { filePath: string }

const recordColumns = {
  id: documents.id,
  orgId: documents.orgId,
  filename: documents.filename,
  sourceType: documents.sourceType,
  metadata: documents.metadata,
  status: documents.status,
  errorMessage: documents.errorMessage,
  chunkCount: documents.chunkCount,
  createdAt: documents.createdAt,
  updatedAt: documents.updatedAt,
  seq: documents.seq
}

function toRecord ({ seq: _seq, ...row }: { seq: number } & Omit<DocumentRecord, 'orgId'> & { orgId: string }): DocumentRecord {
  return { ...row, orgId: row.orgId as OrgId }
}

async function * fileParts (filePath: string): AsyncGenerator<Buffer> {
  const stream = fs.createReadStream(filePath, { highWaterMark: PAYLOAD_PART_BYTES })
  let pending: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending.push(chunk)
    size += chunk.length
    if (size >= PAYLOAD_PART_BYTES) {
      const joined = Buffer.concat(pending)
      yield joined.subarray(0, PAYLOAD_PART_BYTES)
      pending = [joined.subarray(PAYLOAD_PART_BYTES)]
      size = pending[0]?.length ?? 0
    }
  }
  if (size > 0) yield Buffer.concat(pending)
}

/**
 * Stores documents, their payloads and their jobs in one transaction, so an
 * accepted document is never lost and never without a job. With an
 * idempotency completion, the request's Idempotency-Key is completed in the
 * same transaction, so a key never points at nothing and documents never lack
 * their key. Returns the IDs in the order given.
 */
export async function insertDocuments (db: Db, orgId: OrgId, items: Array<{ document: NewDocument, payload: NewPayload }>, idempotency?: IdempotencyCompletion): Promise<string[]> {
  return await inOrg(db, orgId, async (tx) => {
    const rows = await tx.insert(documents)
      .values(items.map(({ document }) => ({ orgId, ...document })))
      .returning({ id: documents.id, seq: documents.seq })
    // RETURNING order follows VALUES order in practice, but seq makes it certain.
    const ids = rows.sort((a, b) => a.seq - b.seq).map((row) => row.id)
    // Early in the transaction: the key's row is locked from here to commit, and a lost claim fails before any payload is written.
    if (idempotency !== undefined) await completeIdempotencyClaim(tx, orgId, idempotency, ids)
    for (const [index, { payload }] of items.entries()) {
      const documentId = ids[index] as string
      if ('filePath' in payload) {
        let part = 0
        for await (const bytes of fileParts(payload.filePath)) {
          await tx.insert(documentPayloads).values({ orgId, documentId, part: part++, bytes })
        }
      }
    }
    const inline = items.flatMap(({ payload }, index) => 'filePath' in payload
      ? []
      : [{ orgId, documentId: ids[index] as string, part: 0, text: 'text' in payload ? payload.text : null, url: 'url' in payload ? payload.url : null }])
    if (inline.length > 0) await tx.insert(documentPayloads).values(inline)
    await tx.insert(ingestJobs).values(ids.map((documentId) => ({ orgId, documentId })))
    await tx.execute(sql`select pg_notify(${INGEST_CHANNEL}, '')`)
    return ids
  })
}

export async function getDocument (db: Db, orgId: OrgId, documentId: string): Promise<DocumentRecord | undefined> {
  const [row] = await inOrg(db, orgId, async (tx) => await tx.select(recordColumns).from(documents)
    .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId))))
  return row === undefined ? undefined : toRecord(row)
}

export interface DocumentPage {
  documents: DocumentRecord[]
  /** Pass back as `beforeSeq` for the next page; undefined on the last page. */
  nextBeforeSeq: number | undefined
}

export async function listDocuments (db: Db, orgId: OrgId, options: { limit: number, beforeSeq?: number | undefined, status?: DocumentStatus | undefined }): Promise<DocumentPage> {
  const conditions = [eq(documents.orgId, orgId)]
  if (options.beforeSeq !== undefined) conditions.push(lt(documents.seq, options.beforeSeq))
  if (options.status !== undefined) conditions.push(eq(documents.status, options.status))
  const rows = await inOrg(db, orgId, async (tx) => await tx.select(recordColumns).from(documents)
    .where(and(...conditions))
    .orderBy(desc(documents.seq))
    .limit(options.limit + 1))
  const page = rows.slice(0, options.limit)
  const last = page[page.length - 1]
  return { documents: page.map(toRecord), nextBeforeSeq: rows.length > options.limit && last !== undefined ? last.seq : undefined }
}

/** Deletes the document with its chunks, payload and job (ON DELETE CASCADE). */
/** Deletes a document; from this commit on no query returns it (its ordinals are marked deleted in the search index in the same transaction). */
export async function deleteDocument (db: Db, orgId: OrgId, documentId: string): Promise<boolean> {
  const rows = await inOrg(db, orgId, async (tx) => {
    await unindexDocument(tx, orgId, documentId)
    return await tx.delete(documents)
      .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
      .returning({ id: documents.id })
  })
  return rows.length > 0
}

/**
 * Replaces a document's metadata. A document in the search index is indexed
 * anew under new ordinals in the same transaction (segments are immutable, so
 * filters read metadata from them), and its old ordinals are marked deleted.
 */
export async function replaceDocumentMetadata (db: Db, orgId: OrgId, documentId: string, metadata: Record<string, string>): Promise<DocumentRecord | undefined> {
  const [row] = await inOrg(db, orgId, async (tx) => {
    const indexed = await unindexDocument(tx, orgId, documentId)
    const updated = await tx.update(documents)
      .set({ metadata, updatedAt: sql`now()` })
      .where(and(eq(documents.orgId, orgId), eq(documents.id, documentId)))
      .returning(recordColumns)
    if (indexed !== undefined) await indexDocument(tx, orgId, documentId, indexed.chunkCount, metadata)
    return updated
  })
  return row === undefined ? undefined : toRecord(row)
}
