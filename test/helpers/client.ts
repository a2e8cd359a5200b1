// app.inject with a key, where every response is also checked against openapi.yaml.
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Test } from 'tap'
import { checkAgainstSpec } from './contract.js'

export interface ApiResponse {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
  json: <T = any>() => T
}

export interface CallOptions {
  key?: string | undefined
  body?: unknown
  /** Sent as is, e.g. malformed JSON. */
  rawBody?: string | Buffer
  headers?: Record<string, string>
  /** The client address the server sees (inject's remoteAddress); 127.0.0.1 by default. */
  remoteAddress?: string
}

export async function call (t: Test, app: FastifyInstance, method: InjectOptions['method'], url: string, options: CallOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`
  let payload: string | Buffer | undefined
  if (options.rawBody !== undefined) {
    payload = options.rawBody
    headers['content-type'] ??= 'application/json'
  } else if (options.body !== undefined) {
    payload = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const response = await app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress })
  })
  const check = checkAgainstSpec(String(method), url, response.statusCode, response.headers['content-type'] as string | undefined, response.body)
  t.ok(check.ok, check.problem ?? `${String(method)} ${url} ${response.statusCode} matches openapi.yaml`)
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.body,
    json: <T>() => JSON.parse(response.body) as T
  }
}
