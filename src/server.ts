// Entry point of `jack serve` / `npm start`: open the database, bootstrap, listen, and shut down gracefully.
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { ensureDefaultOrg, formatBootstrapMessage } from './bootstrap.js'
import { DataDirInUseError } from './db/data-dir-lock.js'

export async function startServer (config: Config): Promise<FastifyInstance> {
  const app = await buildApp({ config })
  await app.ready()
  const message = formatBootstrapMessage(await ensureDefaultOrg(app.db, config.bootstrapKey))
  if (message !== undefined) process.stdout.write(message)
  await app.listen({ port: config.port, host: config.host })
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  return app
}

/** Prints a start-up failure an operator can act on, without a stack trace for the expected ones. */
export function reportStartupError (error: unknown): never {
  if (error instanceof ConfigError || error instanceof DataDirInUseError) {
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
