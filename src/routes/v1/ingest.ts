// POST /v1/ingest, /v1/ingest/file and /v1/ingest/url: accept documents durably and answer 202 at once.
import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { insertDocuments, type NewDocument } from '../../repositories/documents.repo.js'
import { AUTHENTICATED_ERRORS, errorResponses } from '../../schemas/common.js'
import { IngestAccepted, IngestFileFields, IngestFileForm, IngestTextBody, IngestUrlBody } from '../../schemas/documents.js'
import { buildAjv } from '../../schemas/ajv.js'
import { BadRequestError, UnprocessableError } from '../../errors/http-errors.js'
import { describeValidationError } from '../../errors/validation-detail.js'
import { assertStorableStrings } from '../../errors/storable-strings.js'
import { MAX_UPLOAD_BYTES, receiveUpload, UnsupportedFileError, type ReceivedFile } from '../../ingest/receive-upload.js'
import { checkUrl, UrlRefusedError } from '../../ingest/url/fetch-url.js'

const security = [{ bearerAuth: [] }]
const DEFAULT_CHUNK_SIZE = 512
const DEFAULT_CHUNK_OVERLAP = 64

function chunking (chunkSize: number | undefined, chunkOverlap: number | undefined): { chunkSize: number, chunkOverlap: number } {
  const size = chunkSize ?? DEFAULT_CHUNK_SIZE
  const overlap = chunkOverlap ?? DEFAULT_CHUNK_OVERLAP
  if (overlap >= size) throw new UnprocessableError('chunk_overlap must be less than chunk_size')
  return { chunkSize: size, chunkOverlap: overlap }
}

const validateFileFields = buildAjv(false).compile(IngestFileFields)

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

  app.post('/ingest', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestText',
      summary: 'Ingest text documents',
      description: 'Stores 1–50 documents and queues them; answers 202 at once. A document is queryable when its status is ready.',
      security,
      body: IngestTextBody,
      response: { 202: { ...IngestAccepted, description: 'Accepted; IDs in the order of the documents' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    }
  }, async (request, reply) => {
    const { chunkSize, chunkOverlap } = chunking(request.body.chunk_size, request.body.chunk_overlap)
    request.body.documents.forEach((document, index) => {
      if (document.text.trim() === '') throw new UnprocessableError(`documents[${index}].text must not be empty`)
    })
    const ids = await insertDocuments(app.db, request.org.orgId, request.body.documents.map((document) => ({
      document: { sourceType: 'text', filename: document.filename ?? null, format: 'text', metadata: document.metadata ?? {}, chunkSize, chunkOverlap } satisfies NewDocument,
      payload: { text: document.text }
    })))
    return await reply.code(202).send({ status: 'accepted', org_id: request.org.orgId, queued: ids.length, document_ids: ids })
  })

  app.post('/ingest/file', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestFile',
      summary: 'Ingest a file',
      description: 'multipart/form-data with a `file` part (.pdf, .docx, .txt, .md; at most 100 MB) and optional `metadata` (a JSON object of strings), `chunk_size` and `chunk_overlap`. The type is judged by content, not only the name. A damaged file or one without text is accepted and then ends failed with an error_message.',
      security,
      consumes: ['multipart/form-data'],
      body: IngestFileForm,
      response: { 202: { ...IngestAccepted, description: 'Accepted' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    },
    // The form is checked part by part as it streams in, not as a parsed body.
    validatorCompiler: () => () => true
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new UnsupportedFileError('Send the file as multipart/form-data with a "file" part')
    const fields: Record<string, string> = {}
    let received: ReceivedFile | undefined
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || received !== undefined) {
            part.file.resume()
            continue
          }
          received = await receiveUpload(part)
        } else {
          fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value)
        }
      }
      if (received === undefined) throw new BadRequestError('field \'file\' is required')
      const { metadata, chunkSize, chunkOverlap } = parseFileFields(fields)
      const ids = await insertDocuments(app.db, request.org.orgId, [{
        document: { sourceType: 'file', filename: received.filename, format: received.format, metadata, chunkSize, chunkOverlap },
        payload: { filePath: received.path }
      }])
      return await reply.code(202).send({ status: 'accepted', org_id: request.org.orgId, queued: ids.length, document_ids: ids })
    } finally {
      received?.discard()
    }
  })

  app.post('/ingest/url', {
    schema: {
      tags: ['ingest'],
      operationId: 'ingestUrl',
      summary: 'Ingest a web page or file by URL',
      description: 'The server fetches the URL (HTML → main text; PDF, DOCX, text and Markdown as for files). Only http/https; loopback, private and link-local addresses are refused (422) unless the deployment allows them (cloud-metadata addresses always are); redirects are re-checked; size and time are bounded.',
      security,
      body: IngestUrlBody,
      response: { 202: { ...IngestAccepted, description: 'Accepted' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    }
  }, async (request, reply) => {
    const { chunkSize, chunkOverlap } = chunking(request.body.chunk_size, request.body.chunk_overlap)
    let url: URL
    try {
      url = await checkUrl(request.body.url, { allowPrivate: app.config.urlAllowPrivate })
    } catch (error) {
      if (error instanceof UrlRefusedError) throw new UnprocessableError(error.message)
      throw error
    }
    const ids = await insertDocuments(app.db, request.org.orgId, [{
      document: { sourceType: 'url', filename: url.href, format: null, metadata: request.body.metadata ?? {}, chunkSize, chunkOverlap },
      payload: { url: url.href }
    }])
    return await reply.code(202).send({ status: 'accepted', org_id: request.org.orgId, queued: ids.length, document_ids: ids })
  })
}

export default ingestRoutes
