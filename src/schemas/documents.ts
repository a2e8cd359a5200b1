// Schemas of ingest and documents: request bodies, the document object, listing parameters.
import { Type, type Static } from 'typebox'
import { Timestamp, Uuid } from './common.js'

export const METADATA_LIMITS = { keys: 64, keyLength: 256, valueLength: 8192 }

export const Metadata = Type.Record(
  Type.String(),
  Type.String({ maxLength: METADATA_LIMITS.valueLength }),
  {
    maxProperties: METADATA_LIMITS.keys,
    propertyNames: { minLength: 1, maxLength: METADATA_LIMITS.keyLength },
    description: `String values only; at most ${METADATA_LIMITS.keys} keys of 1–${METADATA_LIMITS.keyLength} characters, values of at most ${METADATA_LIMITS.valueLength} characters.`
  }
)

export const ChunkSize = Type.Integer({ minimum: 128, maximum: 4096, default: 512, description: 'Tokens per chunk.' })
export const ChunkOverlap = Type.Integer({ minimum: 0, maximum: 512, default: 64, description: 'Tokens shared by consecutive chunks; less than chunk_size.' })

export const IngestTextBody = Type.Object({
  documents: Type.Array(Type.Object({
    text: Type.String({ minLength: 1, description: 'Non-empty after trimming.' }),
    metadata: Type.Optional(Metadata),
    filename: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], { description: 'Shown as the citation source.' }))
  }, { additionalProperties: false }), { minItems: 1, maxItems: 50 }),
  chunk_size: Type.Optional(ChunkSize),
  chunk_overlap: Type.Optional(ChunkOverlap)
}, { additionalProperties: false })

export const IngestUrlBody = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'An http(s) URL of an HTML page, PDF, DOCX, text or Markdown file.' }),
  metadata: Type.Optional(Metadata),
  chunk_size: Type.Optional(ChunkSize),
  chunk_overlap: Type.Optional(ChunkOverlap)
}, { additionalProperties: false })

/** The multipart form, for the OpenAPI document; parts are checked as they stream in. */
export const IngestFileForm = Type.Object({
  file: Type.String({ format: 'binary', description: '.pdf, .docx, .txt or .md, at most 100 MB; the type is judged by content as well as name.' }),
  metadata: Type.Optional(Type.String({ description: 'A JSON object of strings, e.g. {"department":"HR"}.' })),
  chunk_size: Type.Optional(Type.String({ description: 'Integer 128–4096, default 512.' })),
  chunk_overlap: Type.Optional(Type.String({ description: 'Integer 0–512 and less than chunk_size, default 64.' }))
})

/** The non-file form fields after conversion from text, validated with the same rules as JSON ingest. */
export const IngestFileFields = Type.Object({
  metadata: Type.Optional(Metadata),
  chunk_size: Type.Optional(ChunkSize),
  chunk_overlap: Type.Optional(ChunkOverlap)
})

/** Optional on every ingest endpoint (checked before the body is read; the rules are repeated here for the spec). */
export const IngestHeaders = Type.Object({
  'Idempotency-Key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x20-\\x7E]+$',
    description: 'Safe retries: 1–255 printable ASCII characters, e.g. a UUID, scoped to the organisation. The same key with the same request within 24 hours returns the original 202 (same document_ids) and ingests nothing new; with a different request → 422; while the first request with the key is still being handled → 409. A request that fails does not keep its key.'
  }))
})

export const IngestAccepted = Type.Object({
  status: Type.Literal('accepted'),
  org_id: Uuid,
  queued: Type.Integer(),
  document_ids: Type.Array(Uuid, { description: 'In the order of the documents sent.' })
}, { title: 'IngestAccepted', additionalProperties: false })

export const DocumentObject = Type.Object({
  id: Uuid,
  filename: Type.Union([Type.String(), Type.Null()]),
  source_type: Type.Union([Type.Literal('text'), Type.Literal('file'), Type.Literal('url')]),
  metadata: Type.Record(Type.String(), Type.String()),
  status: Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('failed')]),
  error_message: Type.Union([Type.String(), Type.Null()]),
  chunk_count: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp
}, { title: 'Document', additionalProperties: false })

export const DocumentParams = Type.Object({
  document_id: Type.String({ format: 'uuid', description: 'The document\'s ID.' })
})

export const DocumentListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'Opaque, from the previous page\'s Link header.' })),
  status: Type.Optional(Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('failed')]))
})

export const PatchDocumentBody = Type.Object({
  metadata: Metadata
}, { additionalProperties: false })

export type IngestTextBodyType = Static<typeof IngestTextBody>
export type DocumentObjectType = Static<typeof DocumentObject>
export type MetadataType = Static<typeof Metadata>
