// Benchmark: the LanceDB full-text baseline alone (bench/lib/lancedb-baseline.ts) — SciFact chunked as bench/query.ts plans it (128-token chunks, copies of the corpus until BENCH_CHUNKS chunks, default 100,000, metadata copy and year), its 300 test queries, top 10, sequential, without a filter, with year = one value (~10 %) and with the $or filter.
// Needs `npm install --no-save @lancedb/lancedb@0.37.1` (not a dependency); says so and exits 0 without it.
import { chunkText } from '../src/ingest/chunker.js'
import { LANCEDB_INSTALL, lanceScenarios, measureLanceDb, type LanceChunk } from './lib/lancedb-baseline.js'
import { formatInt, formatMs, isEntryPoint, loadLine, readInteger, table } from './lib/report.js'
import { progress, runMain } from './lib/server.js'
import { loadCorpus, loadTestQueries, type CorpusDocument } from './retrieval.js'

// As in bench/query.ts.
const TARGET_CHUNKS = readInteger('BENCH_CHUNKS', 100_000, 1000, 10_000_000)
const CHUNK_SIZE = readInteger('BENCH_CHUNK_SIZE', 128, 128, 4096)
const CHUNK_OVERLAP = Math.min(64, CHUNK_SIZE - 1)
const WARM_UP_QUERIES = 20
const TOP_K = 10
const FIRST_YEAR = 2015

/**
 * bench/query.ts's plan, chunk by chunk: copies of the corpus, document by document,
 * until the chunks reach TARGET_CHUNKS (the last document whole); the year cycles
 * over ten values by document, so year = one value holds ~10 %. Each document is
 * chunked once; the copies share its chunk strings.
 */
function * plannedChunks (corpus: readonly CorpusDocument[]): Generator<LanceChunk> {
  const chunked = corpus.map((document) => chunkText(document.text, { chunkSize: CHUNK_SIZE, chunkOverlap: CHUNK_OVERLAP }).map((chunk) => chunk.text))
  let chunks = 0
  let documents = 0
  for (let copy = 0; chunks < TARGET_CHUNKS; copy++) {
    for (const texts of chunked) {
      if (chunks >= TARGET_CHUNKS) break
      const year = String(FIRST_YEAR + (documents % 10))
      documents++
      for (const text of texts) yield { text, copy: String(copy), year }
      chunks += texts.length
    }
  }
}

async function main (): Promise<number> {
  const corpus = loadCorpus()
  const queries = loadTestQueries().map((query) => query.text)
  progress(`LanceDB baseline: ~${formatInt(TARGET_CHUNKS)} chunks from ${formatInt(corpus.length)} SciFact documents, ${queries.length} queries`)
  const result = await measureLanceDb(plannedChunks(corpus), queries, lanceScenarios(FIRST_YEAR), { warmUp: WARM_UP_QUERIES, topK: TOP_K })
  if (result === undefined) return 0
  const lines = [
    `LanceDB ${result.version} full-text search (embedded, on disk), ${formatInt(result.chunks)} chunks of SciFact at chunk_size ${CHUNK_SIZE} / overlap ${CHUNK_OVERLAP}: ${result.queries} test queries, top ${result.topK}, sequential, ${WARM_UP_QUERIES} warm-up queries before each series.`,
    `Build: ${result.buildSeconds.toFixed(1)} s (writing and compacting ${result.loadSeconds.toFixed(1)} s, FTS and bitmap indexes ${result.indexSeconds.toFixed(1)} s).`,
    '',
    ...table(['series', 'prefilter', 'matching chunks', 'p50 ms', 'p95 ms', 'max ms', 'mean hits'], result.series.map((series) => [
      series.label,
      series.where === undefined ? '—' : `\`${series.where}\``,
      `${formatInt(series.matchingChunks)} (${((100 * series.matchingChunks) / Math.max(1, result.chunks)).toFixed(1)} %)`,
      formatMs(series.p50Ms),
      formatMs(series.p95Ms),
      formatMs(series.maxMs),
      series.meanHits.toFixed(1)
    ])),
    '',
    `Not a dependency: \`${LANCEDB_INSTALL}\`.`,
    loadLine()
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

if (isEntryPoint(import.meta.url)) await runMain(main)
