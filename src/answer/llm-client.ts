// Calls any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LM Studio…) over plain fetch, whole or streamed, bounded in time.

export interface LlmConfig {
  /** e.g. http://localhost:11434/v1; requests go to POST {baseUrl}/chat/completions. */
  baseUrl: string
  model: string
  /** Sent as `Authorization: Bearer …` only when set; never part of an error message. */
  apiKey?: string
  /** The whole call: connecting, the first token and the last. */
  timeoutMs: number
  /** Sent as `max_tokens` only when set. */
  maxTokens?: number
  /** Default 0: the same passages should give the same answer. */
  temperature?: number
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** A failed call, with a message that is safe to log: it never contains the API key. */
export class LlmError extends Error {
  override name = 'LlmError'
  /** The endpoint's HTTP status when it answered with a non-2xx one. */
  readonly status: number | undefined

  constructor (message: string, options: { cause?: unknown, status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.status = options.status
  }
}

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024
const MAX_ERROR_BODY_BYTES = 64 * 1024
// One SSE line is one JSON chunk of a few hundred bytes; a line without end is a broken or hostile server.
const MAX_SSE_LINE_CHARS = 1024 * 1024
const MAX_SNIPPET_CHARS = 200

type Stage = 'waiting' | 'answering'

interface Call {
  /** Aborted by the time limit, by the caller's signal, or by finish(). */
  signal: AbortSignal
  timedOut: () => boolean
  /** Stops the timer and aborts whatever is still in flight (a stream the consumer left early). */
  finish: () => void
}

function startCall (timeoutMs: number, caller: AbortSignal | undefined): Call {
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new LlmError('timeout'))
  }, timeoutMs)
  const onCallerAbort = (): void => controller.abort(caller?.reason)
  if (caller?.aborted === true) onCallerAbort()
  else caller?.addEventListener('abort', onCallerAbort, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    finish: () => {
      clearTimeout(timer)
      caller?.removeEventListener('abort', onCallerAbort)
      controller.abort()
    }
  }
}

function formatDuration (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/**
 * Text from the endpoint, cut to one short line. Some servers echo the
 * credentials they were given in their error messages: the key is removed.
 */
function safeSnippet (text: string, apiKey: string | undefined): string {
  let clean = text
  if (apiKey !== undefined && apiKey !== '') clean = clean.split(apiKey).join('[redacted]')
  clean = clean.replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]').replace(/[\p{Cc}\s]+/gu, ' ').trim()
  const characters = Array.from(clean)
  return characters.length > MAX_SNIPPET_CHARS ? `${characters.slice(0, MAX_SNIPPET_CHARS - 1).join('')}…` : clean
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The message of an error body: OpenAI's `{"error": {"message": …}}`, or the `{"error": "…"}` / `{"detail": "…"}` other servers use. */
function errorMessageOf (body: unknown): string | undefined {
  if (!isRecord(body)) return undefined
  const error = body.error
  if (typeof error === 'string') return error
  if (isRecord(error) && typeof error.message === 'string') return error.message
  if (typeof body.detail === 'string') return body.detail
  if (typeof body.message === 'string') return body.message
  return undefined
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Reads at most maxBytes of the body; `truncated` when there was more. */
async function readText (response: Response, maxBytes: number): Promise<{ text: string, truncated: boolean }> {
  if (response.body === null) return { text: '', truncated: false }
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let bytes = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { text: text + decoder.decode(), truncated: false }
      bytes += value.byteLength
      if (bytes > maxBytes) {
        text += decoder.decode(value.subarray(0, value.byteLength - (bytes - maxBytes)))
        return { text, truncated: true }
      }
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}

async function httpError (response: Response, apiKey: string | undefined): Promise<LlmError> {
  let detail: string | undefined
  try {
    const { text } = await readText(response, MAX_ERROR_BODY_BYTES)
    const message = errorMessageOf(parseJson(text))
    if (message !== undefined) detail = safeSnippet(message, apiKey)
  } catch {
    // The status alone is still worth reporting.
  }
  const status = `LLM endpoint returned HTTP ${response.status}`
  return new LlmError(detail === undefined || detail === '' ? status : `${status}: ${detail}`, { status: response.status })
}

function endpointUrl (baseUrl: string): URL {
  let url: URL
  try {
    url = new URL(`${baseUrl.replace(/\/+$/, '')}/chat/completions`)
  } catch {
    throw new LlmError('The LLM base URL is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LlmError('The LLM base URL must be an http or https URL')
  return url
}

async function send (config: LlmConfig, messages: ChatMessage[], stream: boolean, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json'
  }
  if (config.apiKey !== undefined && config.apiKey !== '') headers.authorization = `Bearer ${config.apiKey}`
  const body = {
    model: config.model,
    messages,
    temperature: config.temperature ?? 0,
    ...(config.maxTokens === undefined ? {} : { max_tokens: config.maxTokens }),
    stream
  }
  // No redirects: a POST does not survive one, and following it could hand the key to another host.
  const response = await fetch(endpointUrl(config.baseUrl), { method: 'POST', headers, body: JSON.stringify(body), signal, redirect: 'manual' })
  if (response.status < 200 || response.status > 299) throw await httpError(response, config.apiKey)
  return response
}

/** What went wrong, in the caller's terms: their own abort reason, the time limit, or a readable LlmError. */
function failure (error: unknown, call: Call, caller: AbortSignal | undefined, config: LlmConfig, stage: Stage): unknown {
  if (caller?.aborted === true) return caller.reason
  if (call.timedOut()) {
    const limit = formatDuration(config.timeoutMs)
    return new LlmError(stage === 'waiting' ? `LLM endpoint did not answer within ${limit}` : `LLM endpoint did not finish its answer within ${limit}`)
  }
  if (error instanceof LlmError) return error
  const cause = isRecord(error) ? error.cause : undefined
  const code = isRecord(cause) && typeof cause.code === 'string' ? cause.code : undefined
  const reason = code ?? (cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error))
  const what = stage === 'waiting' ? 'Could not reach the LLM endpoint' : 'The connection to the LLM endpoint broke off'
  return new LlmError(`${what}: ${safeSnippet(reason, config.apiKey)}`, { cause: error })
}

function completionContent (text: string, apiKey: string | undefined): string {
  const body = parseJson(text)
  if (body === undefined) throw new LlmError('LLM endpoint returned a response that is not JSON')
  const choice = isRecord(body) && Array.isArray(body.choices) ? body.choices[0] : undefined
  const content = isRecord(choice) && isRecord(choice.message) ? choice.message.content : undefined
  if (typeof content === 'string') return content
  const message = errorMessageOf(body)
  if (message !== undefined) throw new LlmError(`LLM endpoint reported an error: ${safeSnippet(message, apiKey)}`)
  throw new LlmError('LLM endpoint returned no answer text (choices[0].message.content)')
}

/** Non-streaming: returns the assistant message content. */
export async function complete (config: LlmConfig, messages: ChatMessage[], signal?: AbortSignal): Promise<string> {
  const call = startCall(config.timeoutMs, signal)
  let stage: Stage = 'waiting'
  try {
    const response = await send(config, messages, false, call.signal)
    stage = 'answering'
    const { text, truncated } = await readText(response, MAX_RESPONSE_BYTES)
    if (truncated) throw new LlmError(`LLM endpoint returned more than ${MAX_RESPONSE_BYTES / (1024 * 1024)} MB`)
    return completionContent(text, config.apiKey)
  } catch (error) {
    throw failure(error, call, signal, config, stage)
  } finally {
    call.finish()
  }
}

/**
 * Server-sent events, decoded incrementally: push text as it arrives, in
 * pieces cut anywhere, and get the `data` of every event it completes.
 * Lines end in \n, \r\n or \r (even split between pieces); `:` lines are
 * comments; fields other than `data` are ignored.
 */
export class SseDecoder {
  #line = ''
  #data: string[] = []
  #afterCarriageReturn = false

  push (text: string): string[] {
    const events: string[] = []
    let start = 0
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index)
      if (code !== 10 && code !== 13) {
        this.#afterCarriageReturn = false
        continue
      }
      const isLineFeedOfCrLf = code === 10 && index === start && this.#afterCarriageReturn && this.#line === ''
      this.#afterCarriageReturn = code === 13
      if (isLineFeedOfCrLf) {
        start = index + 1
        continue
      }
      this.#takeLine(this.#line + text.slice(start, index), events)
      this.#line = ''
      start = index + 1
    }
    this.#line += text.slice(start)
    if (this.#line.length > MAX_SSE_LINE_CHARS) throw new LlmError('LLM endpoint sent a stream line longer than 1 MB')
    return events
  }

  /** At the end of the stream: an event the server did not close with a blank line still counts. */
  end (): string[] {
    const events: string[] = []
    if (this.#line !== '') this.#takeLine(this.#line, events)
    this.#line = ''
    this.#takeLine('', events)
    return events
  }

  #takeLine (line: string, events: string[]): void {
    if (line === '') {
      if (this.#data.length > 0) events.push(this.#data.join('\n'))
      this.#data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    if (field !== 'data') return
    const value = colon === -1 ? '' : line.slice(colon + 1)
    this.#data.push(value.startsWith(' ') ? value.slice(1) : value)
  }
}

interface StreamEvent {
  content?: string
  /** A finish_reason arrived: the answer is complete even if [DONE] never does. */
  finished?: boolean
  done?: boolean
}

function interpretChunk (chunk: unknown, apiKey: string | undefined): StreamEvent | undefined {
  if (!isRecord(chunk)) return undefined
  if (chunk.error !== undefined && chunk.error !== null) {
    throw new LlmError(`LLM endpoint reported an error mid-stream: ${safeSnippet(errorMessageOf(chunk) ?? 'no message', apiKey)}`)
  }
  const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined
  if (!isRecord(choice)) return undefined
  const content = isRecord(choice.delta) && typeof choice.delta.content === 'string' ? choice.delta.content : undefined
  return { content, finished: typeof choice.finish_reason === 'string' }
}

function interpretData (data: string, apiKey: string | undefined): StreamEvent | undefined {
  if (data.trim() === '[DONE]') return { done: true }
  return interpretChunk(parseJson(data), apiKey)
}

/** Malformed data is skipped: one bad line should not cost the answer. */
function interpretEvent (data: string, apiKey: string | undefined): StreamEvent[] {
  // Some servers put several JSON chunks in one event, one per data line.
  const pieces = data.includes('\n') && parseJson(data) === undefined ? data.split('\n') : [data]
  const events: StreamEvent[] = []
  for (const piece of pieces) {
    const event = interpretData(piece, apiKey)
    if (event !== undefined) events.push(event)
  }
  return events
}

/**
 * Streaming (stream: true, SSE `data: {...}` lines, `data: [DONE]`): yields
 * content deltas as they arrive. Aborts on signal or timeout (the timeout
 * covers time-to-first-token and total). Leaving the loop early (return())
 * aborts the HTTP request, so the endpoint stops generating.
 */
export async function * streamCompletion (config: LlmConfig, messages: ChatMessage[], signal?: AbortSignal): AsyncGenerator<string> {
  const call = startCall(config.timeoutMs, signal)
  let stage: Stage = 'waiting'
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  try {
    const response = await send(config, messages, true, call.signal)
    if ((response.headers.get('content-type') ?? '').toLowerCase().includes('application/json')) {
      // A server that ignores `stream: true` answers with one whole completion.
      stage = 'answering'
      const { text, truncated } = await readText(response, MAX_RESPONSE_BYTES)
      if (truncated) throw new LlmError(`LLM endpoint returned more than ${MAX_RESPONSE_BYTES / (1024 * 1024)} MB`)
      const content = completionContent(text, config.apiKey)
      if (content !== '') yield content
      return
    }
    if (response.body === null) throw new LlmError('LLM endpoint returned an empty response')
    reader = response.body.getReader()
    const decoder = new TextDecoder()
    const sse = new SseDecoder()
    let finished = false
    for (;;) {
      const { done, value } = await reader.read()
      const events = done ? [...sse.push(decoder.decode()), ...sse.end()] : sse.push(decoder.decode(value, { stream: true }))
      for (const data of events) {
        for (const event of interpretEvent(data, config.apiKey)) {
          if (event.done === true) return
          if (event.finished === true) finished = true
          if (event.content !== undefined && event.content !== '') {
            stage = 'answering'
            yield event.content
          }
        }
      }
      if (done) break
    }
    if (!finished) throw new LlmError('LLM endpoint closed the stream before the answer was complete')
  } catch (error) {
    throw failure(error, call, signal, config, stage)
  } finally {
    call.finish()
    reader?.cancel().catch(() => {})
  }
}
