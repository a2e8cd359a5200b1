import t from 'tap'
import path from 'node:path'
import { ConfigError, loadConfig } from '../src/config.js'

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 8080)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.databaseUrl, undefined)
  t.equal(config.dataDir, path.resolve('./data'))
  t.equal(config.logLevel, 'info')
  t.equal(config.authCacheSize, 10_000)
})

t.test('valid values are read', async (t) => {
  const config = loadConfig({
    PORT: '9000',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://jack@db:5432/jack',
    DATABASE_MIGRATION_URL: 'postgres://owner@db:5432/jack',
    JACK_DATA_DIR: '/var/lib/jack',
    LOG_LEVEL: 'debug',
    JACK_BOOTSTRAP_KEY: `jack_${'a1'.repeat(24)}`,
    JACK_BODY_LIMIT_BYTES: '2048',
    JACK_DB_POOL_SIZE: '20',
    JACK_AUTH_CACHE_SIZE: '0'
  })
  t.match(config, { port: 9000, host: '0.0.0.0', databaseUrl: 'postgres://jack@db:5432/jack', databaseMigrationUrl: 'postgres://owner@db:5432/jack', dataDir: '/var/lib/jack', logLevel: 'debug', bodyLimitBytes: 2048, databasePoolSize: 20, authCacheSize: 0 })
})

t.test('an invalid value stops start-up with a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT must be a whole number/],
    [{ PORT: '70000' }, /^PORT must be between 0 and 65535/],
    [{ PORT: '-1' }, /^PORT must be a whole number/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ DATABASE_URL: 'not a url' }, /^DATABASE_URL is not a valid URL/],
    [{ DATABASE_URL: 'mysql://x@y/z' }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_MIGRATION_URL: 'postgres://owner@db/jack' }, /^DATABASE_MIGRATION_URL needs DATABASE_URL/],
    [{ DATABASE_URL: 'postgres://jack@db/jack', DATABASE_MIGRATION_URL: 'http://owner@db/jack' }, /^DATABASE_MIGRATION_URL must be a postgres/],
    [{ JACK_BOOTSTRAP_KEY: 'jack_SECRETVALUE' }, /^JACK_BOOTSTRAP_KEY must be/],
    [{ JACK_DB_POOL_SIZE: '0' }, /^JACK_DB_POOL_SIZE must be between/],
    [{ JACK_BODY_LIMIT_BYTES: '1e6' }, /^JACK_BODY_LIMIT_BYTES must be a whole number/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { constructor: ConfigError, message }, JSON.stringify(env))
  }
  try {
    loadConfig({ JACK_BOOTSTRAP_KEY: 'jack_SECRETVALUE' })
  } catch (error) {
    t.notMatch((error as Error).message, /SECRETVALUE/, 'a bad key is not echoed')
  }
})

t.test('a language model is configured by base URL and model together', async (t) => {
  t.equal(loadConfig({}).llm, undefined, 'none by default: extractive answers')
  t.same(loadConfig({ JACK_LLM_BASE_URL: 'http://localhost:11434/v1/', JACK_LLM_MODEL: 'llama3.1:8b' }).llm, { baseUrl: 'http://localhost:11434/v1', model: 'llama3.1:8b', timeoutMs: 30_000 })
  t.same(loadConfig({ JACK_LLM_BASE_URL: 'https://api.example.com/v1', JACK_LLM_MODEL: 'm', JACK_LLM_API_KEY: 'sk-test', JACK_LLM_TIMEOUT_SECONDS: '5', JACK_LLM_MAX_TOKENS: '300' }).llm,
    { baseUrl: 'https://api.example.com/v1', model: 'm', apiKey: 'sk-test', timeoutMs: 5000, maxTokens: 300 })
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ JACK_LLM_BASE_URL: 'http://localhost:11434/v1' }, /^JACK_LLM_BASE_URL is set but JACK_LLM_MODEL is not/],
    [{ JACK_LLM_MODEL: 'm' }, /^JACK_LLM_MODEL is set but JACK_LLM_BASE_URL is not/],
    [{ JACK_LLM_BASE_URL: 'localhost:11434', JACK_LLM_MODEL: 'm' }, /^JACK_LLM_BASE_URL must be an http/],
    [{ JACK_LLM_BASE_URL: 'not a url', JACK_LLM_MODEL: 'm' }, /^JACK_LLM_BASE_URL is not a valid URL/],
    [{ JACK_LLM_BASE_URL: 'https://user:sk-secret@api.example.com/v1', JACK_LLM_MODEL: 'm' }, /^JACK_LLM_BASE_URL must not contain credentials/],
    [{ JACK_LLM_BASE_URL: 'http://h/v1', JACK_LLM_MODEL: 'm', JACK_LLM_TIMEOUT_SECONDS: '0' }, /^JACK_LLM_TIMEOUT_SECONDS must be between/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), message, JSON.stringify(env))
    try { loadConfig(env) } catch (error) { t.notOk(String(error).includes('sk-secret'), 'the message never echoes a secret') }
  }
})

t.test('BM25 parameters', async (t) => {
  t.same(loadConfig({}).bm25, { k1: 1.2, b: 0.75 })
  t.same(loadConfig({ JACK_BM25_K1: '0.9', JACK_BM25_B: '0.4' }).bm25, { k1: 0.9, b: 0.4 })
  t.throws(() => loadConfig({ JACK_BM25_B: '1.5' }), /^JACK_BM25_B must be between 0 and 1/)
  t.throws(() => loadConfig({ JACK_BM25_K1: '-1' }), /^JACK_BM25_K1 must be a number/)
  t.throws(() => loadConfig({ JACK_BM25_K1: 'NaN' }), /^JACK_BM25_K1 must be a number/)
})

t.test('rate limit and key-check abuse settings', async (t) => {
  const defaults = loadConfig({})
  t.match(defaults, {
    rateLimit: 60,
    rateLimitWindowMs: 60_000,
    redisUrl: undefined,
    redisKeyPrefix: 'jack:ratelimit:',
    authFailureLimit: 20,
    authFailureWindowMs: 60_000,
    argon2Concurrency: 2,
    argon2QueueLimit: 32,
    trustProxy: false
  })
  t.match(loadConfig({
    RATE_LIMIT_PER_MINUTE: '600',
    REDIS_URL: 'rediss://:s3cret@cache.internal:6380/2',
    JACK_REDIS_KEY_PREFIX: 'acme:jack:',
    JACK_AUTH_FAILURES_PER_MINUTE: '5',
    JACK_ARGON2_CONCURRENCY: '4',
    JACK_ARGON2_QUEUE: '0',
    JACK_TRUST_PROXY: '10.0.0.0/8, loopback, 2001:db8::/32'
  }), {
    rateLimit: 600,
    redisUrl: 'rediss://:s3cret@cache.internal:6380/2',
    redisKeyPrefix: 'acme:jack:',
    authFailureLimit: 5,
    argon2Concurrency: 4,
    argon2QueueLimit: 0,
    trustProxy: '10.0.0.0/8,loopback,2001:db8::/32'
  })
  t.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }).rateLimit, 0, '0 turns the rate limit off')
  t.equal(loadConfig({ JACK_AUTH_FAILURES_PER_MINUTE: '0' }).authFailureLimit, 0, '0 turns the failure throttle off')
  t.equal(loadConfig({ JACK_TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ JACK_TRUST_PROXY: 'no' }).trustProxy, false)

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ RATE_LIMIT_PER_MINUTE: 'lots' }, /^RATE_LIMIT_PER_MINUTE must be a whole number/],
    [{ RATE_LIMIT_PER_MINUTE: '-1' }, /^RATE_LIMIT_PER_MINUTE must be a whole number/],
    [{ RATE_LIMIT_PER_MINUTE: '2000000000' }, /^RATE_LIMIT_PER_MINUTE must be between 0 and/],
    [{ REDIS_URL: 'not a url' }, /^REDIS_URL is not a valid URL/],
    [{ REDIS_URL: 'http://:hunter2@cache:6379' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ JACK_REDIS_KEY_PREFIX: 'has space' }, /^JACK_REDIS_KEY_PREFIX must be/],
    [{ JACK_AUTH_FAILURES_PER_MINUTE: '1.5' }, /^JACK_AUTH_FAILURES_PER_MINUTE must be a whole number/],
    [{ JACK_ARGON2_CONCURRENCY: '0' }, /^JACK_ARGON2_CONCURRENCY must be between 1 and 64/],
    [{ JACK_ARGON2_CONCURRENCY: '65' }, /^JACK_ARGON2_CONCURRENCY must be between 1 and 64/],
    [{ JACK_ARGON2_QUEUE: 'x' }, /^JACK_ARGON2_QUEUE must be a whole number/],
    [{ JACK_TRUST_PROXY: '2' }, /^JACK_TRUST_PROXY must be true, false, or proxy addresses/],
    [{ JACK_TRUST_PROXY: '10.0.0.0/33' }, /^JACK_TRUST_PROXY must be/],
    [{ JACK_TRUST_PROXY: 'proxy.internal' }, /^JACK_TRUST_PROXY must be/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { constructor: ConfigError, message }, JSON.stringify(env))
    try { loadConfig(env) } catch (error) { t.notOk(String(error).includes('hunter2'), 'a Redis password is never echoed') }
  }
})

t.test('extraction limits', async (t) => {
  t.same(loadConfig({}).extractLimits, {
    maxTextCharacters: 50_000_000,
    pdfMaxPages: 2000,
    docxMaxExpandedBytes: 256 * 1024 * 1024,
    docxMaxPartBytes: 16 * 1024 * 1024,
    docxMaxParts: 10_000,
    htmlMaxDepth: 128,
    htmlMaxElements: 30_000
  })
  t.same(loadConfig({
    JACK_EXTRACT_MAX_CHARACTERS: '1000000',
    JACK_PDF_MAX_PAGES: '50',
    JACK_DOCX_MAX_EXPANDED_BYTES: '104857600',
    JACK_DOCX_MAX_PART_BYTES: '10485760',
    JACK_DOCX_MAX_PARTS: '500',
    JACK_HTML_MAX_DEPTH: '64',
    JACK_HTML_MAX_ELEMENTS: '5000'
  }).extractLimits, {
    maxTextCharacters: 1_000_000,
    pdfMaxPages: 50,
    docxMaxExpandedBytes: 104_857_600,
    docxMaxPartBytes: 10_485_760,
    docxMaxParts: 500,
    htmlMaxDepth: 64,
    htmlMaxElements: 5000
  })
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ JACK_EXTRACT_MAX_CHARACTERS: '10' }, /^JACK_EXTRACT_MAX_CHARACTERS must be between 1000 and/],
    [{ JACK_PDF_MAX_PAGES: '0' }, /^JACK_PDF_MAX_PAGES must be between 1 and/],
    [{ JACK_PDF_MAX_PAGES: 'many' }, /^JACK_PDF_MAX_PAGES must be a whole number/],
    [{ JACK_DOCX_MAX_EXPANDED_BYTES: '256MB' }, /^JACK_DOCX_MAX_EXPANDED_BYTES must be a whole number/],
    [{ JACK_DOCX_MAX_PART_BYTES: '1000' }, /^JACK_DOCX_MAX_PART_BYTES must be between/],
    [{ JACK_DOCX_MAX_PARTS: '1' }, /^JACK_DOCX_MAX_PARTS must be between 10 and/],
    [{ JACK_HTML_MAX_DEPTH: '2' }, /^JACK_HTML_MAX_DEPTH must be between 8 and/],
    [{ JACK_HTML_MAX_ELEMENTS: '-5' }, /^JACK_HTML_MAX_ELEMENTS must be a whole number/]
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig(env), { constructor: ConfigError, message }, JSON.stringify(env))
})
