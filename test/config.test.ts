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
    JACK_DATA_DIR: '/var/lib/jack',
    LOG_LEVEL: 'debug',
    JACK_BOOTSTRAP_KEY: `jack_${'a1'.repeat(24)}`,
    JACK_BODY_LIMIT_BYTES: '2048',
    JACK_DB_POOL_SIZE: '20',
    JACK_AUTH_CACHE_SIZE: '0'
  })
  t.match(config, { port: 9000, host: '0.0.0.0', databaseUrl: 'postgres://jack@db:5432/jack', dataDir: '/var/lib/jack', logLevel: 'debug', bodyLimitBytes: 2048, databasePoolSize: 20, authCacheSize: 0 })
})

t.test('an invalid value stops start-up with a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT must be a whole number/],
    [{ PORT: '70000' }, /^PORT must be between 0 and 65535/],
    [{ PORT: '-1' }, /^PORT must be a whole number/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ DATABASE_URL: 'not a url' }, /^DATABASE_URL is not a valid URL/],
    [{ DATABASE_URL: 'mysql://x@y/z' }, /^DATABASE_URL must be a postgres/],
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
