// Helpers for ingest tests: multipart bodies, and waiting for a document to finish processing.
import type { FastifyInstance } from 'fastify'

export interface FormFile {
  name: string
  content: Uint8Array | string
  type?: string
}

/** A multipart/form-data body (built by the platform's own FormData encoder) and its content type. */
export async function multipartBody (fields: Record<string, string>, file?: FormFile, fileField = 'file'): Promise<{ body: Buffer, contentType: string }> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  if (file !== undefined) {
    const bytes = typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content
    form.append(fileField, new Blob([bytes], { type: file.type ?? 'application/octet-stream' }), file.name)
  }
  const request = new Request('http://localhost/', { method: 'POST', body: form })
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type') ?? '' }
}

export interface DocumentBody {
  id: string
  status: 'processing' | 'ready' | 'failed'
  error_message: string | null
  chunk_count: number
  [key: string]: unknown
}

/** Polls GET /v1/documents/{id} until it is no longer processing (or the time is up). */
export async function waitForDocument (app: FastifyInstance, key: string, id: string, timeoutMs = 30_000): Promise<DocumentBody> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const response = await app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: { authorization: `Bearer ${key}` } })
    const body = response.json<DocumentBody>()
    if (response.statusCode !== 200 || body.status !== 'processing' || Date.now() > deadline) return body
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
