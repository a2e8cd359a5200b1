import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../../src/app.js'
import { openDatabase } from '../../src/db/client.js'
import { DataDirInUseError } from '../../src/db/data-dir-lock.js'
import { createOrg, findOrg } from '../../src/repositories/orgs.repo.js'
import { createTestDatabase } from '../helpers/database.js'
import { testDatabaseUrl } from '../helpers/template.js'
import { createOrgWithKey, testConfig } from '../helpers/app.js'

t.test('data written survives closing and reopening the database', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const first = await testDatabase.open()
  const org = await createOrg(first.db, 'persistent')
  await first.close()
  const second = await testDatabase.open()
  t.teardown(async () => { await second.close() })
  t.equal((await findOrg(second.db, org.id))?.name, 'persistent')
})

t.test('a PGlite data directory has one owner', { skip: testDatabaseUrl !== undefined ? 'PGlite only' : false }, async (t) => {
  const testDatabase = await createTestDatabase(t)
  const owner = await testDatabase.open()
  await t.rejects(openDatabase({ dataDir: testDatabase.dataDir }), DataDirInUseError, 'a second open is refused')
  await owner.close()
  t.notOk(fs.existsSync(path.join(testDatabase.dataDir, 'jack.lock')), 'closing releases the lock')

  fs.writeFileSync(path.join(testDatabase.dataDir, 'jack.lock'), '999999999')
  const afterCrash = await openDatabase({ dataDir: testDatabase.dataDir })
  t.pass('a lock left by a dead process does not block')
  await afterCrash.close()
})

t.test('closing the app waits for handlers whose client already hung up', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const testDatabase = await createTestDatabase(t)
  // The app opens (and so closes) the database itself here.
  const app = await buildApp({ config: testConfig(testDatabase, { logLevel: 'info' }), logStream })
  const org = await createOrgWithKey(app.database)
  // Hold each request until its client has gone and a little longer, like a
  // slow handler, so its query runs while the app is closing.
  let arrived = 0
  app.addHook('preHandler', async (request) => {
    arrived++
    await new Promise((resolve) => request.raw.socket.once('close', resolve))
    await new Promise((resolve) => setTimeout(resolve, 100))
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const clients = Array.from({ length: 4 }, () => {
    const request = http.request({ port, host: '127.0.0.1', path: '/v1/keys', headers: { authorization: `Bearer ${org.key}` } })
    request.on('error', () => {})
    request.end()
    return request
  })
  while (arrived < clients.length) await new Promise((resolve) => setTimeout(resolve, 5))
  for (const client of clients) client.destroy()
  await app.close()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notMatch(lines.join(''), /requests still running/)
  const failures = lines.filter((line) => line.includes('"level":50'))
  t.same(failures, [], 'no request failed because its database went away')
})
