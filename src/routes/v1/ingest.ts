// POST /v1/ingest, /v1/ingest/file and /v1/ingest/url: accept documents durably and answer 202 at once.
import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { insertDocuments, type NewDocument } from '../../repositories/documents.repo.js'
import { AUTHENTICATED_ERRORS, errorResponses } from '../../schemas/common.js'
import { IngestAccepted, IngestFileFields, IngestFileForm, IngestHeaders, IngestTextBody, IngestUrlBody } from '../../schemas/documents.js'
import { buildAjv } from '../../schemas/ajv.js'
import { BadRequestError, UnprocessableError } from '../../errors/http-errors.js'
import { describeValidationError } from '../../errors/validation-detail.js'
import { assertStorableStrings } from '../../errors/storable-strings.js'
import { MAX_UPLOAD_BYTES, receiveUpload, UnsupportedFileError, type ReceivedFile } from '../../ingest/receive-upload.js'
import { checkUrl, UrlRefusedError } from '../../ingest/url/fetch-url.js'
import { hashRequest, readIdempotencyKey, withIdempotencyKey } from '../../ingest/idempotency.js'

const security = [{ bearerAuth: [] }]
const INGEST_ERRORS = [...AUTHENTICATED_ERRORS, 409] as const
const DEFAULT_CHUNK_SIZE = 512
const DEFAULT_CHUNK_OVERLAP = 64

function chunking (chunkSize: number | undefined, chunkOverlap: number | undefined): { chunkSize: number, chunkOverlap: number } {
  const size = chunkSize ?? DEFAULT_CHUNK_SIZE
  const overlap = chunkOverlap ?? DEFAULT_CHUNK_OVERLAP
  if (overlap >= size) throw new UnprocessableError('chunk_overlap must be less than chunk_size')
  return { chunkSize: size, chunkOverlap: overlap }
}

const validateFileFields = buildAjv(false).compile(IngestFileFields)

// busboy reports a broken body (no boundary, a truncated part, a bad part header) as a plain Error: the client's fault.
const MULTIPART_SYNTAX = /boundary|unexpected end|malformed|part header|part terminated early|multipart|needle cannot have a length/i

function asMultipartError (error: unknown): unknown {
  if (!(error instanceof Error) || (error as { statusCode?: number }).statusCode !== undefined) return error
  return MULTIPART_SYNTAX.test(error.message) ? new BadRequestError('Malformed multipart body') : error
}

/** Form fields arrive as text; convert them, then apply the same rules as the JSON endpoints. */
function parseFileFields (fields: Record<string, string>): { metadata: Record<string, string>, chunkSize: number, chunkOverlap: number } {
  const values: Record<string, unknown> = {}
  if (fields.metadata !== undefined && fields.metadata.trim() !== '') {
    try {
      values.metadata = JSON.parse(fields.metadata)
    } catch {
      throw new UnprocessableError('metadata must be a JSON object of strings')
    }
    assertStorableStrings({ metadata: values.metadata })
  }
  for (const name of ['chunk_size', 'chunk_overlap'] as const) {
    const raw = fields[name]?.trim()
    if (raw === undefined || raw === '') continue
    if (!/^-?\d+$/.test(raw)) throw new UnprocessableError(`${name} must be an integer`)
    values[name] = Number(raw)
  }
  if (validateFileFields(values) !== true) {
    throw new UnprocessableError(describeValidationError(validateFileFields.errors ?? [], 'body', false).detail)
  }
  return { metadata: (values.metadata ?? {}) as Record<string, string>, ...chunking(values.chunk_size as number | undefined, values.chunk_overlap as number | undefined) }
}

const ingestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 20, fieldSize: 1024 * 1024, parts: 25 } })
  // A malformed Idempotency-Key is refused before any body is read (after authentication, which the parent's onRequest runs first).
  app.addHook('onRequest', async (request) => { readIdempotencyKey(request.headers) })

  app.post('/ingest', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestText',
      summary: 'Ingest text documents',
      description: 'Stores 1–50 documents and queues them; answers 202 at once. A document is queryable when its status is ready.',
      security,
      headers: IngestHeaders,
      body: IngestTextBody,
      response: { 202: { ...IngestAccepted, description: 'Accepted; IDs in the order of the documents' }, ...errorResponses(...INGEST_ERRORS) }
    }
  }, async (request, reply) => {
    const { orgId } = request.org
    const { chunkSize, chunkOverlap } = chunking(request.body.chunk_size, request.body.chunk_overlap)
    request.body.documents.forEach((document, index) => {
      if (document.text.trim() === '') throw new UnprocessableError(`documents[${index}].text must not be empty`)
    })
    const requestHash = (): string => hashRequest({ endpoint: 'POST /v1/ingest', body: request.body })
    const ids = await withIdempotencyKey(app.db, orgId, readIdempotencyKey(request.headers), request.log, async (guard) =>
      guard.replay(requestHash) ?? await insertDocuments(app.db, orgId, request.body.documents.map((document) => ({
        document: { sourceType: 'text', filename: document.filename ?? null, format: 'text', metadata: document.metadata ?? {}, chunkSize, chunkOverlap } satisfies NewDocument,
        payload: { text: document.text }
      })), guard.completion(requestHash)))
    return await reply.code(202).send({ status: 'accepted', org_id: orgId, queued: ids.length, document_ids: ids })
  })

  app.post('/ingest/file', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestFile',
      summary: 'Ingest a file',
      description: 'multipart/form-data with a `file` part (.pdf, .docx, .txt, .md; at most 100 MB) and optional `metadata` (a JSON object of strings), `chunk_size` and `chunk_overlap`. The type is judged by content, not only the name. A damaged file or one without text is accepted and then ends failed with an error_message.',
      security,
      consumes: ['multipart/form-data'],
      headers: IngestHeaders,
      body: IngestFileForm,
      response: { 202: { ...IngestAccepted, description: 'Accepted' }, ...errorResponses(...INGEST_ERRORS) }
    },
    // The form is checked part by part as it streams in, not as a parsed body
    // (and the Idempotency-Key header by the onRequest hook above).
    validatorCompiler: () => () => true
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new UnsupportedFileError('Send the file as multipart/form-data with a "file" part')
    const { orgId } = request.org
    // The key is claimed before the upload streams in, so a duplicate sent meanwhile gets 409 at once.
    const ids = await withIdempotencyKey(app.db, orgId, readIdempotencyKey(request.headers), request.log, async (guard) => {
      const fields: Record<string, string> = {}
      let received: (ReceivedFile & { contentType: string }) | undefined
      try {
        try {
          for await (const part of request.parts()) {
            if (part.type === 'file') {
              if (part.fieldname !== 'file' || received !== undefined) {
                part.file.resume()
                continue
              }
              received = { ...await receiveUpload(part), contentType: part.mimetype }
            } else {
              fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value)
            }
          }
        } catch (error) {
          throw asMultipartError(error)
        }
        if (received === undefined) throw new BadRequestError('field \'file\' is required')
        const { metadata, chunkSize, chunkOverlap } = parseFileFields(fields)
        // The request as received: every text field, and the file by its name, declared type and bytes.
        const file = received
        const requestHash = (): string => hashRequest({
          endpoint: 'POST /v1/ingest/file',
          fields,
          file: { filename: file.filename, content_type: file.contentType, size: file.size, sha256: file.sha256 }
        })
        return guard.replay(requestHash) ?? await insertDocuments(app.db, orgId, [{
          document: { sourceType: 'file', filename: received.filename, format: received.format, metadata, chunkSize, chunkOverlap },
          payload: { filePath: received.path }
        }], guard.completion(requestHash))
      } finally {
        received?.discard()
      }
    })
    return await reply.code(202).send({ status: 'accepted', org_id: orgId, queued: ids.length, document_ids: ids })
  })

  app.post('/ingest/url', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestUrl',
      summary: 'Ingest a web page or file by URL',
      description: 'The server fetches the URL (HTML → main text; PDF, DOCX, text and Markdown as for files). Only http/https; loopback, private and link-local addresses are refused (422) unless the deployment allows them (cloud-metadata addresses always are); redirects are re-checked; size and time are bounded.',
      security,
      headers: IngestHeaders,
      body: IngestUrlBody,
      response: { 202: { ...IngestAccepted, description: 'Accepted' }, ...errorResponses(...INGEST_ERRORS) }
    }
  }, async (request, reply) => {
    const { orgId } = request.org
    const { chunkSize, chunkOverlap } = chunking(request.body.chunk_size, request.body.chunk_overlap)
    const requestHash = (): string => hashRequest({ endpoint: 'POST /v1/ingest/url', body: request.body })
    const ids = await withIdempotencyKey(app.db, orgId, readIdempotencyKey(request.headers), request.log, async (guard) => {
      // A replay answers from the record: the address is not looked up again.
      const replayed = guard.replay(requestHash)
      if (replayed !== undefined) return replayed
      let url: URL
      try {
        url = await checkUrl(request.body.url, { allowPrivate: app.config.urlAllowPrivate })
      } catch (error) {
        if (error instanceof UrlRefusedError) throw new UnprocessableError(error.message)
        throw error
      }
      return await insertDocuments(app.db, orgId, [{
        document: { sourceType: 'url', filename: url.href, format: null, metadata: request.body.metadata ?? {}, chunkSize, chunkOverlap },
        payload: { url: url.href }
      }], guard.completion(requestHash))
    })
    return await reply.code(202).send({ status: 'accepted', org_id: orgId, queued: ids.length, document_ids: ids })
  })
}

export default ingestRoutes
