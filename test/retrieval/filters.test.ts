import { randomBytes } from 'node:crypto'
import t from 'tap'
import fc from 'fast-check'
import { and, eq, sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { createTestDatabase } from '../helpers/database.js'
import { queryInOrg } from '../helpers/org-sql.js'
import { adminConnection, testDatabaseUrl, urlForDatabase } from '../helpers/template.js'
import { compareUtf8, matchesFilter } from '../helpers/filter-reference.js'
import { KEYS, metadataArbitrary, rawFilter } from '../helpers/filter-arbitraries.js'
import { documents } from '../../src/db/schema.js'
import type { Database } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import { createOrg } from '../../src/repositories/orgs.repo.js'
import type { OrgId } from '../../src/org-id.js'
import { EMPTY_FILTER, FILTER_LIMITS, FilterError, filterToSql, parseFilter, type Filter } from '../../src/retrieval/filters.js'

// --- parseFilter -----------------------------------------------------------------------------------------------------

t.test('parseFilter accepts every documented form', async (t) => {
  const cases: Array<[string, unknown, Filter]> = [
    ['omitted', undefined, { all: [], anyOf: [] }],
    ['empty', {}, { all: [], anyOf: [] }],
    ['plain equality', { department: 'HR' }, { all: [{ key: 'department', op: 'eq', value: 'HR' }], anyOf: [] }],
    ['several equalities, empty value', { a: '', b: 'x' }, { all: [{ key: 'a', op: 'eq', value: '' }, { key: 'b', op: 'eq', value: 'x' }], anyOf: [] }],
    ['$in (duplicates dropped)', { d: { $in: ['HR', 'legal', 'HR'] } }, { all: [{ key: 'd', op: 'in', values: ['HR', 'legal'] }], anyOf: [] }],
    ['empty $in', { d: { $in: [] } }, { all: [{ key: 'd', op: 'in', values: [] }], anyOf: [] }],
    ['$nin', { d: { $nin: ['x'] } }, { all: [{ key: 'd', op: 'nin', values: ['x'] }], anyOf: [] }],
    ['$ne', { status: { $ne: 'draft' } }, { all: [{ key: 'status', op: 'ne', value: 'draft' }], anyOf: [] }],
    ['$exists true', { y: { $exists: true } }, { all: [{ key: 'y', op: 'exists', exists: true }], anyOf: [] }],
    ['$exists false', { y: { $exists: false } }, { all: [{ key: 'y', op: 'exists', exists: false }], anyOf: [] }],
    ['comparisons', { y: { $gt: 'a', $gte: 'b', $lt: 'c', $lte: 'd' } }, {
      all: [{ key: 'y', op: 'gt', value: 'a' }, { key: 'y', op: 'gte', value: 'b' }, { key: 'y', op: 'lt', value: 'c' }, { key: 'y', op: 'lte', value: 'd' }],
      anyOf: []
    }],
    ['a range', { year: { $gte: '2020', $lt: '2025' } }, { all: [{ key: 'year', op: 'gte', value: '2020' }, { key: 'year', op: 'lt', value: '2025' }], anyOf: [] }],
    ['$or beside plain keys', { $or: [{ a: 'x' }, { b: { $exists: false }, c: 'z' }], d: 'y' }, {
      all: [{ key: 'd', op: 'eq', value: 'y' }],
      anyOf: [[{ key: 'a', op: 'eq', value: 'x' }], [{ key: 'b', op: 'exists', exists: false }, { key: 'c', op: 'eq', value: 'z' }]]
    }],
    ['an empty $or alternative (always true)', { $or: [{}] }, { all: [], anyOf: [[]] }],
    ['keys are names, not paths', { 'a.b': 'x', 'it\'s "q"': 'y' }, { all: [{ key: 'a.b', op: 'eq', value: 'x' }, { key: 'it\'s "q"', op: 'eq', value: 'y' }], anyOf: [] }],
    ['a key named __proto__', JSON.parse('{"__proto__": "x"}'), { all: [{ key: '__proto__', op: 'eq', value: 'x' }], anyOf: [] }],
    ['8192 astral characters (limits count code points)', { a: '😀'.repeat(8192) }, { all: [{ key: 'a', op: 'eq', value: '😀'.repeat(8192) }], anyOf: [] }]
  ]
  for (const [name, raw, expected] of cases) t.same(parseFilter(raw), expected, name)

  const atLimits = parseFilter({
    ...Object.fromEntries(Array.from({ length: FILTER_LIMITS.keys - 1 }, (_, i) => [`k${i}`, 'v'])),
    $or: Array.from({ length: FILTER_LIMITS.alternatives }, (_, i) => ({ a: { $in: Array.from({ length: i === 0 ? FILTER_LIMITS.inValues : 1 }, (_, j) => `v${j}`) } }))
  })
  t.equal(atLimits.all.length, FILTER_LIMITS.keys - 1, 'the key, $in and $or limits are inclusive')
  t.equal(atLimits.anyOf.length, FILTER_LIMITS.alternatives)
})

t.test('parseFilter rejects invalid filters with a message naming the path', async (t) => {
  const keys = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
  const strings = (n: number): string[] => Array.from({ length: n }, (_, i) => `v${i}`)
  const cases: Array<[unknown, string]> = [
    [null, 'filters must be an object'],
    [[], 'filters must be an object'],
    ['HR', 'filters must be an object'],
    [5, 'filters must be an object'],
    [{ year: { $regex: 'x' } }, 'filters.year: unknown operator "$regex"'],
    [{ year: { $eq: 'x' } }, 'filters.year: unknown operator "$eq"'],
    [{ year: { gt: '2020' } }, 'filters.year: unknown operator "gt"'],
    [{ year: { $gte: '2020', $foo: 'x' } }, 'filters.year: unknown operator "$foo"'],
    [{ year: { $gt: 5 } }, 'filters.year.$gt must be a string'],
    [{ year: { $lte: null } }, 'filters.year.$lte must be a string'],
    [{ year: { $ne: ['x'] } }, 'filters.year.$ne must be a string'],
    [{ department: { $in: 'x' } }, 'filters.department.$in must be an array of strings'],
    [{ department: { $in: [1] } }, 'filters.department.$in must be an array of strings'],
    [{ department: { $nin: ['a', null] } }, 'filters.department.$nin must be an array of strings'],
    [{ department: { $in: { 0: 'a' } } }, 'filters.department.$in must be an array of strings'],
    [{ year: {} }, 'filters.year: empty operator object; give at least one of $in, $nin, $ne, $exists, $gt, $gte, $lt, $lte'],
    [{ year: { $exists: 'true' } }, 'filters.year.$exists must be true or false'],
    [{ year: { $exists: 1 } }, 'filters.year.$exists must be true or false'],
    [{ year: 2024 }, 'filters.year must be a string or an operator object'],
    [{ year: null }, 'filters.year must be a string or an operator object'],
    [{ year: true }, 'filters.year must be a string or an operator object'],
    [{ year: ['2024'] }, 'filters.year must be a string or an operator object'],
    [{ $and: [{ a: 'x' }] }, 'filters: unknown operator "$and"'],
    [{ $in: ['x'] }, 'filters: unknown operator "$in"'],
    [{ $or: {} }, 'filters.$or must be a non-empty array of objects'],
    [{ $or: [] }, 'filters.$or must be a non-empty array of objects'],
    [{ $or: 'x' }, 'filters.$or must be a non-empty array of objects'],
    [{ $or: null }, 'filters.$or must be a non-empty array of objects'],
    [{ $or: [{ a: 'x' }, 'b'] }, 'filters.$or[1] must be an object'],
    [{ $or: [{ a: 'x' }, null] }, 'filters.$or[1] must be an object'],
    [{ $or: [[{ a: 'x' }]] }, 'filters.$or[0] must be an object'],
    [{ $or: [{ $or: [{ a: 'x' }] }] }, 'filters.$or[0]: $or cannot be nested inside $or'],
    [{ $or: [{ a: { $foo: 'x' } }] }, 'filters.$or[0].a: unknown operator "$foo"'],
    [{ $or: [{ a: 'x' }, { a: { $in: [2] } }] }, 'filters.$or[1].a.$in must be an array of strings'],
    [{ $or: [{ $nor: [] }] }, 'filters.$or[0]: unknown operator "$nor"'],
    [{ '': 'x' }, 'filters has an empty key'],
    [{ ['k'.repeat(257)]: 'x' }, 'filters has a key longer than 256 characters'],
    [{ 'a\u0000b': 'x' }, 'filters has a key containing NUL (\\u0000) or unpaired surrogate characters'],
    [{ 'a b': { $gt: 1 } }, 'filters["a b"].$gt must be a string'],
    [{ ['x'.repeat(50)]: 1 }, `filters["${'x'.repeat(40)}…"] must be a string or an operator object`],
    [{ a: 'x'.repeat(8193) }, 'filters.a must be at most 8192 characters long'],
    [{ a: { $gt: 'x'.repeat(8193) } }, 'filters.a.$gt must be at most 8192 characters long'],
    [{ a: 'x\u0000' }, 'filters.a must not contain NUL (\\u0000) or unpaired surrogate characters'],
    [{ a: { $in: ['ok', '\ud800'] } }, 'filters.a.$in[1] must not contain NUL (\\u0000) or unpaired surrogate characters'],
    [{ a: { $ne: 'x\udc00' } }, 'filters.a.$ne must not contain NUL (\\u0000) or unpaired surrogate characters'],
    [keys(FILTER_LIMITS.keys + 1), 'filters must have at most 64 keys'],
    [{ $or: [{ a: 'x' }, keys(FILTER_LIMITS.keys + 1)] }, 'filters.$or[1] must have at most 64 keys'],
    [{ a: { $in: strings(FILTER_LIMITS.inValues + 1) } }, 'filters.a.$in must have at most 100 values'],
    [{ a: { $nin: strings(FILTER_LIMITS.inValues + 1) } }, 'filters.a.$nin must have at most 100 values'],
    [{ $or: Array.from({ length: FILTER_LIMITS.alternatives + 1 }, () => ({ a: 'x' })) }, 'filters.$or must have at most 20 alternatives'],
    [Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, { $in: strings(100) }])), 'filters has too many values: at most 1000 in all'],
    [{ $or: Array.from({ length: 11 }, () => ({ a: { $nin: strings(100) } })) }, 'filters has too many values: at most 1000 in all']
  ]
  for (const [raw, message] of cases) {
    t.throws(() => parseFilter(raw), { name: 'FilterError', message }, message)
  }
  const error = (() => { try { parseFilter({ a: 1 }) } catch (caught) { return caught } })()
  t.ok(error instanceof FilterError && error instanceof Error, 'a FilterError')
  t.match(error, { statusCode: 422, code: 'JACK_INVALID_FILTER' }, 'the errors plugin answers it with 422 and its message')
})

// --- SQL -------------------------------------------------------------------------------------------------------------

t.test('filterToSql binds every key and value as a parameter', async (t) => {
  const dialect = new PgDialect()
  const hostile = '\'; drop table documents; --'
  const filter = parseFilter({
    [hostile]: hostile,
    k1: { $in: [hostile, 'b'], $nin: [hostile, 'c'], $ne: hostile, $exists: true, $gt: hostile, $gte: hostile, $lt: hostile, $lte: hostile },
    $or: [{ [`${hostile}2`]: { $exists: false } }, { k2: hostile }]
  })
  const query = dialect.sqlToQuery(filterToSql(filter, documents.metadata))
  t.notOk(query.sql.includes('drop table'), 'no user text in the SQL')
  t.notOk(query.sql.includes('k1') || query.sql.includes('k2'), 'keys are parameters too')
  t.ok(query.params.some((param) => typeof param === 'string' && param.includes(hostile)), 'they are in the parameters')
  t.equal(dialect.sqlToQuery(filterToSql(EMPTY_FILTER, documents.metadata)).sql, 'true', 'the empty filter is `true`')
  const comparisons = dialect.sqlToQuery(filterToSql(parseFilter({ v: { $gt: 'a', $gte: 'a', $lt: 'z', $lte: 'z' } }), documents.metadata)).sql
  // The test databases default to C-like collations, where a missing COLLATE would go unnoticed (see the ICU test below).
  t.equal(comparisons.match(/collate "C"/g)?.length, 4, 'every comparison is COLLATE "C"')
})

// --- Against the database ---------------------------------------------------------------------------------------------

const DOCUMENTS = 60
const RUNS = 500

const metadataList = fc.array(metadataArbitrary, { minLength: 1, maxLength: 40 })

interface StoredDocument { id: string, metadata: Record<string, string> }

// Row-level security shows and lets a statement write only the rows of the organisation its transaction has set.
async function insertDocuments (database: Database, orgId: OrgId, metadata: Array<Record<string, string>>): Promise<StoredDocument[]> {
  return await inOrg(database.db, orgId, async (tx) => await tx.insert(documents)
    .values(metadata.map((item) => ({ orgId, sourceType: 'text' as const, chunkSize: 512, chunkOverlap: 64, metadata: item })))
    .returning({ id: documents.id, metadata: documents.metadata }))
}

async function selectIds (database: Database, orgId: OrgId, filter: Filter): Promise<string[]> {
  const rows = await inOrg(database.db, orgId, async (tx) => await tx.select({ id: documents.id }).from(documents)
    .where(and(eq(documents.orgId, orgId), filterToSql(filter, documents.metadata))))
  return rows.map((row) => row.id).sort()
}

const expectedIds = (stored: StoredDocument[], filter: Filter): string[] =>
  stored.filter((document) => matchesFilter(document.metadata, filter)).map((document) => document.id).sort()

t.test('against the database', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const database = await testDatabase.open()
  t.teardown(async () => { await database.close() })

  t.test('SQL selects exactly what the reference selects, for random documents and filters', async (t) => {
    const seed = Number(process.env.FILTER_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.comment(`seed ${seed} (FILTER_TEST_SEED=${seed} reproduces the documents and the filters)`)
    const orgA = await createOrg(database.db, 'A')
    const orgB = await createOrg(database.db, 'B')
    const metadata = [{}, Object.fromEntries(KEYS.map((key) => [key, 'x'])), ...fc.sample(metadataArbitrary, { numRuns: DOCUMENTS - 2, seed })]
    const stored = await insertDocuments(database, orgA.id, metadata)
    t.same(stored.map((document) => document.metadata), metadata, 'metadata round-trips unchanged')
    const otherOrg = new Set((await insertDocuments(database, orgB.id, metadata)).map((document) => document.id))

    let nonEmpty = 0
    await fc.assert(fc.asyncProperty(rawFilter, async (raw) => {
      const filter = parseFilter(raw)
      const expected = expectedIds(stored, filter)
      if (expected.length > 0) nonEmpty++
      const selected = await selectIds(database, orgA.id, filter)
      if (JSON.stringify(selected) !== JSON.stringify(expected)) {
        throw new Error(`WHERE selected ${selected.length} documents, the reference ${expected.length}`)
      }
      // The expression alone, for every document: never NULL, so NOT (filter) is its exact complement.
      const values = await inOrg(database.db, orgA.id, async (tx) => await tx.select({ id: documents.id, selected: sql<boolean | null>`${filterToSql(filter, documents.metadata)}` })
        .from(documents).where(eq(documents.orgId, orgA.id)))
      for (const { id, selected } of values) {
        const document = stored.find((candidate) => candidate.id === id)
        if (document === undefined || otherOrg.has(id)) throw new Error('a document of another org was selected')
        if (selected !== matchesFilter(document.metadata, filter)) throw new Error(`document ${JSON.stringify(document.metadata)}: expression is ${String(selected)}`)
      }
    }), { numRuns: RUNS, seed })
    t.ok(nonEmpty > RUNS / 4, `filters that select something: ${nonEmpty} of ${RUNS}`)
  })

  t.test('a missing key: excluded by equality, $in, comparisons and $exists: true; included by $ne, $nin and $exists: false', async (t) => {
    const org = await createOrg(database.db, 'examples')
    const [none, hr, legal, lower] = await insertDocuments(database, org.id, [
      {}, { department: 'HR', year: '2024' }, { department: 'legal' }, { department: 'hr', year: '2019' }
    ]) as [StoredDocument, StoredDocument, StoredDocument, StoredDocument]
    const cases: Array<[unknown, StoredDocument[]]> = [
      [{}, [none, hr, legal, lower]],
      [{ department: 'HR' }, [hr]],
      [{ department: { $in: ['HR', 'legal'] } }, [hr, legal]],
      [{ year: { $gt: '' } }, [hr, lower]],
      [{ year: { $lt: '\u{10ffff}' } }, [hr, lower]],
      [{ year: { $gte: '2020', $lt: '2025' } }, [hr]],
      [{ year: { $exists: true } }, [hr, lower]],
      [{ department: { $ne: 'HR' } }, [none, legal, lower]],
      [{ department: { $nin: ['HR', 'legal'] } }, [none, lower]],
      [{ year: { $exists: false } }, [none, legal]],
      [{ department: { $in: [] } }, []],
      [{ department: { $nin: [] } }, [none, hr, legal, lower]],
      [{ $or: [{ year: '2019' }, { department: 'legal' }] }, [legal, lower]],
      [{ department: { $ne: 'legal' }, $or: [{ year: { $exists: false } }, { year: { $lt: '2020' } }] }, [none, lower]]
    ]
    for (const [raw, expected] of cases) {
      const filter = parseFilter(raw)
      t.same(await selectIds(database, org.id, filter), expected.map((document) => document.id).sort(), JSON.stringify(raw))
    }
  })

  t.test('comparisons order by UTF-8 bytes (code points), not UTF-16 code units', async (t) => {
    const org = await createOrg(database.db, 'collation')
    const [emoji, fullwidth, upper] = await insertDocuments(database, org.id, [{ v: '😀' }, { v: 'ｘ' }, { v: 'X' }]) as [StoredDocument, StoredDocument, StoredDocument]
    t.ok('😀' < 'ｘ', 'JavaScript puts U+1F600 before U+FF58')
    t.ok(compareUtf8('😀', 'ｘ') > 0, 'UTF-8 bytes put it after')
    t.same(await selectIds(database, org.id, parseFilter({ v: { $gt: 'ｘ' } })), [emoji.id])
    t.same(await selectIds(database, org.id, parseFilter({ v: { $lt: 'x' } })), [upper.id], 'upper case sorts before lower case, whatever the server locale')
    t.same(await selectIds(database, org.id, parseFilter({ v: { $gte: 'x', $lt: '😀' } })), [fullwidth.id])
  })

  t.test('another org\'s documents are never selected', async (t) => {
    const mine = await createOrg(database.db, 'mine')
    const theirs = await createOrg(database.db, 'theirs')
    const [own] = await insertDocuments(database, mine.id, [{ department: 'HR' }]) as [StoredDocument]
    const [foreign] = await insertDocuments(database, theirs.id, [{ department: 'HR' }]) as [StoredDocument]
    for (const raw of [{}, { department: 'HR' }, { department: { $exists: true } }, { department: { $ne: 'x' } }, { $or: [{ department: 'HR' }, { department: { $nin: ['HR'] } }] }]) {
      t.same(await selectIds(database, mine.id, parseFilter(raw)), [own.id], JSON.stringify(raw))
    }
    // Row-level security shows one organisation at a time, so "everywhere" is each organisation in turn.
    const everywhere: Array<{ id: string }> = []
    for (const org of [mine, theirs]) {
      everywhere.push(...await inOrg(database.db, org.id, async (tx) => await tx.select({ id: documents.id }).from(documents).where(filterToSql(parseFilter({ department: 'HR' }), documents.metadata))))
    }
    t.ok(everywhere.some((row) => row.id === foreign.id), 'without the org condition the other org\'s document does match (the check above is meaningful)')
  })

  t.test('a metadata expression other than the column, keys with quotes and a key named __proto__', async (t) => {
    const org = await createOrg(database.db, 'aliases')
    const [quoted, proto] = await insertDocuments(database, org.id, [{ 'it\'s "q"': '\'; drop table documents; --' }, JSON.parse('{"__proto__": "x"}')]) as [StoredDocument, StoredDocument]
    const select = async (raw: unknown): Promise<string[]> => (await queryInOrg<{ id: string }>(database, org.id,
      sql`select d.id from documents d where d.org_id = ${org.id} and ${filterToSql(parseFilter(raw), sql`d.metadata`)}`
    )).map((row) => row.id)
    t.same(await select({ 'it\'s "q"': '\'; drop table documents; --' }), [quoted.id])
    t.same(await select({ 'it\'s "q"': { $gte: '\'' } }), [quoted.id])
    t.same(await select(JSON.parse('{"__proto__": "x"}')), [proto.id])
    t.same(await select(JSON.parse('{"__proto__": {"$exists": true}, "$or": [{"__proto__": {"$in": ["x", "y"]}}]}')), [proto.id])
  })

  // Planned as the tables' owner: for jack_app, row-level security keeps a condition whose operator is not
  // LEAKPROOF (jsonb @> is not) from becoming an index condition, so the serving role filters a candidate's
  // document by its primary key instead (README, "Row-level security"). The point here is that the SQL the filters
  // compile to has the shape the index serves.
  t.test('equality filters compile to SQL the GIN index can serve (planned as the owner)', async (t) => {
    const explainAsOwner = async (statement: ReturnType<typeof sql>): Promise<string> => {
      const text = new PgDialect().sqlToQuery(statement)
      if (testDatabase.databaseUrl === undefined) {
        // PGlite has one (super)user session: SET LOCAL ROLE lasts only for this transaction.
        return await database.db.transaction(async (tx) => {
          await tx.execute(sql`set local role postgres`)
          await tx.execute(sql`set local enable_seqscan = off`)
          return rowsOf<Record<string, string>>(await tx.execute(statement)).map((row) => Object.values(row).join('')).join('\n')
        })
      }
      const owner = postgres(testDatabase.databaseUrl, { max: 1, onnotice: () => {} })
      try {
        return await owner.begin(async (tx) => {
          await tx.unsafe('set local enable_seqscan = off')
          const rows = await tx.unsafe(text.sql, text.params as never[])
          return rows.map((row) => Object.values(row).join('')).join('\n')
        })
      } finally {
        await owner.end()
      }
    }
    for (const raw of [{ department: 'HR', year: '2024' }, { department: { $in: ['HR', 'legal'] } }, { $or: [{ department: 'HR' }, { year: '2024' }] }]) {
      // Tiny tables are always scanned sequentially; the point is only that the index can serve the expression.
      const plan = await explainAsOwner(sql`explain select id from documents where ${filterToSql(parseFilter(raw), documents.metadata)}`)
      t.match(plan, /documents_metadata_idx/, JSON.stringify(raw))
    }
  })
})

const icuSkip = testDatabaseUrl === undefined ? 'PostgreSQL only: PGlite\'s default collation is C, nothing to contrast' : false

t.test('comparisons ignore the server\'s collation (PostgreSQL with ICU only)', { skip: icuSkip }, async (t) => {
  const serverUrl = testDatabaseUrl as string
  const name = `jack_test_icu_${randomBytes(6).toString('hex')}`
  const admin = adminConnection(serverUrl)
  try {
    await admin.unsafe(`create database "${name}" template template0 locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`)
  } catch (error) {
    t.plan(0, `no ICU database: ${(error as Error).message}`)
    return
  } finally {
    await admin.end()
  }
  t.teardown(async () => {
    const dropper = adminConnection(serverUrl)
    try { await dropper.unsafe(`drop database if exists "${name}" with (force)`) } finally { await dropper.end() }
  })
  const client = postgres(urlForDatabase(serverUrl, name), { max: 1, onnotice: () => {} })
  t.teardown(async () => { await client.end({ timeout: 5 }) })
  const db = drizzle(client)
  const [order] = await db.execute<{ lowerFirst: boolean }>(sql`select 'x' < 'X' as "lowerFirst"`)
  t.equal(order?.lowerFirst, true, 'the database\'s own order is not byte order')

  // No tables needed: the filter runs on a list of metadata objects given as one jsonb parameter.
  await fc.assert(fc.asyncProperty(metadataList, rawFilter, async (metadata, raw) => {
    const filter = parseFilter(raw)
    const rows = await db.execute<{ selected: boolean }>(sql`
      select ${filterToSql(filter, sql`item.metadata`)} as selected
      from jsonb_array_elements(${JSON.stringify(metadata)}::jsonb) with ordinality as item(metadata, position)
      order by item.position`)
    const expected = metadata.map((item) => matchesFilter(item, filter))
    if (JSON.stringify(rows.map((row) => row.selected)) !== JSON.stringify(expected)) throw new Error('SQL and the reference disagree')
  }), { numRuns: 300 })
})
