// One interface over the two answerers: the extractive one (always there) and a language model (when configured), whole or streamed.
import type { FastifyBaseLogger } from 'fastify'
import { type Answer, type Citation, NOT_FOUND_ANSWER, type RetrievedChunk } from '../answer/answer-types.js'
import { answerExtractively, answerPieces } from '../answer/extractive.js'
import { answerWithLlm, streamAnswerWithLlm, type LlmAnswerOutcome } from '../answer/llm-answerer.js'
import type { LlmConfig } from '../answer/llm-client.js'

export interface AnswerContext {
  /** undefined: the extractive answerer alone. */
  llm: LlmConfig | undefined
  log: FastifyBaseLogger
  /** Aborted when the client goes away: an LLM call in flight is cancelled. */
  signal?: AbortSignal
}

/** Where a streamed answer goes: its citations first, then its text piece by piece. */
export interface AnswerSink {
  citations: (citations: Citation[]) => void
  token: (text: string) => void
}

/** The stream cannot be completed: part of an answer was sent and the rest failed. Sent as an SSE error event. */
export class AnswerInterruptedError extends Error {
  override name = 'AnswerInterruptedError'
}

/**
 * With a model, its citations are the passages it was given (it was told to
 * answer from them alone and not to number them), each whole, scored by
 * retrieval's 0–1 relevance, best first.
 */
function passagesAsCitations (chunks: RetrievedChunk[]): Citation[] {
  return chunks.map((chunk) => ({
    text: chunk.text,
    source: chunk.source,
    score: chunk.score,
    documentId: chunk.documentId,
    chunkIndex: chunk.chunkIndex,
    metadata: chunk.metadata,
    start: chunk.start,
    end: chunk.end
  }))
}

function notFound (): Answer {
  return { answer: NOT_FOUND_ANSWER, citations: [], found: false }
}

function fromLlm (outcome: LlmAnswerOutcome, chunks: RetrievedChunk[]): Answer | undefined {
  if (outcome.kind === 'answer') return { answer: outcome.text, citations: passagesAsCitations(chunks), found: true }
  if (outcome.kind === 'not_found') return notFound()
  return undefined
}

function logFallback (context: AnswerContext, error: Error): void {
  // The message of an LlmError never holds the API key (llm-client.ts).
  context.log.warn({ err: { type: error.name, message: error.message } }, 'LLM answer failed; answering extractively')
}

/** The answer to `question` from `chunks` (retrieval's, best first). A failing model falls back to the extractive answer. */
export async function answerQuestion (question: string, chunks: RetrievedChunk[], context: AnswerContext): Promise<Answer> {
  if (context.llm !== undefined && chunks.length > 0) {
    const outcome = await answerWithLlm(context.llm, question, chunks, context.signal)
    const answer = fromLlm(outcome, chunks)
    if (answer !== undefined) return answer
    // A client that left gets no answer: nothing to log, nothing to fall back to.
    if (context.signal?.aborted === true) throw new AnswerInterruptedError('The client went away')
    if (outcome.kind === 'failed') logFallback(context, outcome.error)
  }
  return answerExtractively(question, chunks)
}

function sendExtractive (answer: Answer, sink: AnswerSink): void {
  sink.citations(answer.citations)
  for (const piece of answerPieces(answer)) sink.token(piece)
}

/**
 * Streams the answer into `sink` and returns it whole. The extractive answer
 * goes out sentence by sentence. A model's tokens go out as they arrive, its
 * citations just before the first of them (so a "not found" never follows
 * citations). A model that fails before sending anything falls back to the
 * extractive answer; one that fails midway throws AnswerInterruptedError.
 */
export async function streamAnswer (question: string, chunks: RetrievedChunk[], sink: AnswerSink, context: AnswerContext): Promise<Answer> {
  if (context.llm !== undefined && chunks.length > 0) {
    let started = false
    const outcome = await streamAnswerWithLlm(context.llm, question, chunks, (text) => {
      if (!started) sink.citations(passagesAsCitations(chunks))
      started = true
      sink.token(text)
    }, context.signal)
    if (context.signal?.aborted === true) throw new AnswerInterruptedError('The client went away')
    if (outcome.kind === 'failed' && outcome.tokensSent > 0) {
      context.log.warn({ err: { type: outcome.error.name, message: outcome.error.message } }, 'LLM answer failed midway through a stream')
      throw new AnswerInterruptedError('The answer could not be completed: the language model failed')
    }
    const answer = fromLlm(outcome, chunks)
    if (answer !== undefined) {
      if (!answer.found) sendExtractive(answer, sink)
      return answer
    }
    if (outcome.kind === 'failed') logFallback(context, outcome.error)
  }
  const answer = answerExtractively(question, chunks)
  sendExtractive(answer, sink)
  return answer
}
