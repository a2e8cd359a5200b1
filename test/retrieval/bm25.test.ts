import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { buildTestApp, createOrgWithKey, type TestOrg } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { waitForDocument } from '../helpers/documents.js'
import { queryInOrg } from '../helpers/org-sql.js'
import type { Database } from '../../src/db/client.js'
import type { OrgId } from '../../src/org-id.js'
import { searchChunks, type SearchHit, type SearchOptions } from '../../src/search-index/search-chunks.js'
import { expectedPostings, indexedPostings, postingKey } from '../helpers/search-index-contents.js'
import { EMPTY_FILTER, parseFilter } from '../../src/retrieval/filters.js'

// One app (with its ingest workers) on one database for the whole file; every test works in orgs of its own.
const { app, database } = await buildTestApp(t)

interface NewDocument {
  text: string
  metadata?: Record<string, string>
}

/** Ingests through the API and waits until every document is ready; returns their IDs in order. */
async function ingest (t: Test, org: TestOrg, documents: NewDocument[]): Promise<string[]> {
  const ids: string[] = []
  for (let offset = 0; offset < documents.length; offset += 50) {
    const response = await call(t, app, 'POST', '/v1/ingest', { key: org.key, body: { documents: documents.slice(offset, offset + 50) } })
    t.equal(response.status, 202)
    ids.push(...response.json<{ document_ids: string[] }>().document_ids)
  }
  for (const id of ids) t.equal((await waitForDocument(app, org.key, id)).status, 'ready', 'document ready')
  return ids
}

async function deleteDocument (t: Test, org: TestOrg, id: string): Promise<void> {
  t.equal((await call(t, app, 'DELETE', `/v1/documents/${id}`, { key: org.key })).status, 204)
}

async function search (orgId: OrgId, query: string, options: Partial<Omit<SearchOptions, 'query'>> = {}): Promise<SearchHit[]> {
  return await searchChunks(database.db, orgId, { query, filter: EMPTY_FILTER, topK: 20, ...options })
}

function closeTo (t: Test, actual: number | undefined, expected: number, message: string): void {
  t.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${message}: ${String(actual)} ≈ ${expected}`)
}

/**
 * The maintained index against a recomputation from the org's chunks: the
 * postings (lexeme, tf, length) and the statistics (N, total length) must be
 * exactly what the chunks' text analyses to, jack_search_vector(text). The
 * triggers read the stored tsvector instead for text without CJK letters, so
 * this also checks that the two agree there.
 */
async function checkIndexMatchesChunks (t: Test, database: Database, orgId: OrgId): Promise<void> {
  const indexed = await indexedPostings(database, orgId)
  const expected = await expectedPostings(database, orgId)
  t.same(indexed.postings.map(postingKey).sort(), expected.map(postingKey).sort(), 'the live segments hold exactly the chunks\' postings')
  const df = new Map<string, number>()
  for (const posting of expected) df.set(posting.lexeme, (df.get(posting.lexeme) ?? 0) + 1)
  t.same(Object.fromEntries([...indexed.queryDf].sort()), Object.fromEntries([...df].sort()), 'df as a query computes it equals the chunks\'')
  const [stats] = await queryInOrg<{ stored_count: number | string | null, stored_length: number | string | null, chunk_count: number | string, total_length: number | string | null }>(database, orgId, sql`
    select (select sum(chunk_count) from org_chunk_stats where org_id = ${orgId}) as stored_count,
           (select sum(total_length) from org_chunk_stats where org_id = ${orgId}) as stored_length,
           (select count(*) from chunks where org_id = ${orgId}) as chunk_count,
           (select sum(cardinality(u.positions)) from chunks c cross join lateral unnest(jack_search_vector(c.text)) as u where c.org_id = ${orgId}) as total_length`)
  t.equal(Number(stats?.stored_count ?? 0), Number(stats?.chunk_count), 'N is the number of chunks')
  t.equal(Number(stats?.stored_length ?? 0), Number(stats?.total_length ?? 0), 'the total length is the sum of chunk lengths')
}

// --- the hand-computed example ---------------------------------------------------------------------------------------

// Four one-chunk documents. Their lexemes (to_tsvector('english', …): stemmed,
// stop words dropped) and lengths (lexeme occurrences):
//   d1 "Apple banana apple."      appl ×2, banana ×1              length 3
//   d2 "Banana cherry."           banana, cherri                  length 2
//   d3 "Cherry date banana fig."  cherri, date, banana, fig       length 4
//   d4 "Apple."                   appl                            length 1
// N = 4, total length 10, avgdl = 2.5. The query "apples and bananas" has the
// lexemes appl (df 2) and banana (df 3); "and" is a stop word.
const EXAMPLE = ['Apple banana apple.', 'Banana cherry.', 'Cherry date banana fig.', 'Apple.']
const EXAMPLE_QUERY = 'apples and bananas'

/** Lucene's IDF: ln(1 + (N − df + 0.5) / (df + 0.5)). */
function idf (N: number, df: number): number {
  return Math.log(1 + (N - df + 0.5) / (df + 0.5))
}

/** One term's BM25 contribution: idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · length / avgdl)). */
function termScore (idfValue: number, tf: number, length: number, avgdl: number, k1 = 1.2, b = 0.75): number {
  return idfValue * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))
}

t.test('BM25 scores equal a hand computation exactly', async (t) => {
  const org = await createOrgWithKey(database, 'bm25 example')
  const [d1, d2, d3, d4] = await ingest(t, org, EXAMPLE.map((text) => ({ text })))
  await checkIndexMatchesChunks(t, database, org.orgId)

  const N = 4
  const avgdl = 10 / 4
  const idfApple = idf(N, 2) // ln(1 + 2.5/2.5) = ln 2
  const idfBanana = idf(N, 3) // ln(1 + 1.5/3.5) = ln(10/7)
  closeTo(t, idfApple, Math.LN2, 'idf(appl) = ln 2')
  closeTo(t, idfBanana, Math.log(10 / 7), 'idf(banana) = ln(10/7)')
  const expected = [
    { id: d1, score: termScore(idfApple, 2, 3, avgdl) + termScore(idfBanana, 1, 3, avgdl) }, // 1.2320…
    { id: d4, score: termScore(idfApple, 1, 1, avgdl) }, // 0.9186…
    { id: d2, score: termScore(idfBanana, 1, 2, avgdl) }, // 0.3885…
    { id: d3, score: termScore(idfBanana, 1, 4, avgdl) } // 0.2864…
  ]
  const hits = await search(org.orgId, EXAMPLE_QUERY)
  t.same(hits.map((hit) => hit.documentId), expected.map((row) => row.id), 'best first: d1, d4, d2, d3')
  expected.forEach((row, index) => closeTo(t, hits[index]?.score, row.score, `score of hit ${index + 1}`))
  t.match(hits[0], { chunkIndex: 0, text: 'Apple banana apple.', start: 0, end: 19, filename: null, sourceType: 'text', metadata: {} }, 'a hit carries its chunk and document')

  // k1 and b are parameters: the same example with k1 = 2, b = 0.3.
  const tuned = await search(org.orgId, EXAMPLE_QUERY, { k1: 2, b: 0.3 })
  closeTo(t, tuned[0]?.score, termScore(idfApple, 2, 3, avgdl, 2, 0.3) + termScore(idfBanana, 1, 3, avgdl, 2, 0.3), 'd1 with k1 2, b 0.3')
  closeTo(t, tuned.find((hit) => hit.documentId === d3)?.score, termScore(idfBanana, 1, 4, avgdl, 2, 0.3), 'd3 with k1 2, b 0.3')
  // b = 0: no length normalisation, so d2 and d3 (banana once each) tie, and the older document (d2) comes first.
  const flat = await search(org.orgId, 'banana', { b: 0 })
  t.same(flat.map((hit) => hit.documentId), [d1, d2, d3], 'ties broken by document age')
  t.equal(flat[1]?.score, flat[2]?.score, 'an exact tie')
  closeTo(t, flat[1]?.score, termScore(idfBanana, 1, 2, avgdl, 1.2, 0), 'banana with b 0')

  t.same(await search(org.orgId, EXAMPLE_QUERY, { topK: 2 }).then((rows) => rows.map((hit) => hit.documentId)), [d1, d4], 'topK cuts the ranking')
  t.same(await search(org.orgId, 'the and of'), [], 'a query of stop words finds nothing')
  t.same(await search(org.orgId, 'kiwi'), [], 'a term in no chunk finds nothing')
  t.same(await search(org.orgId, 'Kiwi, apples!').then((rows) => rows.map((hit) => hit.documentId)), [d4, d1], 'unknown terms are ignored')
})

// The same by hand for Chinese and Japanese: a run of CJK letters is indexed as
// its overlapping bigrams plus its letters one by one, and a question of two
// or more letters is looked up by its bigrams alone.
//   c1 "東京都"          東京 京都 + 東 京 都        length 5
//   c2 "京都府の大学"    京都 都府 府の の大 大学 + 京 都 府 の 大 学   length 11
//   c3 "大阪。"          大阪 + 大 阪                length 3 (。 ends the run)
//   c4 "Tokyo 東"        tokyo 東                    length 2 (a run of one: its unigram)
// N = 4, total length 21, avgdl = 5.25.
const CJK_EXAMPLE = ['東京都', '京都府の大学', '大阪。', 'Tokyo 東']

t.test('CJK text is found by any substring: BM25 over bigrams equals a hand computation exactly', async (t) => {
  const org = await createOrgWithKey(database, 'bm25 cjk')
  const [c1, c2, c3, c4] = await ingest(t, org, CJK_EXAMPLE.map((text) => ({ text })))
  await checkIndexMatchesChunks(t, database, org.orgId)
  const lexemes = (await indexedPostings(database, org.orgId)).postings.filter((posting) => posting.documentId === c2)
    .sort((a, b) => Buffer.compare(Buffer.from(a.lexeme), Buffer.from(b.lexeme)))
  t.same(lexemes.map((row) => [row.lexeme, row.tf, row.chunkLength]),
    ['の', 'の大', '京', '京都', '大', '大学', '学', '府', '府の', '都', '都府'].map((lexeme) => [lexeme, 1, 11]), 'c2: bigrams and unigrams, once each')

  const N = 4
  const avgdl = 21 / 4
  // "京都" (df 2: c1, c2) — the bigram alone, not 京 and 都 separately.
  const kyoto = await search(org.orgId, '京都')
  t.same(kyoto.map((hit) => hit.documentId), [c1, c2], 'the shorter chunk first')
  closeTo(t, kyoto[0]?.score, termScore(idf(N, 2), 1, 5, avgdl), 'c1 for 京都')
  closeTo(t, kyoto[1]?.score, termScore(idf(N, 2), 1, 11, avgdl), 'c2 for 京都')
  // "東京都": 東京 (df 1) and 京都 (df 2).
  const tokyo = await search(org.orgId, '東京都')
  t.same(tokyo.map((hit) => hit.documentId), [c1, c2])
  closeTo(t, tokyo[0]?.score, termScore(idf(N, 1), 1, 5, avgdl) + termScore(idf(N, 2), 1, 5, avgdl), 'c1 holds both bigrams')
  // A substring inside a longer run, with the punctuation after it.
  t.same((await search(org.orgId, '府の大')).map((hit) => hit.documentId), [c2], 'a substring in the middle of a run')
  t.same((await search(org.orgId, '大阪。')).map((hit) => hit.documentId), [c3])
  // One letter: its unigram, held by every chunk with the letter anywhere in a run.
  const east = await search(org.orgId, '東')
  t.same(east.map((hit) => hit.documentId), [c4, c1], 'a question of one letter finds it in runs and alone')
  closeTo(t, east[0]?.score, termScore(idf(N, 2), 1, 2, avgdl), 'c4 for 東')
  t.same((await search(org.orgId, '大')).map((hit) => hit.documentId).sort(), [c2, c3].sort())
  t.same(await search(org.orgId, '京大'), [], 'letters each in the index, but never side by side, find nothing')
  t.same((await search(org.orgId, 'tokyo')).map((hit) => hit.documentId), [c4], 'Latin words beside CJK ones are words as before')

  // Deleting CJK chunks takes away exactly what their insert added.
  await deleteDocument(t, org, c2 as string)
  await checkIndexMatchesChunks(t, database, org.orgId)
  closeTo(t, (await search(org.orgId, '京都'))[0]?.score, termScore(idf(3, 1), 1, 5, 10 / 3), 'c1 for 京都 without c2')
})

t.test('parameters are checked', async (t) => {
  const org = await createOrgWithKey(database, 'bm25 parameters')
  for (const options of [{ topK: 0 }, { topK: 1.5 }, { k1: -1 }, { k1: Number.NaN }, { b: 1.1 }, { b: -0.1 }]) {
    await t.rejects(search(org.orgId, 'apple', options), RangeError, JSON.stringify(options))
  }
})

// --- statistics ------------------------------------------------------------------------------------------------------

t.test('statistics are per organisation: many documents in org B leave org A\'s scores unchanged', async (t) => {
  const orgA = await createOrgWithKey(database, 'isolation A')
  const orgB = await createOrgWithKey(database, 'isolation B')
  const idsA = await ingest(t, orgA, EXAMPLE.map((text) => ({ text })))
  const before = await search(orgA.orgId, EXAMPLE_QUERY)
  t.equal(before.length, 4)

  // 120 documents full of the query terms, which would change both df and avgdl if statistics were pooled.
  const idsB = await ingest(t, orgB, Array.from({ length: 120 }, (_, index) => ({
    text: `Apples and bananas, document ${index}. ${'Banana apple cherry smoothie. '.repeat(1 + (index % 7))}`
  })))
  await checkIndexMatchesChunks(t, database, orgB.orgId)
  const after = await search(orgA.orgId, EXAMPLE_QUERY)
  t.same(after, before, 'org A\'s hits and scores are exactly the same')
  t.ok(after.every((hit) => idsA.includes(hit.documentId)), 'and only org A\'s documents')

  // Org B ranks by its own statistics: 120 chunks, each containing both terms.
  const hitsB = await search(orgB.orgId, EXAMPLE_QUERY, { topK: 100 })
  t.equal(hitsB.length, 100)
  t.ok(hitsB.every((hit) => idsB.includes(hit.documentId)), 'org B sees only its documents')
  t.ok(hitsB.every((hit) => hit.score < 0.1), 'terms in every chunk of org B weigh little there (idf = ln(1 + 0.5/120.5))')
})

t.test('statistics stay exact through ingest, delete and re-ingest', async (t) => {
  const org = await createOrgWithKey(database, 'lifecycle')
  const [d1, d2, d3, d4] = await ingest(t, org, EXAMPLE.map((text) => ({ text })))
  const original = await search(org.orgId, EXAMPLE_QUERY)
  t.same(original.map((hit) => hit.documentId), [d1, d4, d2, d3])

  // Without d2 ("Banana cherry."): N = 3, total length 8, avgdl 8/3, df(appl) 2, df(banana) 2.
  await deleteDocument(t, org, d2 as string)
  await checkIndexMatchesChunks(t, database, org.orgId)
  const withoutD2 = await search(org.orgId, EXAMPLE_QUERY)
  t.same(withoutD2.map((hit) => hit.documentId), [d1, d4, d3], 'the deleted document is gone')
  const avgdl = 8 / 3
  closeTo(t, withoutD2[0]?.score, termScore(idf(3, 2), 2, 3, avgdl) + termScore(idf(3, 2), 1, 3, avgdl), 'd1 with the reduced statistics')
  closeTo(t, withoutD2[1]?.score, termScore(idf(3, 2), 1, 1, avgdl), 'd4 with the reduced statistics')
  closeTo(t, withoutD2[2]?.score, termScore(idf(3, 2), 1, 4, avgdl), 'd3 with the reduced statistics')
  t.same((await search(org.orgId, 'cherry')).map((hit) => hit.documentId), [d3], 'a term of the deleted chunk finds only the rest')

  const [again] = await ingest(t, org, [{ text: EXAMPLE[1] as string }])
  await checkIndexMatchesChunks(t, database, org.orgId)
  const reingested = await search(org.orgId, EXAMPLE_QUERY)
  t.same(reingested.map((hit) => hit.documentId), [d1, d4, again, d3], 'the re-ingested document ranks where the original did')
  t.same(reingested.map((hit) => hit.score), original.map((hit) => hit.score), 'every score is exactly as before')

  // Delete everything: no postings and zero statistics remain, and nothing is found.
  for (const id of [d1, d3, d4, again]) await deleteDocument(t, org, id as string)
  await checkIndexMatchesChunks(t, database, org.orgId)
  t.equal((await indexedPostings(database, org.orgId)).postings.length, 0, 'no live postings left')
  t.same(await search(org.orgId, EXAMPLE_QUERY), [], 'nothing is found')
})

t.test('concurrent ingests in one organisation keep the statistics exact', async (t) => {
  const org = await createOrgWithKey(database, 'concurrent')
  // Several requests at once, processed by both workers side by side; some documents span several chunks.
  const batches = Array.from({ length: 4 }, (_, batch) => Array.from({ length: 25 }, (_, index) => ({
    text: `Batch ${batch} document ${index}: apples and bananas. ${'Cherries grow on trees in orchards. '.repeat(index % 5 === 0 ? 120 : 2)}`
  })))
  const ids = (await Promise.all(batches.map(async (documents) => await ingest(t, org, documents)))).flat()
  await checkIndexMatchesChunks(t, database, org.orgId)
  await Promise.all(ids.slice(0, 40).map(async (id) => { await deleteDocument(t, org, id) }))
  await checkIndexMatchesChunks(t, database, org.orgId)
  const hits = await search(org.orgId, 'orchards', { topK: 100 })
  t.ok(hits.length > 60 && hits.every((hit) => ids.slice(40).includes(hit.documentId)), 'only the remaining documents are found')
})

// --- candidates --------------------------------------------------------------------------------------------------------

t.test('filters apply before ranking, so topK results come back when that many chunks match', async (t) => {
  const org = await createOrgWithKey(database, 'filters')
  const high = await ingest(t, org, Array.from({ length: 30 }, (_, index) => ({
    text: `Quarterly revenue report ${index}: revenue, revenue and more revenue.`,
    metadata: { tier: 'high', n: String(index).padStart(2, '0') }
  })))
  const low = await ingest(t, org, Array.from({ length: 6 }, (_, index) => ({
    text: `Minutes of meeting ${index}. The committee discussed parking, catering, the holiday rota and, briefly, revenue.`,
    metadata: { tier: 'low', n: String(index).padStart(2, '0') }
  })))
  const unfiltered = await search(org.orgId, 'revenue', { topK: 5 })
  t.ok(unfiltered.every((hit) => high.includes(hit.documentId)), 'unfiltered, the best 5 are all high-tier')

  const lowOnly = await search(org.orgId, 'revenue', { topK: 5, filter: parseFilter({ tier: 'low' }) })
  t.equal(lowOnly.length, 5, 'the filter still yields topK hits')
  t.ok(lowOnly.every((hit) => low.includes(hit.documentId) && hit.metadata.tier === 'low'), 'all of them low-tier')
  // All six low-tier chunks tie: any five may make the cut (the index's order), but returned in the order ingested.
  t.same(lowOnly.map((hit) => low.indexOf(hit.documentId)), lowOnly.map((hit) => low.indexOf(hit.documentId)).sort((a, b) => a - b), 'equal scores in the order the documents were ingested')

  const allLow = await search(org.orgId, 'revenue', { topK: 20, filter: parseFilter({ tier: 'low' }) })
  t.equal(allLow.length, 6, 'as many as match when fewer than topK do')
  const mixed = await search(org.orgId, 'revenue', { topK: 8, filter: parseFilter({ $or: [{ tier: 'low' }, { n: { $gte: '28' } }] }) })
  t.same(mixed.map((hit) => hit.documentId), [high[28], high[29], ...low], 'operators and $or: two high-tier, then the low-tier')
  t.same(await search(org.orgId, 'revenue', { filter: parseFilter({ tier: 'none' }) }), [], 'a filter matching nothing finds nothing')
})

t.test('documents that are not ready are never returned', async (t) => {
  const org = await createOrgWithKey(database, 'status')
  // Equal scores (the numbers are the only difference), so the ranking is by document age.
  const ids = await ingest(t, org, Array.from({ length: 5 }, (_, index) => ({ text: `Incident report ${index}: the server room flooded.` })))
  const tied = (await search(org.orgId, 'flooded', { topK: 3 })).map((hit) => ids.indexOf(hit.documentId))
  t.ok(tied.length === 3 && tied.every((index) => index >= 0), 'three of the five tied documents')
  t.same(tied, [...tied].sort((a, b) => a - b), 'in the order they were ingested')
  // jack writes chunks only in the transaction that marks a document ready, so
  // this state cannot arise by ingest; forcing it checks the search's own guard.
  const [processing, failed] = ids
  await queryInOrg(database, org.orgId, sql`update documents set status = 'processing' where org_id = ${org.orgId} and id = ${processing}`)
  await queryInOrg(database, org.orgId, sql`update documents set status = 'failed' where org_id = ${org.orgId} and id = ${failed}`)
  const hits = await search(org.orgId, 'flooded', { topK: 3 })
  t.same(hits.map((hit) => hit.documentId), ids.slice(2, 5), 'neither the processing nor the failed document, and topK still filled')
  t.equal((await search(org.orgId, 'flooded')).length, 3, 'only the three ready documents')
})

t.test('an organisation never finds another organisation\'s chunks, whatever the filter', async (t) => {
  const orgA = await createOrgWithKey(database, 'cross-org A')
  const orgB = await createOrgWithKey(database, 'cross-org B')
  const idsA = await ingest(t, orgA, [
    { text: 'The zeppelin maintenance schedule.', metadata: { department: 'ops' } },
    { text: 'Zeppelin hangar access codes.', metadata: { department: 'security', secret: 'yes' } }
  ])
  const idsB = await ingest(t, orgB, [{ text: 'Our zeppelin museum visit.', metadata: { department: 'ops' } }])
  const filters: unknown[] = [
    undefined,
    {},
    { department: 'ops' },
    { department: 'security' },
    { secret: 'yes' },
    { secret: { $exists: true } },
    { secret: { $exists: false } },
    { department: { $ne: 'nothing' } },
    { department: { $nin: ['ops'] } },
    { department: { $gte: '' } },
    { $or: [{ department: 'security' }, { secret: 'yes' }, {}] }
  ]
  for (const raw of filters) {
    const hits = await search(orgB.orgId, 'zeppelin hangar access schedule', { topK: 100, filter: parseFilter(raw) })
    t.ok(hits.every((hit) => idsB.includes(hit.documentId) && !idsA.includes(hit.documentId)), `org B, filter ${JSON.stringify(raw)}: only org B's chunks (${hits.length})`)
  }
  t.same(await search(orgB.orgId, 'hangar codes'), [], 'terms only org A has find nothing for org B')
  t.equal((await search(orgA.orgId, 'hangar codes')).length, 1, 'while org A finds them')
})
