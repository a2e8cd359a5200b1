// Baseline: LanceDB's own full-text index (@lancedb/lancedb, embedded, on disk in a temp directory) over the same chunks and the same SciFact test queries as bench/query.ts — top 10, sequential, without a filter, with year = one value (~10 %) and with the $or filter, as prefilter `where` clauses.
//
// Why: issue #11's yardstick is "within 2x of the LanceDB figure"; this is that figure,
// measured in the same run on the same machine as jack's own numbers.
//
// What is timed: performance.now() around the whole search call for one query — building
// the query, LanceDB's BM25 search over its inverted index with the prefilter, and
// toArray() materialising the top 10 rows (text, copy, year, _score) as JS objects —
// sequentially, after a warm-up of the first queries of the same series. The table is
// written in batches (BATCH_ROWS chunks each, so 1,000,000 chunks never sit in memory
// as rows), compacted into few fragments, then indexed:
//   - FTS on `text`: Index.fts with LanceDB's own defaults spelled out — base tokenizer
//     "simple" (split on whitespace and punctuation), language "English", lowercase,
//     stemming (Snowball English) and stop-word removal on, ASCII folding on, max token
//     length 40, no positions (no phrase queries needed). That is the nearest to an
//     English analyser (PostgreSQL's `english` configuration) the API offers.
//   - bitmap indexes on `year` and `copy` (ten and a few dozen distinct values), so the
//     prefilter is answered from the scalar indexes instead of scanning the columns.
// Queries are free text (SciFact claims). LanceDB does not parse a query string (a plain
// string is a match query, not a query language), but so as never to depend on that, each
// claim is reduced to letters and digits (every other run of characters becomes one space,
// which the "simple" tokenizer treats as a separator anyway, so the tokens are unchanged)
// and passed as an explicit MatchQuery on `text` with operator OR (BM25 over any term).
// LanceDB runs its queries on its own thread pool (both cores here).
//
// @lancedb/lancedb is deliberately NOT a dependency (a baseline only; CI installs from
// package-lock). Install it by hand, without touching package.json:
//   npm install --no-save @lancedb/lancedb@0.37.1
// (0.37.1 is the version verified here and the newest that supports Node 20; 0.38 and
// later require Node >= 22.) It is loaded with import() of a variable specifier, and the
// few types used are declared below, so the project type-checks without it.
//
// Figures measured (bench/lancedb-baseline.ts, @lancedb/lancedb 0.37.1, Node 20, 2 cores,
// SciFact repeated, 128-token chunks, 300 test queries, top 10, 20 warm-up queries):
//   chunks     build (write+compact / indexes)   no filter p50/p95   year = "2020" p50/p95   $or p50/p95
//   100,005    4.4–4.6 s (2.5 / 1.9–2.1 s)        1.4 / 2.5 ms        2.2–2.3 / 4.0–4.1 ms    1.4–1.6 / 1.8–2.5 ms
//   1,000,005  30–31 s (11.3–11.9 / 19.2–19.5 s)  2.0–2.2 / 4.1–4.9 ms 13–14 / 23–24 ms        2.5–2.6 / 5.1–5.7 ms
//
// (Two runs each, ranges shown; mean hits 10.0 in every series; the filters matched 9.9 %
// and 25.7 % of the chunks at 100,000, 10.0 % and 20.6 % at 1,000,000; peak RSS 0.6 GB
// and 1.0 GB; load average 0.8–1.0 while other work ran.) At 1,000,000 the equality
// filter is slower than the broader $or; not looked into (perhaps LanceDB picks another
// strategy for the more selective prefilter).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { percentile } from './report.js'
import { progress } from './server.js'

export const LANCEDB_VERSION = '0.37.1'
export const LANCEDB_INSTALL = `npm install --no-save @lancedb/lancedb@${LANCEDB_VERSION}`

export interface LanceChunk { text: string, copy: string, year: string }
/** `where`: a LanceDB SQL predicate applied as a prefilter, or undefined for none. */
export interface LanceScenario { label: string, where: string | undefined }
export interface LanceSeries {
  label: string
  where: string | undefined
  /** Chunks the filter matches (all chunks without one). */
  matchingChunks: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  /** Mean rows returned per query (at most topK). */
  meanHits: number
}
export interface LanceResult {
  version: string
  /** Writing the table, compacting it and building every index. */
  buildSeconds: number
  loadSeconds: number
  indexSeconds: number
  chunks: number
  topK: number
  queries: number
  series: LanceSeries[]
}

/**
 * The three scenarios of bench/query.ts as LanceDB prefilters: no filter,
 * year = FIRST_YEAR + 5 (~10 %), and year in two years or (copy = "0" and
 * year >= FIRST_YEAR + 8). The years are strings, as in jack's metadata, so
 * >= compares them as strings, as jack's $gte on strings does.
 */
export function lanceScenarios (firstYear: number): LanceScenario[] {
  const year = (offset: number): string => `'${firstYear + offset}'`
  return [
    { label: 'no filter', where: undefined },
    { label: `year = "${firstYear + 5}"`, where: `year = ${year(5)}` },
    {
      label: `$or [year $in [${firstYear + 1}, ${firstYear + 2}]; copy = 0 and year $gte ${firstYear + 8}]`,
      where: `year IN (${year(1)}, ${year(2)}) OR (copy = '0' AND year >= ${year(8)})`
    }
  ]
}

// ---------------------------------------------------------------------------------------------
// The little of @lancedb/lancedb used here, declared locally so nothing refers to its types.

interface LanceQuery {
  fullTextSearch: (query: unknown) => LanceQuery
  where: (predicate: string) => LanceQuery
  limit: (limit: number) => LanceQuery
  toArray: () => Promise<unknown[]>
}

interface LanceTable {
  add: (rows: Array<Record<string, unknown>>) => Promise<unknown>
  optimize: (options?: { cleanupOlderThan?: Date }) => Promise<unknown>
  createIndex: (column: string, options: { config: unknown }) => Promise<void>
  countRows: (filter?: string) => Promise<number>
  query: () => LanceQuery
  close: () => void
}

interface LanceConnection {
  createTable: (name: string, rows: Array<Record<string, unknown>>) => Promise<LanceTable>
  close: () => void
}

interface LanceModule {
  connect: (uri: string) => Promise<LanceConnection>
  Index: {
    fts: (options: Record<string, unknown>) => unknown
    bitmap: () => unknown
  }
  MatchQuery: new (query: string, column: string, options?: { operator?: unknown }) => unknown
  Operator: { Or: unknown }
}

const SPECIFIER = '@lancedb/lancedb'
/** Chunks per table.add(): ~128-token chunks, so tens of MB of rows at a time. */
const BATCH_ROWS = 50_000

async function loadLanceDb (): Promise<{ lance: LanceModule, version: string } | undefined> {
  let loaded: Record<string, unknown>
  try {
    loaded = await import(SPECIFIER) as Record<string, unknown>
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const why = code === 'ERR_MODULE_NOT_FOUND' ? 'is not installed' : `failed to load (${error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)})`
    process.stdout.write(`LanceDB baseline skipped: ${SPECIFIER} ${why}; run \`${LANCEDB_INSTALL}\` (not saved to package.json).\n`)
    return undefined
  }
  // A CommonJS package: its exports are named ones when Node detects them, else under default.
  const lance = (typeof loaded.connect === 'function' ? loaded : loaded.default) as LanceModule
  return { lance, version: installedVersion() }
}

function installedVersion (): string {
  try {
    let directory = path.dirname(createRequire(import.meta.url).resolve(SPECIFIER))
    for (;;) {
      const file = path.join(directory, 'package.json')
      if (fs.existsSync(file)) {
        const { name, version } = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown, version?: unknown }
        if (name === SPECIFIER && typeof version === 'string') return version
      }
      const parent = path.dirname(directory)
      if (parent === directory) return 'unknown'
      directory = parent
    }
  } catch {
    return 'unknown'
  }
}

/** Letters and digits only: every other run of characters becomes one space (a separator for the "simple" tokenizer too). */
export function sanitiseQuery (text: string): string {
  return text.replace(/[^\p{L}\p{N}]+/gu, ' ').trim()
}

async function * batches (chunks: Iterable<LanceChunk> | AsyncIterable<LanceChunk>, size: number): AsyncGenerator<Array<Record<string, unknown>>> {
  let batch: Array<Record<string, unknown>> = []
  for await (const { text, copy, year } of chunks) {
    batch.push({ text, copy, year })
    if (batch.length >= size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

/**
 * Writes `chunks` to a LanceDB table in a temp directory, indexes it, and times
 * `queries` (sequentially, top `topK`) under each scenario's prefilter. The temp
 * directory is removed at the end, also on error. Undefined (with a printed hint
 * how to install it) when @lancedb/lancedb is not installed.
 */
export async function measureLanceDb (
  chunks: Iterable<LanceChunk> | AsyncIterable<LanceChunk>,
  queries: readonly string[],
  scenarios: readonly LanceScenario[],
  options: { warmUp?: number, topK?: number } = {}
): Promise<LanceResult | undefined> {
  const loaded = await loadLanceDb()
  if (loaded === undefined) return undefined
  const { lance, version } = loaded
  const warmUp = options.warmUp ?? 20
  const topK = options.topK ?? 10

  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-lancedb-'))
  // If the process exits mid-run (a signal handler calling process.exit), still remove it.
  const removeOnExit = (): void => { fs.rmSync(directory, { recursive: true, force: true }) }
  process.once('exit', removeOnExit)
  let connection: LanceConnection | undefined
  let table: LanceTable | undefined
  try {
    connection = await lance.connect(directory)
    const started = performance.now()
    let written = 0
    let reported = started
    for await (const batch of batches(chunks, BATCH_ROWS)) {
      if (table === undefined) table = await connection.createTable('chunks', batch)
      else await table.add(batch)
      written += batch.length
      if (performance.now() - reported > 15_000) {
        reported = performance.now()
        progress(`lancedb: ${written.toLocaleString('en-US')} chunks written after ${((reported - started) / 1000).toFixed(0)} s`)
      }
    }
    if (table === undefined) throw new Error('measureLanceDb: no chunks')
    // One add is one fragment: compact them (and drop the old versions) before indexing.
    await table.optimize({ cleanupOlderThan: new Date() })
    const loadSeconds = (performance.now() - started) / 1000
    progress(`lancedb ${version}: ${written.toLocaleString('en-US')} chunks written and compacted in ${loadSeconds.toFixed(1)} s; indexing`)

    const indexStarted = performance.now()
    await table.createIndex('text', {
      config: lance.Index.fts({
        baseTokenizer: 'simple',
        language: 'English',
        lowercase: true,
        stem: true,
        removeStopWords: true,
        asciiFolding: true,
        maxTokenLength: 40,
        withPosition: false
      })
    })
    await table.createIndex('year', { config: lance.Index.bitmap() })
    await table.createIndex('copy', { config: lance.Index.bitmap() })
    const indexSeconds = (performance.now() - indexStarted) / 1000
    const buildSeconds = (performance.now() - started) / 1000
    progress(`lancedb: indexes built in ${indexSeconds.toFixed(1)} s`)

    const searchable = queries.map(sanitiseQuery)
    const search = async (text: string, where: string | undefined): Promise<unknown[]> => {
      let query = (table as LanceTable).query().fullTextSearch(new lance.MatchQuery(text, 'text', { operator: lance.Operator.Or }))
      if (where !== undefined) query = query.where(where)
      return await query.limit(topK).toArray()
    }

    const series: LanceSeries[] = []
    for (const scenario of scenarios) {
      const matchingChunks = await table.countRows(scenario.where)
      for (const text of searchable.slice(0, warmUp)) await search(text, scenario.where)
      const latencies: number[] = []
      let hits = 0
      for (const text of searchable) {
        const before = performance.now()
        const rows = await search(text, scenario.where)
        latencies.push(performance.now() - before)
        hits += rows.length
      }
      series.push({
        label: scenario.label,
        where: scenario.where,
        matchingChunks,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        maxMs: Math.max(...latencies),
        meanHits: hits / Math.max(1, searchable.length)
      })
      progress(`lancedb: ${scenario.label}: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms`)
    }
    return { version, buildSeconds, loadSeconds, indexSeconds, chunks: written, topK, queries: searchable.length, series }
  } finally {
    table?.close()
    connection?.close()
    fs.rmSync(directory, { recursive: true, force: true })
    process.removeListener('exit', removeOnExit)
  }
}
