// Shared benchmark HTTP client: one organisation's key against a spawned server, batched ingest, waiting for the queue to drain, and counting what the org holds.
import { performance } from 'node:perf_hooks'
import { progress, sleep, type Server } from './server.js'
import type { SearchResultType } from '../../src/schemas/query.js'

export const BATCH_SIZE = 50
export const IN_FLIGHT = 4

export interface DocumentObject {
  id: string
  status: 'processing' | 'ready' | 'failed'
  error_message: string | null
  chunk_count: number
  metadata: Record<string, string>
}

export type SearchResult = SearchResultType

export class Api {
  constructor (private readonly server: Server, private readonly key: string, private readonly timeoutMs = 120_000) {}

  /** One request and its round-trip time (until the whole body arrived); an unexpected status or a dead server is an error naming the request. */
  async request<T> (method: 'GET' | 'POST', url: string, expect: number, body?: unknown): Promise<{ body: T, ms: number, link: string | null }> {
    const started = performance.now()
    let response: Response
    let text: string
    try {
      response = await fetch(`${this.server.baseUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
      text = await response.text()
    } catch (error) {
      if (this.server.exitStatus !== undefined) throw new Error(`server exited with code ${String(this.server.exitStatus)} during ${method} ${url}:\n${this.server.outputTail}`)
      throw new Error(`${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
    const ms = performance.now() - started
    if (response.status !== expect) throw new Error(`${method} ${url} answered ${response.status} (expected ${expect}): ${text.slice(0, 2000)}`)
    return { body: JSON.parse(text) as T, ms, link: response.headers.get('link') }
  }

  /** The org's documents (or those of one status) page by page, following the Link header's rel="next". */
  async * pages (status?: DocumentObject['status']): AsyncGenerator<DocumentObject[]> {
    let url: string | undefined = `/v1/documents?limit=1000${status === undefined ? '' : `&status=${status}`}`
    while (url !== undefined) {
      const page: { body: DocumentObject[], link: string | null } = await this.request<DocumentObject[]>('GET', url, 200)
      yield page.body
      url = page.link === null ? undefined : /<([^>]+)>;\s*rel="next"/.exec(page.link)?.[1]
    }
  }

  /** Every document of the org (or of one status). */
  async listAll (status?: DocumentObject['status']): Promise<DocumentObject[]> {
    const found: DocumentObject[] = []
    for await (const page of this.pages(status)) found.push(...page)
    return found
  }
}

export interface IngestDocument {
  text: string
  metadata: Record<string, string>
  /** Shown as the citation's source. */
  filename?: string
}

/** POST /v1/ingest in batches of BATCH_SIZE, IN_FLIGHT requests at a time; returns the document IDs in order. */
export async function submitDocuments (api: Api, documents: readonly IngestDocument[], options: { chunkSize?: number, chunkOverlap?: number } = {}): Promise<string[]> {
  const ids: string[] = new Array<string>(documents.length)
  let next = 0
  const sender = async (): Promise<void> => {
    while (next < documents.length) {
      const start = next
      next += BATCH_SIZE
      const batch = documents.slice(start, start + BATCH_SIZE)
      const { body } = await api.request<{ document_ids: string[] }>('POST', '/v1/ingest', 202, {
        documents: batch,
        ...(options.chunkSize === undefined ? {} : { chunk_size: options.chunkSize }),
        ...(options.chunkOverlap === undefined ? {} : { chunk_overlap: options.chunkOverlap })
      })
      if (body.document_ids.length !== batch.length) throw new Error(`POST /v1/ingest returned ${body.document_ids.length} IDs for ${batch.length} documents`)
      body.document_ids.forEach((id, index) => { ids[start + index] = id })
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, sender))
  return ids
}

/** Polls until no document of the org is processing; throws after `timeoutMs`. */
export async function waitUntilProcessed (api: Api, label: string, timeoutMs: number): Promise<void> {
  const started = performance.now()
  let reported = started
  for (;;) {
    const { body } = await api.request<DocumentObject[]>('GET', '/v1/documents?status=processing&limit=1', 200)
    if (body.length === 0) return
    const now = performance.now()
    if (now - started > timeoutMs) throw new Error(`${label}: documents still processing after ${Math.round(timeoutMs / 1000)} s`)
    if (now - reported > 15_000) {
      progress(`${label}: still processing, ${((now - started) / 1000).toFixed(0)} s`)
      reported = now
    }
    await sleep(250)
  }
}

/**
 * Waits out the server's own work after an ingest: on PGlite the worker runs
 * VACUUM (ANALYZE) on the search index once the queue runs dry, and PGlite runs
 * one statement at a time, so a request sent now waits for it. Returns that
 * request's time (PostgreSQL: a plain request's).
 */
export async function settle (api: Api): Promise<number> {
  await sleep(1000)
  const started = performance.now()
  await api.request<DocumentObject[]>('GET', '/v1/documents?limit=1', 200)
  return performance.now() - started
}

export interface OrgCounts {
  ready: number
  failed: number
  processing: number
  chunks: number
  failures: string[]
  documents: DocumentObject[]
}

/** What GET /v1/documents says the org holds. */
export async function countDocuments (api: Api): Promise<OrgCounts> {
  const documents = await api.listAll()
  const counts: OrgCounts = { ready: 0, failed: 0, processing: 0, chunks: 0, failures: [], documents }
  for (const document of documents) {
    counts[document.status]++
    if (document.status === 'ready') counts.chunks += document.chunk_count
    if (document.status === 'failed' && counts.failures.length < 10) counts.failures.push(`${document.id}: ${document.error_message ?? '(no message)'}`)
  }
  return counts
}
