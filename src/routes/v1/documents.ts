// GET/DELETE/PATCH /v1/documents/{document_id} and GET /v1/documents (newest first, cursor pages).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { deleteDocument, getDocument, listDocuments, replaceDocumentMetadata, type DocumentRecord } from '../../repositories/documents.repo.js'
import { errorResponses } from '../../schemas/common.js'
import { DocumentListQuery, DocumentObject, DocumentParams, PatchDocumentBody, type DocumentObjectType } from '../../schemas/documents.js'
import { NotFoundError, UnprocessableError } from '../../errors/http-errors.js'
import { toApiTimestamp } from '../../time.js'

const security = [{ bearerAuth: [] }]

export function toDocumentObject (record: DocumentRecord): DocumentObjectType {
  return {
    id: record.id,
    filename: record.filename,
    source_type: record.sourceType,
    metadata: record.metadata,
    status: record.status,
    error_message: record.errorMessage,
    chunk_count: record.chunkCount,
    created_at: toApiTimestamp(record.createdAt),
    updated_at: toApiTimestamp(record.updatedAt)
  }
}

function encodeCursor (beforeSeq: number): string {
  return Buffer.from(`d1:${beforeSeq}`).toString('base64url')
}

function decodeCursor (cursor: string): number {
  const match = /^d1:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (match === null) throw new UnprocessableError('cursor is not valid; use the URL from the previous page\'s Link header')
  return Number(match[1])
}

const documentsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const notFound = (): Error => new NotFoundError('Document not found')

  app.get('/documents/:document_id', {
    schema: {
      tags: ['documents'],
      operationId: 'getDocument',
      summary: 'Get a document',
      security,
      params: DocumentParams,
      response: { 200: { ...DocumentObject, description: 'The document' }, ...errorResponses(401, 403, 404, 422, 429, 500, 503) }
    }
  }, async (request) => {
    const record = await getDocument(app.db, request.org.orgId, request.params.document_id)
    if (record === undefined) throw notFound()
    return toDocumentObject(record)
  })

  app.get('/documents', {
    schema: {
      tags: ['documents'],
      operationId: 'listDocuments',
      summary: 'List documents, newest first',
      description: 'When more remain, a `Link: <…>; rel="next"` header gives the next page\'s URL.',
      security,
      querystring: DocumentListQuery,
      response: {
        200: Type.Array(DocumentObject, { description: 'A page of documents, newest first' }),
        ...errorResponses(401, 403, 422, 429, 500, 503)
      }
    }
  }, async (request, reply) => {
    const { limit = 100, cursor, status } = request.query
    const page = await listDocuments(app.db, request.org.orgId, {
      limit,
      beforeSeq: cursor === undefined ? undefined : decodeCursor(cursor),
      status
    })
    if (page.nextBeforeSeq !== undefined) {
      const next = new URLSearchParams({ limit: String(limit), cursor: encodeCursor(page.nextBeforeSeq) })
      if (status !== undefined) next.set('status', status)
      reply.header('link', `</v1/documents?${next.toString()}>; rel="next"`)
    }
    return page.documents.map(toDocumentObject)
  })

  app.delete('/documents/:document_id', {
    schema: {
      tags: ['documents'],
      operationId: 'deleteDocument',
      summary: 'Delete a document and all its chunks',
      description: 'No later query cites it, even if it was still processing.',
      security,
      params: DocumentParams,
      response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 500, 503) }
    }
  }, async (request, reply) => {
    if (!await deleteDocument(app.db, request.org.orgId, request.params.document_id)) throw notFound()
    return await reply.code(204).send(null)
  })

  app.patch('/documents/:document_id', {
    schema: {
      tags: ['documents'],
      operationId: 'updateDocumentMetadata',
      summary: 'Replace a document\'s metadata',
      description: 'Without re-ingesting; filters see the new metadata at once.',
      security,
      params: DocumentParams,
      body: PatchDocumentBody,
      response: { 200: { ...DocumentObject, description: 'The updated document' }, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 500, 503) }
    }
  }, async (request) => {
    const record = await replaceDocumentMetadata(app.db, request.org.orgId, request.params.document_id, request.body.metadata)
    if (record === undefined) throw notFound()
    return toDocumentObject(record)
  })
}

export default documentsRoutes
