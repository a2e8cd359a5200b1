// Entry point of `jack serve` / `npm start`: open the database, bootstrap, listen, and shut down gracefully.
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { ensureDefaultOrg, formatBootstrapMessage } from './bootstrap.js'
import { DataDirInUseError } from './db/data-dir-lock.js'
import { ServingRoleError } from './db/serving-role.js'
import { databaseOptions, openDatabase } from './db/client.js'
import { IngestWorker, workerOptionsFrom } from './ingest/worker.js'
import { pino } from 'pino'
import { loggerOptions } from './logging/logger-options.js'

export async function startServer (config: Config): Promise<FastifyInstance> {
  const app = await buildApp({ config })
  await app.ready()
  const message = formatBootstrapMessage(await ensureDefaultOrg(app.db, config.bootstrapKey))
  if (message !== undefined) process.stdout.write(message)
  await app.listen({ port: config.port, host: config.host })
  // Closing waits for the in-process workers to finish or release their jobs
  // (up to 10 s) and then for requests still running (up to 10 s more); the
  // grace covers both, so a slow job is released rather than cut off by exit(1).
  closeWithGrace({ delay: 25_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  return app
}

/**
 * `jack worker`: the ingest workers alone, for scaling processing apart from
 * the API (whose instances then run with JACK_WORKERS=0). No port is opened.
 */
export async function startWorker (config: Config): Promise<void> {
  if (config.workers === 0) throw new ConfigError('JACK_WORKERS must be at least 1 for `jack worker`')
  const log = pino(loggerOptions(config.logLevel))
  const database = await openDatabase(databaseOptions(config))
  const worker = new IngestWorker(database, workerOptionsFrom(config, log))
  await worker.start()
  log.info({ workers: config.workers, id: worker.id }, 'ingest worker started')
  closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'stopping after an uncaught error')
    else log.info({ signal }, 'stopping')
    await worker.stop()
    await database.close()
  })
}

/** Prints a start-up failure an operator can act on, without a stack trace for the expected ones. */
export function reportStartupError (error: unknown): never {
  if (error instanceof ConfigError || error instanceof DataDirInUseError || error instanceof ServingRoleError) {
    process.stderr.write(`jack: ${error.message}\n`)
  } else {
    process.stderr.write(`jack: could not start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  }
  process.exit(1)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await startServer(loadConfig())
  } catch (error) {
    reportStartupError(error)
  }
}
