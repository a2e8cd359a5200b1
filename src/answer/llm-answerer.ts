// Has the language model write the answer from the retrieved passages, whole or token by token, and recognises its "not found".
import { complete, LlmError, streamCompletion, type LlmConfig } from './llm-client.js'
import { buildMessages, LLM_NOT_FOUND, type PromptPassage } from './prompt.js'

export type LlmAnswerOutcome =
  | { kind: 'answer', text: string }
  | { kind: 'not_found' }
  | { kind: 'failed', error: LlmError | Error }

const SENTINEL_LETTERS = lettersAndDigits(LLM_NOT_FOUND)
// The sentinel itself, with its underscore, then an explanation: small models often add one.
const STARTS_WITH_SENTINEL = new RegExp(`^[^\\p{L}\\p{N}]*${LLM_NOT_FOUND}(?![\\p{L}\\p{N}_])`, 'u')
const THINK_OPEN = '<think>'
const THINK_CLOSE = '</think>'

function lettersAndDigits (text: string): string {
  return text.replace(/[^\p{L}\p{N}]/gu, '').toUpperCase()
}

/**
 * NOT_FOUND in any case, with any punctuation or whitespace ("not found.",
 * "**NOT_FOUND**"), or the exact sentinel followed by an explanation.
 */
export function isNotFoundAnswer (text: string): boolean {
  const trimmed = text.trim()
  return lettersAndDigits(trimmed) === SENTINEL_LETTERS || STARTS_WITH_SENTINEL.test(trimmed)
}

/**
 * Reasoning models (DeepSeek-R1, Qwen3 on some servers) put their thinking in
 * the content as a leading <think>…</think> block; it is not the answer.
 * undefined while the text could still be, or is inside, such a block.
 */
function withoutLeadingReasoning (text: string): string | undefined {
  const start = text.trimStart()
  if (start.length < THINK_OPEN.length) return THINK_OPEN.startsWith(start) && start !== '' ? undefined : text
  if (!start.startsWith(THINK_OPEN)) return text
  const close = start.indexOf(THINK_CLOSE)
  return close === -1 ? undefined : start.slice(close + THINK_CLOSE.length)
}

function asError (error: unknown): LlmError | Error {
  if (error instanceof Error) return error
  return new LlmError(typeof error === 'string' ? error : 'The LLM call was cancelled')
}

function emptyAnswer (): LlmAnswerOutcome {
  return { kind: 'failed', error: new LlmError('LLM endpoint returned an empty answer') }
}

/** Non-streaming. No passages → not_found without a call: there is nothing to answer from. */
export async function answerWithLlm (config: LlmConfig, question: string, passages: PromptPassage[], signal?: AbortSignal): Promise<LlmAnswerOutcome> {
  if (passages.length === 0) return { kind: 'not_found' }
  let content: string
  try {
    content = await complete(config, buildMessages(question, passages), signal)
  } catch (error) {
    return { kind: 'failed', error: asError(error) }
  }
  const text = (withoutLeadingReasoning(content) ?? '').trim()
  if (isNotFoundAnswer(text)) return { kind: 'not_found' }
  if (text === '') return emptyAnswer()
  return { kind: 'answer', text }
}

/**
 * Passes deltas on to onToken, except that it holds back the start of the
 * answer while it could still be NOT_FOUND (so "NOT_" never reaches a client),
 * a leading <think> block, leading whitespace, and trailing whitespace until
 * more text follows: the tokens sent join to exactly the final answer.
 */
class TokenRelay {
  tokensSent = 0
  #sent = ''
  #undecided = ''
  #decided = false
  #heldWhitespace = ''

  constructor (private readonly onToken: (text: string) => void) {}

  /** 'not_found' as soon as the answer is known to be the sentinel. */
  push (delta: string): 'more' | 'not_found' {
    if (this.#decided) {
      this.#send(delta)
      return 'more'
    }
    this.#undecided += delta
    const visible = withoutLeadingReasoning(this.#undecided)
    if (visible === undefined) return 'more'
    const start = visible.trimStart()
    if (SENTINEL_LETTERS.startsWith(lettersAndDigits(start))) return 'more'
    if (STARTS_WITH_SENTINEL.test(start)) return 'not_found'
    this.#decided = true
    this.#undecided = ''
    this.#send(start)
    return 'more'
  }

  /** After the last delta: the outcome, flushing a short answer that was held back as a possible sentinel. */
  finish (): LlmAnswerOutcome {
    if (!this.#decided) {
      const text = (withoutLeadingReasoning(this.#undecided) ?? '').trim()
      if (isNotFoundAnswer(text)) return { kind: 'not_found' }
      if (text === '') return emptyAnswer()
      this.#send(text)
    }
    return { kind: 'answer', text: this.#sent }
  }

  #send (text: string): void {
    const combined = this.#heldWhitespace + text
    const body = combined.trimEnd()
    this.#heldWhitespace = combined.slice(body.length)
    if (body === '') return
    this.onToken(body)
    this.tokensSent++
    this.#sent += body
  }
}

/**
 * Streams tokens to onToken as they arrive; detects the NOT_FOUND sentinel
 * without leaking a partial "NOT_" to the client (the first characters are
 * held back until it is clear the answer is not the sentinel). The tokens
 * sent join to exactly the returned answer text.
 *
 * On failure, `tokensSent` tells the caller what it may still do: tokens
 * already sent cannot be taken back, so with tokensSent > 0 it should end the
 * stream with an SSE `error` event; with tokensSent === 0 nothing reached the
 * client and it can fall back to the extractive answer. An abort through
 * `signal` (the client went away) also ends as `failed`, with the signal's
 * reason as the error, after the HTTP request to the endpoint was aborted.
 */
export async function streamAnswerWithLlm (
  config: LlmConfig,
  question: string,
  passages: PromptPassage[],
  onToken: (text: string) => void,
  signal?: AbortSignal
): Promise<LlmAnswerOutcome & { tokensSent: number }> {
  if (passages.length === 0) return { kind: 'not_found', tokensSent: 0 }
  const relay = new TokenRelay(onToken)
  try {
    for await (const delta of streamCompletion(config, buildMessages(question, passages), signal)) {
      // Leaving the loop aborts the request: the rest of a "NOT_FOUND, because…" is not worth generating.
      if (relay.push(delta) === 'not_found') return { kind: 'not_found', tokensSent: relay.tokensSent }
    }
    return { ...relay.finish(), tokensSent: relay.tokensSent }
  } catch (error) {
    return { kind: 'failed', error: asError(error), tokensSent: relay.tokensSent }
  }
}
