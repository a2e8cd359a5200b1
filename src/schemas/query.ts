// Schemas of the query endpoints: request bodies, citations and search results, and the events of the answer stream.
import { Type, type Static } from 'typebox'
import { Uuid } from './common.js'
import { Filters } from '../retrieval/filter-schema.js'

export const QUESTION_MAX_LENGTH = 2000

const Question = Type.String({
  minLength: 1,
  maxLength: QUESTION_MAX_LENGTH,
  description: `Non-empty (after trimming), at most ${QUESTION_MAX_LENGTH} characters.`
})

export const QueryBody = Type.Object({
  question: Question,
  filters: Type.Optional(Filters),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 6, description: 'Chunks retrieved before the answer is chosen.' }))
}, { additionalProperties: false })

export const SearchBody = Type.Object({
  query: Type.String({ ...Question, description: `The search text: non-empty (after trimming), at most ${QUESTION_MAX_LENGTH} characters.` }),
  filters: Type.Optional(Filters),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Chunks to return.' }))
}, { additionalProperties: false })

const passageFields = {
  source: Type.String({ description: 'The document\'s filename, its URL, or its ID when it has neither.' }),
  score: Type.Number({ minimum: 0, maximum: 1, description: '0–1, higher is better; results come in descending order.' }),
  document_id: Uuid,
  chunk_index: Type.Integer({ minimum: 0 }),
  metadata: Type.Record(Type.String(), Type.String(), { description: 'The document\'s metadata.' }),
  start: Type.Integer({ minimum: 0, description: 'Offset of the passage in the document\'s extracted text (UTF-16 code units, as JavaScript counts).' }),
  end: Type.Integer({ minimum: 0, description: 'End offset (exclusive) in the document\'s extracted text.' })
}

export const Citation = Type.Object({
  text: Type.String({ description: 'The passage that supports the answer: the chunk trimmed around the sentences used, with "..." where it was cut. Without the "..." markers it is the text between start and end.' }),
  ...passageFields
}, { $id: 'Citation', title: 'Citation', additionalProperties: false })

const CitationRef = Type.Unsafe<Static<typeof Citation>>(Type.Ref('Citation'))
const Citations = Type.Array(CitationRef, { description: 'The passages the answer used, best first; empty when the documents hold no answer.' })

export const QueryResponse = Type.Object({
  answer: Type.String(),
  citations: Citations,
  org_id: Uuid
}, { $id: 'QueryResponse', title: 'QueryResponse', additionalProperties: false })

export const SearchResult = Type.Object({
  text: Type.String({ description: 'The whole chunk: the document\'s extracted text between start and end.' }),
  ...passageFields
}, { title: 'SearchResult', additionalProperties: false })

export const SearchResponse = Type.Object({
  results: Type.Array(SearchResult, { description: 'Best first, ranked as the query endpoints rank.' }),
  org_id: Uuid
}, { title: 'SearchResponse', additionalProperties: false })

// The data of each server-sent event of /v1/query/stream; the contract tests validate every event against these.
export const StreamCitationsEvent = Type.Object({ citations: Citations }, { $id: 'StreamCitationsEvent', title: 'StreamCitationsEvent', additionalProperties: false })
export const StreamTokenEvent = Type.Object({ text: Type.String() }, { $id: 'StreamTokenEvent', title: 'StreamTokenEvent', additionalProperties: false })

/** Every schema the stream's events refer to by $id, registered as OpenAPI components. */
export const QUERY_COMPONENTS = [Citation, QueryResponse, StreamCitationsEvent, StreamTokenEvent]

export type QueryBodyType = Static<typeof QueryBody>
export type SearchBodyType = Static<typeof SearchBody>
export type CitationType = Static<typeof Citation>
export type QueryResponseType = Static<typeof QueryResponse>
export type SearchResultType = Static<typeof SearchResult>
