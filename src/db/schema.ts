// The one Drizzle schema for both backends; drizzle-kit generates drizzle/ from it.
import { sql } from 'drizzle-orm'
import { bigint, check, customType, foreignKey, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core'

export const orgs = pgTable('orgs', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
})

// Tenant tables lead their keys with org_id so they can be distributed by
// organisation (Citus) without a schema change.
export const apiKeys = pgTable('api_keys', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  id: uuid('id').notNull().default(sql`gen_random_uuid()`),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull(),
  label: text('label').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true })
}, (table) => [
  primaryKey({ columns: [table.orgId, table.id] }),
  index('api_keys_prefix_idx').on(table.prefix),
  index('api_keys_org_created_idx').on(table.orgId, table.createdAt)
])

export type OrgRow = typeof orgs.$inferSelect
export type ApiKeyRow = typeof apiKeys.$inferSelect

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' })

export const documents = pgTable('documents', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  id: uuid('id').notNull().default(sql`gen_random_uuid()`),
  // Newest-first listing and its cursor use this, not created_at: it is unique
  // and strictly increasing, so pages never skip or repeat a document.
  seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
  sourceType: text('source_type', { enum: ['text', 'file', 'url'] }).notNull(),
  filename: text('filename'),
  format: text('format'),
  metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
  status: text('status', { enum: ['processing', 'ready', 'failed'] }).notNull().default('processing'),
  errorMessage: text('error_message'),
  chunkCount: integer('chunk_count').notNull().default(0),
  chunkSize: integer('chunk_size').notNull(),
  chunkOverlap: integer('chunk_overlap').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.id] }),
  index('documents_org_seq_idx').on(table.orgId, table.seq),
  index('documents_org_status_seq_idx').on(table.orgId, table.status, table.seq),
  index('documents_metadata_idx').using('gin', table.metadata.op('jsonb_path_ops'))
])

// The raw input of a document until it is processed: the text, the URL, or the
// uploaded file in parts (so a 100 MB upload is never one giant parameter).
export const documentPayloads = pgTable('document_payloads', {
  orgId: uuid('org_id').notNull(),
  documentId: uuid('document_id').notNull(),
  part: integer('part').notNull(),
  text: text('text'),
  url: text('url'),
  bytes: bytea('bytes')
}, (table) => [
  primaryKey({ columns: [table.orgId, table.documentId, table.part] }),
  foreignKey({ columns: [table.orgId, table.documentId], foreignColumns: [documents.orgId, documents.id] }).onDelete('cascade')
])

// One job per document still to process. Workers claim with FOR UPDATE SKIP
// LOCKED and hold a lease they renew; an expired lease means the worker died.
export const ingestJobs = pgTable('ingest_jobs', {
  orgId: uuid('org_id').notNull(),
  documentId: uuid('document_id').notNull(),
  attempts: integer('attempts').notNull().default(0),
  runAfter: timestamp('run_after', { withTimezone: true }).notNull().defaultNow(),
  leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
  leasedBy: text('leased_by'),
  lastError: text('last_error')
}, (table) => [
  primaryKey({ columns: [table.orgId, table.documentId] }),
  foreignKey({ columns: [table.orgId, table.documentId], foreignColumns: [documents.orgId, documents.id] }).onDelete('cascade'),
  index('ingest_jobs_run_after_idx').on(table.runAfter)
])

export const chunks = pgTable('chunks', {
  orgId: uuid('org_id').notNull(),
  documentId: uuid('document_id').notNull(),
  chunkIndex: integer('chunk_index').notNull(),
  text: text('text').notNull(),
  tokenCount: integer('token_count').notNull(),
  // Character offsets of the chunk in the document's extracted text.
  startOffset: integer('start_offset').notNull(),
  endOffset: integer('end_offset').notNull(),
  tsv: tsvector('tsv').notNull().generatedAlwaysAs(sql`to_tsvector('english', text)`)
}, (table) => [
  primaryKey({ columns: [table.orgId, table.documentId, table.chunkIndex] }),
  foreignKey({ columns: [table.orgId, table.documentId], foreignColumns: [documents.orgId, documents.id] }).onDelete('cascade'),
  index('chunks_tsv_idx').using('gin', table.tsv)
])

// The inverted index BM25 ranks from (src/repositories/search.repo.ts): one row
// per distinct lexeme of a chunk. Statement-level triggers on chunks write
// them from jack_indexed_vector(text) — the chunk's own English tsvector, plus
// character bigrams and unigrams for Chinese, Japanese and Korean runs
// (drizzle/0008_search_cjk_bigrams.sql) — and delete them with the chunk, in
// the same transaction (drizzle/0003_search_index_maintenance.sql). `chunk_length` (the
// chunk's lexeme occurrences, the sum of its tf) is repeated on every row so a
// query term's postings are scored from one index range and nothing else.
//
// The primary key is the only index, and it serves both sides: the query reads
// one (org_id, lexeme) range, the delete trigger probes whole keys. The
// migration gives it INCLUDE (tf, chunk_length), so scoring is an index-only
// scan, and gives lexeme the "C" collation; Drizzle can declare neither.
// There is deliberately no foreign key to chunks (the delete trigger removes a
// chunk's postings instead): inserting SciFact's 502k postings on PostgreSQL
// 15 took 0.3 s for the rows, 1.1 s for a (org_id, lexeme) index, 0.6 s for
// the chunk-leading index a cascade needs and 1.9 s for the foreign key's
// checks, one per posting.
export const postings = pgTable('postings', {
  orgId: uuid('org_id').notNull(),
  lexeme: text('lexeme').notNull(),
  documentId: uuid('document_id').notNull(),
  chunkIndex: integer('chunk_index').notNull(),
  tf: integer('tf').notNull(),
  chunkLength: integer('chunk_length').notNull()
}, (table) => [
  primaryKey({ name: 'postings_pk', columns: [table.orgId, table.lexeme, table.documentId, table.chunkIndex] })
])

// An organisation's chunk count and total chunk length (BM25's N and avgdl),
// kept by the same trigger in the transaction that writes or deletes chunks.
// Split over 16 rows by document (the document ID's last byte), so concurrent
// ingests in one organisation rarely wait on the same row; a reader sums them.
export const orgChunkStats = pgTable('org_chunk_stats', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  shard: smallint('shard').notNull(),
  chunkCount: bigint('chunk_count', { mode: 'number' }).notNull(),
  totalLength: bigint('total_length', { mode: 'number' }).notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.shard] })
])

// Idempotency-Key records of ingest requests (src/ingest/idempotency.ts). A
// `pending` row is a request still being handled, held by a lease its request
// renews, so a crashed instance's key frees itself when the lease runs out; a
// `completed` row is written in the transaction that stores its documents and
// answers replays for 24 hours. `expires_at` is the lease end or the 24 hours:
// a row past it counts as absent and is deleted lazily.
export const idempotencyKeys = pgTable('idempotency_keys', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  key: text('key').notNull(),
  status: text('status', { enum: ['pending', 'completed'] }).notNull(),
  leaseToken: uuid('lease_token'),
  // SHA-256 (hex) of the canonical request, and the response's document IDs; set on completion.
  requestHash: text('request_hash'),
  documentIds: uuid('document_ids').array(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.key] }),
  index('idempotency_keys_org_expires_idx').on(table.orgId, table.expiresAt),
  check('idempotency_keys_state_check', sql`(status = 'pending' and lease_token is not null) or (status = 'completed' and request_hash is not null and document_ids is not null)`)
])

// Request counts of the per-organisation rate limit (plugins/rate-limit.ts):
// one row per organisation and fixed window (window_start in epoch
// milliseconds). The limiter weighs the previous window against the current
// one; anything older is deleted by the statement that counts a request.
// Unlogged (migration 0006): counts need no crash safety, and skipping the WAL
// keeps the per-request statement from waiting on a log flush.
export const rateLimitWindows = pgTable('rate_limit_windows', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  windowStart: bigint('window_start', { mode: 'number' }).notNull(),
  count: integer('count').notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.windowStart] })
])

export type DocumentRow = typeof documents.$inferSelect
export type ChunkRow = typeof chunks.$inferSelect
export type IngestJobRow = typeof ingestJobs.$inferSelect
