// Row-level security, the third wall: every tenant table forces it, the service's own connections are bound by it, and no organisation leaks through a pooled connection.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql, type SQL } from 'drizzle-orm'
import postgres from 'postgres'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { waitForDocument } from '../helpers/documents.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { adminConnection, testDatabaseUrl, urlForDatabase } from '../helpers/template.js'
import { openDatabase, type Db } from '../../src/db/client.js'
import { inOrg, OrgScopeError } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import { ServingRoleError } from '../../src/db/serving-role.js'
import { insertDocuments } from '../../src/repositories/documents.repo.js'
import { findApiKeyCandidates } from '../../src/repositories/api-keys.repo.js'
import { claimNextJob } from '../../src/repositories/ingest-jobs.repo.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import { createApiKey } from '../../src/keys/api-key.js'
import type { OrgId } from '../../src/org-id.js'
import { PACKED_BELOW_CHUNKS, setPackedBelowChunks } from '../../src/search-index/segment-builder.js'

/** Every table of the public schema holds tenant data; a table that does not would be named here, on purpose. */
const NOT_TENANT_TABLES: string[] = []

/** The database's own message: Drizzle wraps it as the cause of a "Failed query" error. */
async function databaseError (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause
    return cause instanceof Error ? cause.message : String(error)
  }
  return 'no error'
}

/** Runs `query` as is, in whatever scope `db` has (none, outside a transaction). */
async function rows<T> (db: Db, query: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(query))
}

/** A text document as the ingest routes store it, for insertDocuments. */
function textDocument (text: string): Parameters<typeof insertDocuments>[2][number] {
  return { document: { sourceType: 'text', filename: null, format: null, metadata: {}, chunkSize: 512, chunkOverlap: 64 }, payload: { text } }
}

async function publicTables (db: Db): Promise<Array<{ name: string, rls: boolean, forced: boolean, policies: string[] }>> {
  return await rows(db, sql`
    select c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
           coalesce((select array_agg(p.polname::text order by p.polname) from pg_policy p where p.polrelid = c.oid), '{}') as policies
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
    order by c.relname`)
}

/** Each tenant table's rows as the given transaction sees them, by organisation. */
async function visibleOrgs (db: Db, tables: string[]): Promise<Record<string, string[]>> {
  const seen: Record<string, string[]> = {}
  for (const table of tables) {
    const column = table === 'orgs' ? 'id' : 'org_id'
    const found = await rows<{ org: string }>(db, sql.raw(`select distinct ${column}::text as org from "${table}" order by 1`))
    seen[table] = found.map((row) => row.org)
  }
  return seen
}

t.test('every table of the public schema forces row-level security with the tenant policy; a new table without it fails here', async (t) => {
  const { database } = await buildTestApp(t)
  const tables = await publicTables(database.db)
  t.ok(tables.length >= 10, `found the tables (${tables.map((table) => table.name).join(', ')})`)
  for (const table of tables) {
    if (NOT_TENANT_TABLES.includes(table.name)) continue
    t.ok(table.rls && table.forced, `${table.name}: ENABLE and FORCE ROW LEVEL SECURITY`)
    t.ok(table.policies.includes('tenant_isolation'), `${table.name}: has the tenant_isolation policy`)
  }
  const policies = await rows<{ table: string, name: string, roles: string, qual: string, check: string | null }>(database.db, sql`
    select tablename as table, policyname as name, roles::text as roles, qual, with_check as check from pg_policies where schemaname = 'public'`)
  for (const policy of policies.filter((p) => p.name === 'tenant_isolation')) {
    t.equal(policy.roles, '{public}', `${policy.table}: the tenant policy binds every role`)
    t.match(policy.qual, /jack_current_org_id\(\)/, `${policy.table}: reads and deletes are filtered by the transaction's organisation`)
    t.match(policy.check ?? '', /jack_current_org_id\(\)/, `${policy.table}: and so are writes`)
  }
  const others = policies.filter((p) => p.name !== 'tenant_isolation')
  t.ok(others.every((p) => p.roles === '{jack_system}'), 'every other policy is jack_system\'s, the owner of the three cross-organisation functions')
})

t.test('the service runs as a role that owns nothing and bypasses nothing', async (t) => {
  const { database } = await buildTestApp(t)
  const [role] = await rows<{ user: string, superuser: boolean, bypass: boolean, owned: number }>(database.db, sql`
    select current_user as user, r.rolsuper as superuser, r.rolbypassrls as bypass,
           (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and pg_get_userbyid(c.relowner) = current_user) as owned
    from pg_roles r where r.rolname = current_user`)
  t.same(role, { user: 'jack_app', superuser: false, bypass: false, owned: 0 })
  t.match(await databaseError(database.db.execute(sql`alter table documents disable row level security`)), /must be owner/, 'it cannot switch the policies off')
  t.match(await databaseError(database.db.execute(sql`drop policy tenant_isolation on documents`)), /must be owner/, 'nor drop one')
})

t.test('unscoped queries see no tenant rows; scoped ones see only their organisation\'s, in every table', async (t) => {
  // Small segments keep their terms in their own row: with none packed, index_terms gets rows too.
  setPackedBelowChunks(0)
  t.teardown(() => { setPackedBelowChunks(PACKED_BELOW_CHUNKS) })
  const { app, database } = await buildTestApp(t)
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  for (const org of [orgA, orgB]) {
    const created = await call(t, app, 'POST', '/v1/ingest', {
      key: org.key,
      body: { documents: [{ text: `The refund policy of ${org.orgId} allows returns within 30 days.`, metadata: { team: 'support' } }] }
    })
    t.equal(created.status, 202)
    const [id] = created.json<{ document_ids: string[] }>().document_ids
    t.equal((await waitForDocument(app, org.key, id ?? '')).status, 'ready')
    // An Idempotency-Key and a counted request leave rows in the two remaining tables.
    const pending = await call(t, app, 'POST', '/v1/ingest', { key: org.key, headers: { 'idempotency-key': 'k1' }, body: { documents: [{ text: 'pending' }] } })
    t.equal(pending.status, 202)
    t.equal((await waitForDocument(app, org.key, pending.json<{ document_ids: string[] }>().document_ids[0] ?? '')).status, 'ready')
    // Once no merge is due, new metadata re-indexes the document, leaving its old ordinals among the search index's deletions.
    await app.ingestWorker?.merger.idle()
    t.equal((await call(t, app, 'PATCH', `/v1/documents/${id ?? ''}`, { key: org.key, body: { metadata: { team: 'billing' } } })).status, 200)
  }
  const tables = (await publicTables(database.db)).map((table) => table.name).filter((name) => !NOT_TENANT_TABLES.includes(name))

  const unscoped = await visibleOrgs(database.db, tables)
  t.same(unscoped, Object.fromEntries(tables.map((table) => [table, []])), 'with no organisation set, a raw SELECT * sees nothing at all')

  for (const org of [orgA, orgB]) {
    const scoped = await inOrg(database.db, org.orgId, async (tx) => await visibleOrgs(tx, tables))
    for (const table of tables) {
      if (table === 'ingest_jobs' || table === 'document_payloads') continue // the processed documents' are gone; the pending ones' may be too
      t.same(scoped[table], [org.orgId], `${table}: a deliberately unscoped SELECT inside ${org.orgId === orgA.orgId ? 'A' : 'B'}'s transaction returns only its rows`)
    }
  }
})

t.test('writes for another organisation are refused, and its rows cannot be touched', async (t) => {
  const { database } = await buildTestApp(t)
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  const [idOfB] = await insertDocuments(database.db, orgB.orgId, [textDocument('B only')])
  t.match(await databaseError(inOrg(database.db, orgA.orgId, async (tx) => await tx.execute(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap) values (${orgB.orgId}, 'text', 512, 64)`))),
  /violates row-level security policy/, 'an insert into B from A\'s transaction violates the policy')
  t.match(await databaseError(database.db.execute(sql`insert into documents (org_id, source_type, chunk_size, chunk_overlap) values (${orgB.orgId}, 'text', 512, 64)`)),
    /violates row-level security policy/, 'and so does one with no organisation set')
  const touched = await inOrg(database.db, orgA.orgId, async (tx) => [
    ...await rows(tx, sql`update documents set metadata = '{"owned":"by A"}' where id = ${idOfB ?? ''} returning id`),
    ...await rows(tx, sql`delete from documents where id = ${idOfB ?? ''} returning id`)
  ])
  t.same(touched, [], 'A\'s UPDATE and DELETE of B\'s document by ID match nothing')
  const [still] = await queryInOrg<{ metadata: unknown }>(database, orgB.orgId, sql`select metadata from documents where id = ${idOfB ?? ''}`)
  t.same(still, { metadata: {} }, 'B\'s document is untouched')
})

t.test('pooled connections never carry one transaction\'s organisation into the next', async (t) => {
  const { database } = await buildTestApp(t)
  const orgs: OrgId[] = []
  for (let i = 0; i < 4; i++) {
    const org = await createOrgWithKey(database, `org ${i}`)
    await insertDocuments(database.db, org.orgId, [textDocument(`doc of ${i}`)])
    orgs.push(org.orgId)
  }
  // Many at once, so every connection of the pool serves several organisations in turn.
  const seen = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
    const orgId = orgs[i % orgs.length] as OrgId
    const found = await queryInOrg<{ org_id: string }>(database, orgId, sql`select org_id::text from documents`)
    return { orgId, found: found.map((row) => row.org_id) }
  }))
  t.ok(seen.every(({ orgId, found }) => found.length === 1 && found[0] === orgId), 'each transaction saw exactly its own organisation\'s document')
  const after = await Promise.all(Array.from({ length: 20 }, async () =>
    (await rows<{ org: string | null, backend: number }>(database.db, sql`select nullif(current_setting('app.org_id', true), '') as org, pg_backend_pid() as backend`))[0]))
  t.ok(after.every((row) => row?.org === null), `no connection still has an organisation set afterwards (${new Set(after.map((row) => row?.backend)).size} connections asked)`)
})

t.test('one transaction never acts for two organisations', async (t) => {
  const { database } = await buildTestApp(t)
  const orgA = await createOrgWithKey(database, 'A')
  const orgB = await createOrgWithKey(database, 'B')
  await t.rejects(inOrg(database.db, orgA.orgId, async (tx) => await inOrg(tx, orgB.orgId, async () => 'never')), OrgScopeError)
  t.equal(await inOrg(database.db, orgA.orgId, async (tx) => await inOrg(tx, orgA.orgId, async () => 'nested')), 'nested', 'the same organisation again is fine')
})

t.test('an injected RESET ROLE or SET ROLE gains nothing on PostgreSQL', { skip: testDatabaseUrl === undefined ? 'PGlite has one (super)user: SET ROLE is its only means, and RESET ROLE undoes it' : false }, async (t) => {
  const { database } = await buildTestApp(t)
  const [afterReset] = await database.db.transaction(async (tx) => {
    await tx.execute(sql`reset role`)
    return rowsOf<{ user: string }>(await tx.execute(sql`select current_user as user`))
  })
  t.same(afterReset, { user: 'jack_app' }, 'the login itself is jack_app: RESET ROLE returns to it')
  for (const role of ['postgres', 'jack_system']) {
    t.match(await databaseError(database.db.execute(sql.raw(`set role ${role}`))), /permission denied/, `SET ROLE ${role} is refused`)
  }
})

t.test('PostgreSQL: an explicit serving login is made a member of jack_app; a superuser one is refused', { skip: testDatabaseUrl === undefined ? 'PostgreSQL only' : false }, async (t) => {
  const { testDatabase } = await buildTestApp(t)
  const ownerUrl = testDatabase.databaseUrl ?? ''
  const login = `jack_test_login_${randomBytes(4).toString('hex')}`
  const admin = postgres(ownerUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create role ${login} login`)
  t.teardown(async () => {
    await admin.unsafe(`drop role if exists ${login}`)
    await admin.end()
  })
  const loginUrl = new URL(ownerUrl)
  loginUrl.username = login
  const database = await openDatabase({ databaseUrl: loginUrl.toString(), migrationUrl: ownerUrl, dataDir: '', poolSize: 1 })
  try {
    const [row] = await rows<{ user: string, member: boolean }>(database.db, sql`select current_user as user, pg_has_role(current_user, 'jack_app', 'member') as member`)
    t.same(row, { user: login, member: true })
    t.same(await visibleOrgs(database.db, ['documents']), { documents: [] }, 'and row-level security binds it')
  } finally {
    await database.close()
  }
  await t.rejects(openDatabase({ databaseUrl: ownerUrl, migrationUrl: ownerUrl, dataDir: '', poolSize: 1 }),
    ServingRoleError, 'serving as the superuser is refused at start-up')
})

t.test('PostgreSQL: an owner that is no superuser (a managed service\'s administrator: CREATEROLE, CREATEDB) migrates and serves', { skip: testDatabaseUrl === undefined ? 'PostgreSQL only' : false }, async (t) => {
  const serverUrl = testDatabaseUrl as string
  const suffix = randomBytes(4).toString('hex')
  const owner = `jack_test_owner_${suffix}`
  const name = `jack_test_owned_${suffix}`
  const admin = adminConnection(serverUrl)
  await admin.unsafe(`create role ${owner} login createrole createdb nosuperuser`)
  await admin.unsafe(`create database ${name} owner ${owner}`)
  t.teardown(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.unsafe(`drop role if exists ${owner}`)
    await admin.end()
  })
  const ownerUrl = new URL(urlForDatabase(serverUrl, name))
  ownerUrl.username = owner
  const database = await openDatabase({ databaseUrl: ownerUrl.toString(), dataDir: '', poolSize: 2 })
  try {
    const org = await createOrg(database.db, 'managed')
    const { record } = await createApiKey(database.db, org.id, 'first')
    await insertDocuments(database.db, org.id, [textDocument('hello')])
    t.same((await findApiKeyCandidates(database.db, record.prefix)).map((candidate) => candidate.id), [record.id], 'the key lookup crosses organisations through jack_system')
    t.equal((await claimNextJob(database.db, 'w', 60_000))?.orgId, org.id, 'and so does the job claim')
    t.same(await visibleOrgs(database.db, ['documents']), { documents: [] }, 'while the serving role sees no tenant row unscoped')
    const [role] = await rows<{ user: string }>(database.db, sql`select current_user as user`)
    t.same(role, { user: 'jack_app' })
  } finally {
    await database.close()
  }
})
