// POST /v1/query, /v1/query/stream and /v1/search: retrieval over the organisation's ready documents, and answers with citations.
import sseModule, { type SSEPluginOptions } from '@fastify/sse'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Answer, Citation } from '../../answer/answer-types.js'
import { UnprocessableError } from '../../errors/http-errors.js'
import { type AnswerContext, AnswerInterruptedError, answerQuestion, streamAnswer } from '../../query/answer-question.js'
import { retrieve, sourceOf, toRetrievedChunk } from '../../query/retrieve.js'
import { AUTHENTICATED_ERRORS, errorResponses } from '../../schemas/common.js'
import { type CitationType, QueryBody, type QueryBodyType, type QueryResponseType, SearchBody, SearchResponse } from '../../schemas/query.js'
import type { OrgId } from '../../org-id.js'

// The package's module.exports is the plugin wrapped by fastify-plugin (so its route hook reaches this scope);
// its types describe only the unwrapped named export.
const sse = sseModule as unknown as FastifyPluginAsync<SSEPluginOptions>

const security = [{ bearerAuth: [] }]

export function toCitationObject (citation: Citation): CitationType {
  return {
    text: citation.text,
    source: citation.source,
    score: citation.score,
    document_id: citation.documentId,
    chunk_index: citation.chunkIndex,
    metadata: citation.metadata,
    start: citation.start,
    end: citation.end
  }
}

function requireText (value: string, field: string): void {
  if (value.trim() === '') throw new UnprocessableError(`${field} must not be empty`)
}

/** Aborted when the client hangs up before the response is complete, so a model call in flight stops. */
function clientGone (request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('The client closed the connection'))
  })
  request.raw.on('aborted', () => { controller.abort(new Error('The client closed the connection')) })
  return controller.signal
}

const STREAM_DESCRIPTION = [
  'Server-sent events, in this order: `citations` (data: `StreamCitationsEvent`), then `token` events (data: `StreamTokenEvent`)',
  'whose texts join to the answer, then `done` (data: `QueryResponse`, the same object POST /v1/query returns).',
  'An error after the stream started is sent as an `error` event (data: `ErrorBody`) and ends the stream.'
].join(' ')

const queryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(sse, { heartbeatInterval: 15_000 })
  const { bm25, llm } = app.config

  async function retrieveForQuestion (orgId: OrgId, body: QueryBodyType) {
    const { question, filters, top_k: topK = 6 } = body
    requireText(question, 'question')
    const hits = await retrieve(app.db, orgId, { text: question, filters, topK }, bm25)
    return hits.map(toRetrievedChunk)
  }

  function toResponse (answer: Answer, orgId: string): QueryResponseType {
    return { answer: answer.answer, citations: answer.citations.map(toCitationObject), org_id: orgId }
  }

  app.post('/query', {
    schema: {
      tags: ['query'],
      operationId: 'query',
      summary: 'Answer a question from the organisation\'s documents',
      description: 'Retrieves the best chunks of ready documents matching the filters, then answers from them with the passages used as citations. When the documents do not contain the answer, the answer says so and there are no citations.',
      security,
      body: QueryBody,
      response: { 200: { ...Type.Ref('QueryResponse'), description: 'The answer and its citations' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    }
  }, async (request, reply) => {
    const chunks = await retrieveForQuestion(request.org.orgId, request.body)
    const context: AnswerContext = { llm, log: request.log, signal: clientGone(request, reply) }
    try {
      return toResponse(await answerQuestion(request.body.question, chunks, context), request.org.orgId)
    } catch (error) {
      if (!(error instanceof AnswerInterruptedError)) throw error
      // The client hung up while the model was answering: there is no one to reply to.
      request.log.info('query abandoned by the client')
      return reply.hijack()
    }
  })

  app.post('/query/stream', {
    sse: { kind: 'manual' },
    schema: {
      tags: ['query'],
      operationId: 'queryStream',
      summary: 'Answer a question, streamed as server-sent events',
      description: `Same request as POST /v1/query. ${STREAM_DESCRIPTION} Errors before the stream starts use the normal status codes and body.`,
      security,
      body: QueryBody,
      response: {
        200: {
          description: STREAM_DESCRIPTION,
          content: { 'text/event-stream': { schema: Type.String({ description: 'event: citations|token|done|error, data: JSON' }) } }
        },
        ...errorResponses(...AUTHENTICATED_ERRORS)
      }
    }
  }, async (request, reply) => {
    const chunks = await retrieveForQuestion(request.org.orgId, request.body)
    const signal = clientGone(request, reply)
    // Events are written in order; a write to a client that left is dropped.
    let writes = Promise.resolve()
    const emit = (event: string, data: unknown): void => {
      writes = writes.then(async () => {
        if (reply.sse.isConnected) await reply.sse.send({ event, data })
      })
    }
    try {
      const answer = await streamAnswer(request.body.question, chunks, {
        citations: (citations) => { emit('citations', { citations: citations.map(toCitationObject) }) },
        token: (text) => { emit('token', { text }) }
      }, { llm, log: request.log, signal })
      emit('done', toResponse(answer, request.org.orgId))
    } catch (error) {
      if (!(error instanceof AnswerInterruptedError)) request.log.error({ err: error }, 'query stream failed')
      emit('error', { detail: error instanceof AnswerInterruptedError ? error.message : 'Internal server error' })
    }
    await writes.catch((error: unknown) => { request.log.info({ err: error }, 'query stream closed early') })
  })

  app.post('/search', {
    schema: {
      tags: ['query'],
      operationId: 'search',
      summary: 'Retrieve the best-matching chunks, without an answer',
      description: 'The same ranking POST /v1/query uses, for clients that build their own prompts or interfaces. `text` is the whole chunk.',
      security,
      body: SearchBody,
      response: { 200: { ...SearchResponse, description: 'The best chunks, best first' }, ...errorResponses(...AUTHENTICATED_ERRORS) }
    }
  }, async (request) => {
    const { query, filters, top_k: topK = 10 } = request.body
    requireText(query, 'query')
    const hits = await retrieve(app.db, request.org.orgId, { text: query, filters, topK }, bm25)
    return {
      results: hits.map((hit) => ({
        text: hit.text,
        source: sourceOf(hit),
        score: hit.relevance,
        document_id: hit.documentId,
        chunk_index: hit.chunkIndex,
        metadata: hit.metadata,
        start: hit.start,
        end: hit.end
      })),
      org_id: request.org.orgId
    }
  })
}

export default queryRoutes
