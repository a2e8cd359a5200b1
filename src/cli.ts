#!/usr/bin/env node
// The `jack` command: serve (default), migrate, orgs create, keys create — with the server's own configuration.
import { parseArgs } from 'node:util'
import { loadConfig, type Config } from './config.js'
import { databaseOptions, openDatabase, type Database } from './db/client.js'
import { createApiKey } from './keys/api-key.js'
import { createOrg, findOrg } from './repositories/orgs.repo.js'
import { asOrgId } from './org-id.js'
import { reportStartupError, startServer, startWorker } from './server.js'
import { toApiTimestamp } from './time.js'

const USAGE = `usage:
  jack [serve]                                 run the HTTP service (and its workers)
  jack worker                                  run only the ingest workers (JACK_WORKERS of them), no HTTP
  jack migrate                                 apply database migrations and exit
  jack orgs create <name>                      create an organisation; prints {"org_id", "key"}
  jack keys create --org <org_id> [--label L]  create a key for an organisation; prints it once
Configuration comes from the environment (DATABASE_URL, JACK_DATA_DIR, …) as for the server.`

class UsageError extends Error {}
/** A well-formed command that cannot be carried out; no usage text. */
class CommandError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

async function withDatabase<T> (config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(databaseOptions(config, 2))
  try {
    return await work(database)
  } finally {
    await database.close()
  }
}

function printJson (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

async function run (argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv
  const config = loadConfig()
  if (command === 'serve' && rest.length === 0) {
    await startServer(config)
    return
  }
  if (command === 'worker' && rest.length === 0) {
    await startWorker(config)
    return
  }
  if (command === 'migrate' && rest.length === 0) {
    await withDatabase(config, async () => {})
    process.stdout.write('jack: database is migrated\n')
    return
  }
  if (command === 'orgs' && rest[0] === 'create') {
    const { positionals } = parseArgs({ args: rest.slice(1), allowPositionals: true, strict: true })
    const name = positionals.join(' ').trim()
    if (name === '' || name.length > 200) throw new UsageError('orgs create needs a name of 1–200 characters')
    await withDatabase(config, async ({ db }) => {
      const org = await createOrg(db, name)
      const { key } = await createApiKey(db, org.id, 'cli')
      printJson({ org_id: org.id, key })
    })
    return
  }
  if (command === 'keys' && rest[0] === 'create') {
    const { values } = parseArgs({ args: rest.slice(1), options: { org: { type: 'string' }, label: { type: 'string' } }, strict: true })
    if (values.org === undefined || !UUID.test(values.org)) throw new UsageError('keys create needs --org <org_id> (a UUID)')
    const label = values.label ?? 'cli'
    if (label.length < 1 || label.length > 100) throw new UsageError('--label must be 1–100 characters')
    const orgId = asOrgId(values.org.toLowerCase())
    await withDatabase(config, async ({ db }) => {
      if (await findOrg(db, orgId) === undefined) throw new CommandError(`no organisation ${orgId}`)
      const { record, key } = await createApiKey(db, orgId, label)
      printJson({ id: record.id, key, prefix: record.prefix, label: record.label, org_id: record.orgId, created_at: toApiTimestamp(record.createdAt) })
    })
    return
  }
  throw new UsageError(`unknown command: ${argv.join(' ')}`)
}

try {
  await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError || (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true)) {
    process.stderr.write(`jack: ${error.message}\n${USAGE}\n`)
    process.exit(2)
  }
  if (error instanceof CommandError) {
    process.stderr.write(`jack: ${error.message}\n`)
    process.exit(1)
  }
  reportStartupError(error)
}
