// The fast path against the oracle: on random corpora, after random deletes, metadata changes and merges, every ranking equals exhaustive BM25 (test/helpers/search-index-contents.ts) for random queries, filters and k.
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { buildTestApp, createOrgWithKey, type TestOrg } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { waitForDocument } from '../helpers/documents.js'
import { metadataArbitrary, rawFilter } from '../helpers/filter-arbitraries.js'
import { exhaustiveSearch, expectedPostings, indexedPostings, postingKey, sameTopK } from '../helpers/search-index-contents.js'
import { seededRandom } from '../helpers/seeded-random.js'
import type { Database } from '../../src/db/client.js'
import { EMPTY_FILTER, parseFilter, type Filter } from '../../src/retrieval/filters.js'
import { mergeNext } from '../../src/search-index/merge-segments.js'
import { searchChunks } from '../../src/search-index/search-chunks.js'
import { PACKED_BELOW_CHUNKS, setPackedBelowChunks } from '../../src/search-index/segment-builder.js'

const { app, database } = await buildTestApp(t)

// A small vocabulary with a skewed frequency, so lists of every length, many shared terms and exact ties occur.
const WORDS = ['refund', 'policy', 'contract', 'notice', 'salary', 'leave', 'travel', 'expense', 'audit', 'risk', 'vendor', 'safety',
  'laptop', 'invoice', 'holiday', 'bonus', 'parking', 'badge', 'training', 'privacy', 'breach', 'pension', 'overtime', 'remote']

function word (random: () => number): string {
  // Roughly Zipfian: the first words far more often than the last.
  return WORDS[Math.min(WORDS.length - 1, Math.floor(WORDS.length * random() ** 2.5))] as string
}

function text (random: () => number): string {
  // Mostly short; one in eight long enough for several chunks of 128 tokens.
  const words = random() < 0.125 ? 200 + Math.floor(random() * 400) : 1 + Math.floor(random() * 40)
  return Array.from({ length: words }, () => word(random)).join(' ')
}

async function ingest (t: Test, org: TestOrg, random: () => number, count: number, metadataOf: () => Record<string, string>): Promise<string[]> {
  const documents = Array.from({ length: count }, () => ({ text: text(random), metadata: metadataOf() }))
  const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents, chunk_size: 128, chunk_overlap: 16 } })
  t.equal(response.status, 202, 'ingested')
  const ids = response.json<{ document_ids: string[] }>().document_ids
  for (const id of ids) if ((await waitForDocument(app, org.key, id)).status !== 'ready') t.fail(`document ${id} did not become ready`)
  return ids
}

async function mergeAll (t: Test, database: Database, org: TestOrg): Promise<number> {
  let merges = 0
  const checked = new Map<number, number>()
  // The worker's own merger may hold the organisation's merge lock; retry a few times, then accept the state as it is.
  for (let attempt = 0; attempt < 60; attempt++) {
    const result = await mergeNext(database.db, org.orgId, checked)
    if (result === undefined) {
      if (attempt > 3) break
      await new Promise((resolve) => setTimeout(resolve, 20))
      continue
    }
    if (result.notWorn !== undefined) checked.set(result.notWorn.segmentId, result.notWorn.estimate)
    else merges++
  }
  t.ok(merges < 40, `merging ends (${merges} merges)`)
  return merges
}

async function compare (t: Test, org: TestOrg, random: () => number, label: string, filters: Filter[]): Promise<void> {
  let mismatches = 0
  let compared = 0
  for (let q = 0; q < 25; q++) {
    const query = Array.from({ length: 1 + Math.floor(random() * 4) }, () => word(random)).join(' ')
    const filter = filters[q % filters.length] as Filter
    const k = 1 + Math.floor(random() * 15)
    const oracle = await exhaustiveSearch(database, org.orgId, query, filter)
    const hits = await searchChunks(database.db, org.orgId, { query, filter, topK: k })
    const problem = sameTopK(oracle, hits, k)
    compared++
    if (problem !== undefined) {
      mismatches++
      t.fail(`${label}: "${query}" top ${k} with ${JSON.stringify(filter)}: ${problem}`)
    }
  }
  t.equal(mismatches, 0, `${label}: ${compared} rankings equal the exhaustive oracle's`)
}

async function checkContents (t: Test, org: TestOrg, label: string): Promise<void> {
  const indexed = await indexedPostings(database, org.orgId)
  const expected = await expectedPostings(database, org.orgId)
  t.same(indexed.postings.map(postingKey).sort(), expected.map(postingKey).sort(), `${label}: the live segments hold exactly the ready chunks' postings`)
  const df = new Map<string, number>()
  for (const posting of expected) df.set(posting.lexeme, (df.get(posting.lexeme) ?? 0) + 1)
  t.same(Object.fromEntries([...indexed.queryDf].sort()), Object.fromEntries([...df].sort()), `${label}: df as queries compute it is exact`)
}

// Small segments keep their terms packed in one value, larger ones one row per term: each corpus runs
// with the threshold as shipped (these corpora are all small), with none packed, and with the two mixed.
for (const packedBelow of [PACKED_BELOW_CHUNKS, 0, 30]) {
  t.test(`rankings equal exhaustive BM25 through ingests, deletes, metadata changes and merges (packed below ${packedBelow} chunks)`, async (t) => {
    setPackedBelowChunks(packedBelow)
    t.teardown(() => { setPackedBelowChunks(PACKED_BELOW_CHUNKS) })
    await oracleRounds(t, packedBelow)
  })
}

async function oracleRounds (t: Test, seed: number): Promise<void> {
  const random = seededRandom(20261204 + seed)
  const org = await createOrgWithKey(database, 'oracle')
  // Another organisation's documents on the same terms: they must change neither ranking nor score.
  const other = await createOrgWithKey(database, 'oracle neighbour')
  const metadata = fc.sample(metadataArbitrary, { numRuns: 400, seed: 7 })
  let metadataIndex = 0
  const nextMetadata = (): Record<string, string> => metadata[metadataIndex++ % metadata.length] as Record<string, string>
  const filters = [EMPTY_FILTER, ...fc.sample(rawFilter, { numRuns: 24, seed: 11 }).map((raw) => parseFilter(raw))]
  await ingest(t, other, random, 50, nextMetadata)

  const live: string[] = []
  for (let round = 1; round <= 4; round++) {
    live.push(...await ingest(t, org, random, 45, nextMetadata))
    await checkContents(t, org, `round ${round}, ingested`)
    await compare(t, org, random, `round ${round}, ingested`, filters)
    // Deletes and metadata changes, some of the same document.
    for (let i = 0; i < 8 && live.length > 0; i++) {
      const id = live.splice(Math.floor(random() * live.length), 1)[0] as string
      t.equal((await call(t, app, 'DELETE', `/v1/documents/${id}`, { key: org.key })).status, 204)
    }
    for (let i = 0; i < 8; i++) {
      const id = live[Math.floor(random() * live.length)] as string
      t.equal((await call(t, app, 'PATCH', `/v1/documents/${id}`, { key: org.key, body: { metadata: nextMetadata() } })).status, 200)
    }
    await checkContents(t, org, `round ${round}, after deletes and metadata changes`)
    await compare(t, org, random, `round ${round}, before merging`, filters)
    const merges = await mergeAll(t, database, org)
    t.comment(`round ${round}: ${merges} merges`)
    await checkContents(t, org, `round ${round}, merged`)
    await compare(t, org, random, `round ${round}, merged`, filters)
  }
}
