import fs from 'node:fs'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { generateApiKey } from '../src/keys/api-key.js'
import { createTestDatabase } from './helpers/database.js'
import { testDatabaseUrl } from './helpers/template.js'
import { httpGet, jackEnv, runJack, startServe, type RunningServer } from './helpers/processes.js'

const ANY_KEY = /jack_[0-9a-f]{48}/g
const KEY_FORMAT = /^jack_[0-9a-f]{48}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const RULE = '='.repeat(72)
const onPglite = testDatabaseUrl === undefined

interface KeyListing { id: string, prefix: string, label: string, org_id: string }

function keysIn (text: string): string[] {
  return text.match(ANY_KEY) ?? []
}

async function listKeys (t: Test, server: RunningServer, key: string): Promise<KeyListing[]> {
  const response = await httpGet(server, '/v1/keys', key)
  t.equal(response.status, 200, 'GET /v1/keys with the key → 200')
  return response.status === 200 ? response.json<KeyListing[]>() : []
}

async function stopGracefully (t: Test, server: RunningServer): Promise<void> {
  const started = performance.now()
  const exit = await server.stop(10_000)
  t.same(exit, { code: 0, signal: null }, `SIGTERM → exit 0 (took ${Math.round(performance.now() - started)} ms)`)
}

t.test('the first serve on an empty database prints one key, once', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const env = jackEnv(testDatabase)

  const first = await startServe(t, env)
  const printed = keysIn(first.proc.stdout)
  t.equal(printed.length, 1, 'exactly one key on stdout')
  const key = printed[0] ?? ''
  const lines = first.proc.stdout.split('\n')
  const keyLine = lines.findIndex((line) => line.trim() === key)
  t.ok(keyLine > 0, 'the key stands on a line of its own')
  const opening = lines.lastIndexOf(RULE, keyLine)
  const closing = lines.indexOf(RULE, keyLine)
  t.ok(opening >= 0 && closing > keyLine, 'between two rules')
  t.match(lines.slice(opening, closing).join('\n'), /shown this once/, 'with a warning that it is shown once')
  t.equal(keysIn(first.proc.stderr).length, 0, 'no key on stderr')

  t.equal((await httpGet(first, '/v1/keys')).status, 401, 'no key → 401')
  const listed = await listKeys(t, first, key)
  t.same(listed.map((entry) => entry.label), ['bootstrap'], 'the listing holds the one bootstrap key')
  t.equal(listed[0]?.prefix, key.slice(0, 16))
  await stopGracefully(t, first)

  const second = await startServe(t, env)
  t.equal((await listKeys(t, second, key)).length, 1, 'the old key still works on the next start')
  await stopGracefully(t, second)
  t.same(keysIn(second.proc.stdout + second.proc.stderr), [], 'the second start prints no key at all')
  t.notOk(second.proc.stdout.includes(RULE), 'nor a bootstrap block')
})

t.test('JACK_BOOTSTRAP_KEY becomes the first key and is never printed', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const key = generateApiKey()
  const server = await startServe(t, jackEnv(testDatabase, { JACK_BOOTSTRAP_KEY: key }))
  t.match(server.proc.stdout, /its first key is JACK_BOOTSTRAP_KEY/, 'the operator is told which key it is')
  t.same(keysIn(server.proc.stdout + server.proc.stderr), [], 'no key text printed before requests')
  const listed = await listKeys(t, server, key)
  t.same(listed.map((entry) => [entry.label, entry.prefix]), [['bootstrap', key.slice(0, 16)]], 'the given key is the bootstrap key')
  await stopGracefully(t, server)
  t.notOk((server.proc.stdout + server.proc.stderr).includes(key.slice(16)), 'the key (or its secret part) never reaches the output, request logs included')
})

t.test('invalid configuration stops serve at once, naming the variable', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const nearlyValid = `jack_${'AB'.repeat(24)}` // the right length, uppercase: still invalid and still secret
  const cases: Array<[string, Record<string, string>, RegExp, string[]]> = [
    ['JACK_BOOTSTRAP_KEY=jack_XYZ', { JACK_BOOTSTRAP_KEY: 'jack_XYZ' }, /JACK_BOOTSTRAP_KEY/, ['jack_XYZ', 'XYZ']],
    ['an uppercase JACK_BOOTSTRAP_KEY', { JACK_BOOTSTRAP_KEY: nearlyValid }, /JACK_BOOTSTRAP_KEY/, [nearlyValid, nearlyValid.slice(5)]],
    ['PORT=abc', { PORT: 'abc' }, /\bPORT\b/, []]
  ]
  const results = await Promise.all(cases.map(async ([, extra]) => await runJack(t, ['serve'], jackEnv(testDatabase, extra), 45_000)))
  for (const [index, [name, , names, secrets]] of cases.entries()) {
    const result = results[index]
    if (result === undefined) continue
    t.not(result.code, 0, `${name}: exits non-zero`)
    t.equal(result.signal, null, `${name}: exits by itself (runJack kills it after 45 s otherwise)`)
    t.match(result.stderr, /^jack: /, `${name}: a jack message on stderr`)
    t.match(result.stderr, names, `${name}: naming the variable`)
    t.notMatch(result.stderr, /\n\s+at /, `${name}: no stack trace`)
    for (const secret of secrets) {
      t.notOk((result.stdout + result.stderr).includes(secret), `${name}: the bad value is not echoed`)
    }
    t.notMatch(result.stdout, /Server listening/, `${name}: never listened`)
  }
})

t.test('orgs create and keys create, then serve', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const env = jackEnv(testDatabase)

  const org = await runJack(t, ['orgs', 'create', 'Acme'], env)
  t.equal(org.code, 0, 'orgs create exits 0')
  const orgLines = org.stdout.trimEnd().split('\n')
  t.equal(orgLines.length, 1, 'orgs create prints one line')
  const created = JSON.parse(orgLines[0] ?? 'null') as { org_id: string, key: string }
  t.same(Object.keys(created).sort(), ['key', 'org_id'])
  t.match(created.org_id, UUID)
  t.match(created.key, KEY_FORMAT)

  const keys = await runJack(t, ['keys', 'create', '--org', created.org_id, '--label', 'ci'], env)
  t.equal(keys.code, 0, 'keys create exits 0')
  const keyLines = keys.stdout.trimEnd().split('\n')
  t.equal(keyLines.length, 1, 'keys create prints one line')
  const ci = JSON.parse(keyLines[0] ?? 'null') as { id: string, key: string, prefix: string, label: string, org_id: string, created_at: string }
  t.same(Object.keys(ci).sort(), ['created_at', 'id', 'key', 'label', 'org_id', 'prefix'])
  t.match(ci.id, UUID)
  t.match(ci.key, KEY_FORMAT)
  t.not(ci.key, created.key)
  t.equal(ci.prefix, ci.key.slice(0, 16))
  t.equal(ci.label, 'ci')
  t.equal(ci.org_id, created.org_id)
  t.match(ci.created_at, TIMESTAMP)

  const unknownOrg = randomUUID()
  const failures = await Promise.all([
    runJack(t, ['keys', 'create', '--org', unknownOrg], env),
    runJack(t, ['keys', 'create', '--label', 'x'], env),
    runJack(t, ['frobnicate'], env)
  ])
  const [missingOrg, noOrg, unknownCommand] = failures
  t.not(missingOrg?.code, 0, 'keys create for an org that does not exist exits non-zero')
  t.match(missingOrg?.stderr, new RegExp(`organisation ${unknownOrg}`), 'naming the org')
  t.equal(noOrg?.code, 2, 'keys create without --org exits 2')
  t.match(noOrg?.stderr, /--org/, 'saying --org is needed')
  t.match(noOrg?.stderr, /usage:/, 'with the usage')
  t.equal(unknownCommand?.code, 2, 'an unknown command exits 2')
  t.match(unknownCommand?.stderr, /unknown command: frobnicate/)
  t.match(unknownCommand?.stderr, /usage:/)
  for (const failure of failures) t.equal(failure.stdout, '', 'a failure prints nothing on stdout')

  const server = await startServe(t, env)
  t.same(keysIn(server.proc.stdout), [], 'an org exists, so serve bootstraps nothing and prints no key')
  const listed = await listKeys(t, server, created.key)
  t.same(listed.map((entry) => entry.label).sort(), ['ci', 'cli'], 'the org\'s two CLI-created keys, and only those')
  t.ok(listed.every((entry) => entry.org_id === created.org_id), 'all in the printed org')
  t.ok(listed.some((entry) => entry.id === ci.id), 'including the keys create one by id')
  t.equal((await listKeys(t, server, ci.key)).length, 2, 'the keys create key authenticates too')

  await t.test('PGlite: another process cannot open the data directory while serve runs', { skip: onPglite ? false : 'PGlite only: PostgreSQL has no data-directory lock' }, async (t) => {
    const lockPath = path.join(testDatabase.dataDir, 'jack.lock')
    t.equal(fs.readFileSync(lockPath, 'utf8'), String(server.proc.pid), 'the server holds the lock')
    const blocked = await runJack(t, ['orgs', 'create', 'X'], env)
    t.not(blocked.code, 0, 'orgs create exits non-zero')
    t.match(blocked.stderr, /^jack: The data directory .* is in use by another jack process \(pid \d+\)/, 'saying the data directory is in use')
    t.match(blocked.stderr, String(server.proc.pid), 'by the server')
    t.notMatch(blocked.stderr, /\n\s+at /, 'without a stack trace')
    t.equal(blocked.stdout, '', 'and prints no key')
    t.equal(fs.readFileSync(lockPath, 'utf8'), String(server.proc.pid), 'the server still holds the lock')
    const ready = await httpGet(server, '/readyz')
    t.equal(ready.status, 200, 'the server is still ready')
    t.equal((await listKeys(t, server, created.key)).length, 2, 'and the org still has its two keys')
  })

  await t.test('PostgreSQL: orgs create works while serve runs', { skip: onPglite ? 'PostgreSQL only: a PGlite data directory has one process' : false }, async (t) => {
    const other = await runJack(t, ['orgs', 'create', 'X'], env)
    t.equal(other.code, 0, 'orgs create exits 0')
    const { org_id: orgId, key } = JSON.parse(other.stdout) as { org_id: string, key: string }
    t.not(orgId, created.org_id)
    const listed = await listKeys(t, server, key)
    t.same(listed.map((entry) => [entry.label, entry.org_id]), [['cli', orgId]], 'the running server accepts the new key, scoped to the new org')
    t.equal((await httpGet(server, '/readyz')).status, 200)
  })

  await t.test('stop', async (t) => { await stopGracefully(t, server) })
})

t.test('a stale lock file does not block migrate', { skip: onPglite ? false : 'PGlite only: PostgreSQL has no data-directory lock' }, async (t) => {
  const testDatabase = await createTestDatabase(t)
  let deadPid = 999_999
  const isRunning = (pid: number): boolean => {
    try {
      process.kill(pid, 0)
      return true
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  while (isRunning(deadPid)) deadPid++
  const lockPath = path.join(testDatabase.dataDir, 'jack.lock')
  fs.writeFileSync(lockPath, String(deadPid))
  const migrated = await runJack(t, ['migrate'], jackEnv(testDatabase))
  t.equal(migrated.code, 0, `migrate exits 0 despite a lock from dead pid ${deadPid}`)
  t.equal(migrated.stdout, 'jack: database is migrated\n')
  t.equal(migrated.stderr, '')
  t.notOk(fs.existsSync(lockPath), 'and leaves no lock behind')
})
