// Reads and validates the environment once; an invalid value stops start-up with a message naming it.
import path from 'node:path'
import { API_KEY_PATTERN } from './keys/api-key.js'
import type { LlmConfig } from './answer/llm-client.js'
import { BM25_DEFAULTS } from './retrieval/bm25.js'
import { EXTRACT_LIMIT_DEFAULTS, type ExtractLimits } from './ingest/extract/extract-limits.js'
import { parseIp } from './ingest/url/ip-address.js'

export interface Config {
  port: number
  host: string
  databaseUrl: string | undefined
  /** The owner's URL to migrate with; DATABASE_URL is then the serving login as given. */
  databaseMigrationUrl: string | undefined
  dataDir: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  bootstrapKey: string | undefined
  bodyLimitBytes: number
  databasePoolSize: number
  /** How long opening a PostgreSQL connection may take before the request fails with 503. */
  databaseConnectTimeoutMs: number
  /** PostgreSQL's statement_timeout on jack's connections; 0 = none. */
  databaseStatementTimeoutMs: number
  authCacheSize: number
  workers: number
  jobTimeoutMs: number
  jobLeaseMs: number
  jobMaxAttempts: number
  jobRetryBaseMs: number
  /** The JS heap limit of each extraction thread; a document that needs more ends failed. */
  extractionMemoryMb: number
  /** Bytes of posting lists and segment documents each process keeps for queries (src/search-index/segment-cache.ts). */
  indexCacheBytes: number
  urlAllowPrivate: boolean
  /** Bounds on extracting a document's text, passed to extractText as its options. */
  extractLimits: ExtractLimits
  /** The language model that writes answers; undefined: the extractive answerer alone. */
  llm: LlmConfig | undefined
  bm25: { k1: number, b: number }
  /** Requests per organisation per window, across all /v1 endpoints and keys (RATE_LIMIT_PER_MINUTE); 0 = no limit. */
  rateLimit: number
  /** The rate limit's sliding window: a minute; tests shorten it. */
  rateLimitWindowMs: number
  /** Count rate-limited requests in Redis instead of the database. */
  redisUrl: string | undefined
  redisKeyPrefix: string
  /** Failed key checks per client address per window before the address gets 429; 0 = no limit. */
  authFailureLimit: number
  authFailureWindowMs: number
  /** argon2 verifications running at once, and checks allowed to wait for one. */
  argon2Concurrency: number
  argon2QueueLimit: number
  /** Fastify's trustProxy: which X-Forwarded-For hops to believe for the client address. */
  trustProxy: boolean | string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

type Env = Record<string, string | undefined>

function readInteger (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
  const value = Number(raw.trim())
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

function readBoolean (env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === '') return fallback
  if (['true', '1', 'yes'].includes(raw)) return true
  if (['false', '0', 'no'].includes(raw)) return false
  throw new ConfigError(`${name} must be true or false, got "${env[name] ?? ''}"`)
}

function readUrl (env: Env, name: string): string | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${name} is not a valid URL`)
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`)
  }
  return raw
}

function readMigrationUrl (env: Env, databaseUrl: string | undefined): string | undefined {
  const url = readUrl(env, 'DATABASE_MIGRATION_URL')
  if (url !== undefined && databaseUrl === undefined) {
    throw new ConfigError('DATABASE_MIGRATION_URL needs DATABASE_URL: it is the owner\'s login to a PostgreSQL database that DATABASE_URL serves from')
  }
  return url
}

function readNumber (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+(?:\.\d+)?$/.test(raw.trim())) throw new ConfigError(`${name} must be a number, got "${raw}"`)
  const value = Number(raw.trim())
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

function readRedisUrl (env: Env): string | undefined {
  const raw = env.REDIS_URL
  if (raw === undefined || raw === '') return undefined
  let url: URL
  // The value is never echoed: it may hold a password.
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError('REDIS_URL is not a valid URL')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL')
  return raw
}

function readKeyPrefix (env: Env): string {
  const raw = env.JACK_REDIS_KEY_PREFIX
  if (raw === undefined || raw === '') return 'jack:ratelimit:'
  if (raw.length > 100 || !/^[\x21-\x7e]+$/.test(raw)) throw new ConfigError('JACK_REDIS_KEY_PREFIX must be 1–100 printable ASCII characters without spaces')
  return raw
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal']

/**
 * true/false, or a comma-separated list of the proxies' addresses and CIDR
 * ranges (proxy-addr's names loopback, linklocal, uniquelocal allowed). Fastify
 * 5 no longer honours hop counts, so they are refused rather than ignored.
 */
function readTrustProxy (env: Env): boolean | string {
  const raw = env.JACK_TRUST_PROXY?.trim() ?? ''
  if (raw === '' || ['false', 'no'].includes(raw.toLowerCase())) return false
  if (['true', 'yes'].includes(raw.toLowerCase())) return true
  const entries = raw.split(',').map((entry) => entry.trim())
  for (const entry of entries) {
    if (PROXY_NAMES.includes(entry)) continue
    const [address = '', bits, extra] = entry.split('/')
    const parsed = parseIp(address)
    const maxBits = parsed?.version === 4 ? 32 : 128
    if (parsed === undefined || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits))) {
      throw new ConfigError(`JACK_TRUST_PROXY must be true, false, or proxy addresses/CIDR ranges separated by commas; "${entry}" is none of these`)
    }
  }
  return entries.join(',')
}

function readExtractLimits (env: Env): ExtractLimits {
  const defaults = EXTRACT_LIMIT_DEFAULTS
  return {
    maxTextCharacters: readInteger(env, 'JACK_EXTRACT_MAX_CHARACTERS', defaults.maxTextCharacters, 1000, 1_000_000_000),
    pdfMaxPages: readInteger(env, 'JACK_PDF_MAX_PAGES', defaults.pdfMaxPages, 1, 1_000_000),
    docxMaxExpandedBytes: readInteger(env, 'JACK_DOCX_MAX_EXPANDED_BYTES', defaults.docxMaxExpandedBytes, 1024 * 1024, 16 * 1024 ** 3),
    docxMaxPartBytes: readInteger(env, 'JACK_DOCX_MAX_PART_BYTES', defaults.docxMaxPartBytes, 1024 * 1024, 16 * 1024 ** 3),
    docxMaxParts: readInteger(env, 'JACK_DOCX_MAX_PARTS', defaults.docxMaxParts, 10, 1_000_000),
    htmlMaxDepth: readInteger(env, 'JACK_HTML_MAX_DEPTH', defaults.htmlMaxDepth, 8, 100_000),
    htmlMaxElements: readInteger(env, 'JACK_HTML_MAX_ELEMENTS', defaults.htmlMaxElements, 100, 100_000_000)
  }
}

/** JACK_LLM_BASE_URL and JACK_LLM_MODEL together switch the LLM answerer on; one without the other is a mistake. */
function readLlm (env: Env): LlmConfig | undefined {
  const baseUrl = env.JACK_LLM_BASE_URL?.trim() ?? ''
  const model = env.JACK_LLM_MODEL?.trim() ?? ''
  if (baseUrl === '' && model === '') return undefined
  if (baseUrl === '') throw new ConfigError('JACK_LLM_MODEL is set but JACK_LLM_BASE_URL is not; set both to use a language model')
  if (model === '') throw new ConfigError('JACK_LLM_BASE_URL is set but JACK_LLM_MODEL is not; set both to use a language model')
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw new ConfigError('JACK_LLM_BASE_URL is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('JACK_LLM_BASE_URL must be an http:// or https:// URL')
  // Credentials in the URL would be logged with it; they belong in JACK_LLM_API_KEY.
  if (url.username !== '' || url.password !== '') throw new ConfigError('JACK_LLM_BASE_URL must not contain credentials; use JACK_LLM_API_KEY')
  const apiKey = env.JACK_LLM_API_KEY === undefined || env.JACK_LLM_API_KEY === '' ? undefined : env.JACK_LLM_API_KEY
  const maxTokens = readInteger(env, 'JACK_LLM_MAX_TOKENS', 0, 0, 1_000_000)
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    model,
    ...(apiKey === undefined ? {} : { apiKey }),
    timeoutMs: readInteger(env, 'JACK_LLM_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
    ...(maxTokens === 0 ? {} : { maxTokens })
  }
}

export function loadConfig (env: Env = process.env): Config {
  const logLevel = env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'info' : env.LOG_LEVEL
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }
  const bootstrapKey = env.JACK_BOOTSTRAP_KEY === '' ? undefined : env.JACK_BOOTSTRAP_KEY
  // The value itself is never echoed: it is a secret even when malformed.
  if (bootstrapKey !== undefined && !API_KEY_PATTERN.test(bootstrapKey)) {
    throw new ConfigError('JACK_BOOTSTRAP_KEY must be "jack_" followed by 48 lowercase hex characters')
  }
  const host = env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST
  const databaseUrl = readUrl(env, 'DATABASE_URL')
  return {
    port: readInteger(env, 'PORT', 8080, 0, 65535),
    host,
    databaseUrl,
    databaseMigrationUrl: readMigrationUrl(env, databaseUrl),
    dataDir: path.resolve(env.JACK_DATA_DIR === undefined || env.JACK_DATA_DIR === '' ? './data' : env.JACK_DATA_DIR),
    logLevel: logLevel as Config['logLevel'],
    bootstrapKey,
    bodyLimitBytes: readInteger(env, 'JACK_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    databasePoolSize: readInteger(env, 'JACK_DB_POOL_SIZE', 10, 1, 1000),
    databaseConnectTimeoutMs: readNumber(env, 'JACK_DB_CONNECT_TIMEOUT_SECONDS', 2, 0.1, 600) * 1000,
    databaseStatementTimeoutMs: readInteger(env, 'JACK_DB_STATEMENT_TIMEOUT_SECONDS', 30, 0, 86_400) * 1000,
    authCacheSize: readInteger(env, 'JACK_AUTH_CACHE_SIZE', 10_000, 0, 10_000_000),
    workers: readInteger(env, 'JACK_WORKERS', 2, 0, 64),
    jobTimeoutMs: readInteger(env, 'JACK_JOB_TIMEOUT_SECONDS', 120, 1, 86_400) * 1000,
    jobLeaseMs: readInteger(env, 'JACK_JOB_LEASE_SECONDS', 60, 1, 3600) * 1000,
    jobMaxAttempts: readInteger(env, 'JACK_JOB_MAX_ATTEMPTS', 3, 1, 100),
    jobRetryBaseMs: readInteger(env, 'JACK_JOB_RETRY_BASE_MS', 2000, 0, 3_600_000),
    extractionMemoryMb: readInteger(env, 'JACK_EXTRACT_MEMORY_MB', 1024, 64, 65_536),
    indexCacheBytes: readInteger(env, 'JACK_INDEX_CACHE_MB', 512, 0, 1_048_576) * 2 ** 20,
    urlAllowPrivate: readBoolean(env, 'JACK_URL_ALLOW_PRIVATE', false),
    extractLimits: readExtractLimits(env),
    llm: readLlm(env),
    bm25: {
      k1: readNumber(env, 'JACK_BM25_K1', BM25_DEFAULTS.k1, 0, 100),
      b: readNumber(env, 'JACK_BM25_B', BM25_DEFAULTS.b, 0, 1)
    },
    rateLimit: readInteger(env, 'RATE_LIMIT_PER_MINUTE', 60, 0, 1_000_000_000),
    rateLimitWindowMs: 60_000,
    redisUrl: readRedisUrl(env),
    redisKeyPrefix: readKeyPrefix(env),
    authFailureLimit: readInteger(env, 'JACK_AUTH_FAILURES_PER_MINUTE', 20, 0, 1_000_000),
    authFailureWindowMs: 60_000,
    argon2Concurrency: readInteger(env, 'JACK_ARGON2_CONCURRENCY', 2, 1, 64),
    argon2QueueLimit: readInteger(env, 'JACK_ARGON2_QUEUE', 32, 0, 100_000),
    trustProxy: readTrustProxy(env)
  }
}
