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
  // Where the document's chunks are in the search index (src/search-index/): chunk i is
  // ordinal first_ordinal + i of its organisation. Set when the document is indexed
  // (ready), given anew when its metadata changes; null while it is not in the index.
  firstOrdinal: integer('first_ordinal'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.id] }),
  index('documents_org_seq_idx').on(table.orgId, table.seq),
  index('documents_org_first_ordinal_idx').on(table.orgId, table.firstOrdinal),
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

// The search index (src/search-index/, drizzle/0009_search_index_segments.sql):
// per organisation, immutable segments, each holding the postings of some of
// its ready documents as one compressed row per (lexeme, segment). A document
// is written as a segment of its own in the transaction that makes it ready;
// a background merge (src/search-index/index-merger.ts) combines segments as
// they accumulate, as an LSM tree does, and drops deleted documents' postings.
//
// org_ordinals hands out each organisation's chunk ordinals (never reused).
export const orgOrdinals = pgTable('org_ordinals', {
  orgId: uuid('org_id').primaryKey().references(() => orgs.id, { onDelete: 'cascade' }),
  nextOrdinal: integer('next_ordinal').notNull()
})

export const indexSegments = pgTable('index_segments', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  segmentId: bigint('segment_id', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
  // floor(log10(chunks)): the merge policy combines ten segments of one level.
  level: smallint('level').notNull(),
  // The ordinal the segment's relative ordinals count from; null only inside the
  // transaction that writes the segment, until its ordinals are allocated.
  baseOrdinal: integer('base_ordinal'),
  // One past the last relative ordinal.
  ordinalSpan: integer('ordinal_span').notNull(),
  chunkCount: integer('chunk_count').notNull(),
  documentCount: integer('document_count').notNull(),
  // JSON (segment-documents.ts): each document's first relative ordinal, chunk count, metadata.
  documents: bytea('documents').notNull(),
  // A small segment's terms, all in this one value (segment-builder.ts packTerms),
  // instead of index_terms rows: a document becomes one row, not one per lexeme.
  packed: bytea('packed')
}, (table) => [
  primaryKey({ columns: [table.orgId, table.segmentId] })
])

// Segment first: one index serves a query (its lexemes in each live segment:
// segment_id = any(…) and lexeme = any(…), one probe per pair), a merge (each
// segment's rows in lexeme order) and a segment's deletion (the cascade).
export const indexTerms = pgTable('index_terms', {
  orgId: uuid('org_id').notNull(),
  lexeme: text('lexeme').notNull(),
  segmentId: bigint('segment_id', { mode: 'number' }).notNull(),
  df: integer('df').notNull(),
  // posting-codec.ts
  postings: bytea('postings').notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.segmentId, table.lexeme] }),
  foreignKey({ columns: [table.orgId, table.segmentId], foreignColumns: [indexSegments.orgId, indexSegments.segmentId] }).onDelete('cascade')
])

// Documents deleted (or re-indexed) whose postings are still in a segment: a
// query skips their ordinals, and until a merge drops them their lexemes'
// counts are taken off df, so statistics stay exactly those of the ready documents.
export const indexDeletions = pgTable('index_deletions', {
  orgId: uuid('org_id').notNull().references(() => orgs.id, { onDelete: 'cascade' }),
  firstOrdinal: integer('first_ordinal').notNull(),
  chunkCount: integer('chunk_count').notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.firstOrdinal] })
])

export const indexDeletedTerms = pgTable('index_deleted_terms', {
  orgId: uuid('org_id').notNull(),
  lexeme: text('lexeme').notNull(),
  firstOrdinal: integer('first_ordinal').notNull(),
  // The deleted document's chunks holding the lexeme.
  chunks: integer('chunks').notNull()
}, (table) => [
  primaryKey({ columns: [table.orgId, table.lexeme, table.firstOrdinal] }),
  // The cascade when a merge drops a deletion: without it, each one scanned the organisation's rows.
  index('index_deleted_terms_deletion_idx').on(table.orgId, table.firstOrdinal),
  foreignKey({ columns: [table.orgId, table.firstOrdinal], foreignColumns: [indexDeletions.orgId, indexDeletions.firstOrdinal] }).onDelete('cascade')
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
