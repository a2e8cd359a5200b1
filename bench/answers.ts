// Benchmark: answer quality of POST /v1/query on a small SQuAD-style encyclopedia (bench/data/answers/encyclopedia.json) — answer containment, right paragraph cited / retrieved, not-found rates, filter safety, answer length and latency — against a naive keyword-overlap baseline; PGlite by default.
//
// Env: BENCH_BACKENDS (default "pglite" here: this measures quality, not speed), BENCH_TOP_K (default 6),
// BENCH_ANSWERS_DUMP=path (per-question JSONL for error analysis), BENCH_ANSWERS_DATA (another dataset of the same shape).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { splitSentences } from '../src/answer/sentences.js'
import { Api, BATCH_SIZE, waitUntilProcessed } from './lib/api.js'
import { ENCYCLOPEDIA_PATH, loadDataset, type Dataset, type Paragraph, type Question } from './lib/encyclopedia.js'
import { percentile, readInteger, table } from './lib/report.js'
import { buildIfStale, checkKey, newBootstrapKey, pinBenchmark, progress, readBackends, runMain, withServer, withStorage, type Backend } from './lib/server.js'
import type { CitationType } from '../src/schemas/query.js'

// The answerer's fixed reply when the documents hold no answer (src/answer/answer-types.ts).
const NOT_FOUND = 'The documents do not contain an answer to this question.'
const DATA_PATH = process.env.BENCH_ANSWERS_DATA ?? ENCYCLOPEDIA_PATH
const DUMP_PATH = process.env.BENCH_ANSWERS_DUMP === undefined || process.env.BENCH_ANSWERS_DUMP.trim() === '' ? undefined : path.resolve(process.env.BENCH_ANSWERS_DUMP)
const TOP_K = readInteger('BENCH_TOP_K', 6, 1, 20)
// Quality, not speed: PostgreSQL only when asked for (BENCH_BACKENDS=postgres or pglite,postgres).
const BACKENDS: Backend[] = process.env.BENCH_BACKENDS === undefined || process.env.BENCH_BACKENDS.trim() === '' ? ['pglite'] : readBackends()
const READY_TIMEOUT_MS = 300_000
const REQUEST_TIMEOUT_MS = 60_000
const GOAL_CONTAINMENT = 75
const GOAL_AT_1 = 80
const GOAL_WITHIN = 95

// ---------------------------------------------------------------------------------------------
// Containment: does the answer hold one of the gold strings?

function collapse (text: string): string {
  return text.normalize('NFKC').replace(/\s+/gu, ' ').trim()
}

/**
 * SQuAD's normalisation (lower case, no punctuation, no articles, single spaces), except that
 * punctuation becomes a space instead of vanishing: containment is tested on whole tokens, and
 * "Robert Fulton's" must still hold "Robert Fulton". Applied to both sides, "13,200" stays a
 * match for "13,200" either way.
 */
function squadNormalise (text: string): string {
  return text.normalize('NFKC').toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(?:a|an|the)\b/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim()
}

interface Containment {
  /** Case-sensitive substring, whitespace collapsed. */
  exact: boolean
  /** Case-insensitive substring, whitespace collapsed, the gold's trailing punctuation ignored. */
  loose: boolean
  /** SQuAD-normalised gold as a whole-token run of the SQuAD-normalised answer: the headline figure. */
  normalised: boolean
}

function contains (answer: string, golds: readonly string[]): Containment {
  const exactAnswer = collapse(answer)
  const looseAnswer = exactAnswer.toLowerCase()
  const normalisedAnswer = ` ${squadNormalise(answer)} `
  const result: Containment = { exact: false, loose: false, normalised: false }
  for (const gold of golds) {
    if (exactAnswer.includes(collapse(gold))) result.exact = true
    const looseGold = collapse(gold).toLowerCase().replace(/[\p{P}\s]+$/u, '')
    if (looseGold !== '' && looseAnswer.includes(looseGold)) result.loose = true
    const normalisedGold = squadNormalise(gold)
    if (normalisedGold !== '' && normalisedAnswer.includes(` ${normalisedGold} `)) result.normalised = true
  }
  return result
}

/** The sentence of the gold paragraph holding a gold answer (jack's own splitter), for the dump. */
function goldSentence (question: Question): string | undefined {
  if (question.paragraph === undefined) return undefined
  const sentences = splitSentences(question.paragraph.text)
  return sentences.find((sentence) => contains(sentence.text, question.answers).normalised)?.text
}

// ---------------------------------------------------------------------------------------------
// The baseline: keyword overlap

const STOPWORDS = new Set(('a about above after again against all am an and any are as at be because been before being below between both but by ' +
  'can could did do does doing down during each few for from further had has have having he her here hers herself him himself his how i if in ' +
  'into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over own same she ' +
  'should so some such than that the their theirs them themselves then there these they this those through to too under until up very was we ' +
  'were what when where which while who whom why will with would you your yours yourself yourselves s t').split(' '))

function contentWords (text: string): Set<string> {
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  return new Set(words.filter((word) => !STOPWORDS.has(word)))
}

function overlap (question: ReadonlySet<string>, text: ReadonlySet<string>): number {
  let count = 0
  for (const word of question) if (text.has(word)) count++
  return count
}

interface BaselineResult {
  answer: string
  /** Best first; ties keep the dataset's order. */
  paragraphs: string[]
  found: boolean
}

class KeywordBaseline {
  private readonly words: Array<{ paragraph: Paragraph, words: Set<string> }>

  constructor (paragraphs: readonly Paragraph[]) {
    this.words = paragraphs.map((paragraph) => ({ paragraph, words: contentWords(paragraph.text) }))
  }

  /** The paragraph sharing the most distinct question words; the answer is its sentence sharing the most. */
  answer (question: string, article?: string): BaselineResult {
    const asked = contentWords(question)
    const ranked = this.words
      .filter((entry) => article === undefined || entry.paragraph.article === article)
      .map((entry, index) => ({ ...entry, index, score: overlap(asked, entry.words) }))
      .sort((a, b) => b.score - a.score || a.index - b.index)
    const best = ranked[0]
    if (best === undefined || best.score === 0) return { answer: NOT_FOUND, paragraphs: [], found: false }
    let sentence = ''
    let sentenceScore = -1
    // The same sentence splitter as jack's, so the comparison is about choosing, not splitting.
    for (const candidate of splitSentences(best.paragraph.text)) {
      const score = overlap(asked, contentWords(candidate.text))
      if (score > sentenceScore) {
        sentence = candidate.text
        sentenceScore = score
      }
    }
    return { answer: sentence, paragraphs: ranked.slice(0, TOP_K).filter((entry) => entry.score > 0).map((entry) => entry.paragraph.id), found: true }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

type Passage = CitationType

interface QueryResponse {
  answer: string
  citations: Passage[]
}

interface SearchResponse {
  results: Passage[]
}

/** Every paragraph as one document (filename = paragraph id); resolves to paragraph id → document id once none is processing. */
async function ingest (api: Api, backend: Backend, paragraphs: readonly Paragraph[]): Promise<{ documentOf: Map<string, string>, paragraphOf: Map<string, string>, failures: string[], chunks: number }> {
  const documentOf = new Map<string, string>()
  const paragraphOf = new Map<string, string>()
  for (let start = 0; start < paragraphs.length; start += BATCH_SIZE) {
    const batch = paragraphs.slice(start, start + BATCH_SIZE)
    const { body } = await api.request<{ document_ids: string[] }>('POST', '/v1/ingest', 202, {
      documents: batch.map((paragraph) => ({ text: paragraph.text, filename: paragraph.id, metadata: { article: paragraph.article, paragraph: paragraph.id } }))
    })
    if (body.document_ids.length !== batch.length) throw new Error(`POST /v1/ingest returned ${body.document_ids.length} IDs for ${batch.length} documents`)
    batch.forEach((paragraph, index) => {
      const id = body.document_ids[index] as string
      documentOf.set(paragraph.id, id)
      paragraphOf.set(id, paragraph.id)
    })
  }
  progress(`${backend}: ${paragraphs.length} paragraphs accepted; waiting until none is processing`)
  const started = performance.now()
  await waitUntilProcessed(api, backend, READY_TIMEOUT_MS)
  const failures: string[] = []
  let ready = 0
  let chunks = 0
  for (const document of await api.listAll()) {
    if (!paragraphOf.has(document.id)) continue
    if (document.status === 'ready') {
      ready++
      chunks += document.chunk_count
    } else {
      failures.push(`${paragraphOf.get(document.id) ?? document.id}: ${document.status} ${document.error_message ?? ''}`.trim())
    }
  }
  if (ready + failures.length !== paragraphs.length) failures.push(`${paragraphs.length - ready - failures.length} documents missing from GET /v1/documents`)
  progress(`${backend}: ${ready} ready, ${failures.length} not, ${chunks} chunks, in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return { documentOf, paragraphOf, failures, chunks }
}

// ---------------------------------------------------------------------------------------------
// Asking

type Miss = 'not_found' | 'retrieval_miss' | 'wrong_paragraph' | 'wrong_sentence'

interface Asked {
  answer: string
  found: boolean
  containment: Containment
  /** citations[0] is the gold paragraph. */
  atOne: boolean
  /** Some citation is the gold paragraph. */
  cited: boolean
  /** Some POST /v1/search top-k result is the gold paragraph. */
  retrieved: boolean
  citations: Array<{ paragraph: string, score: number, chunk_index: number, article: string | undefined }>
  search: Array<{ paragraph: string, score: number, article: string | undefined }>
  queryMs: number
  /** Citations and search results whose metadata.article differs from the filter. */
  violations: number
  /** Why a question with an answer was not answered; undefined when it was. */
  miss: Miss | undefined
}

async function ask (api: Api, question: Question, article: string | undefined, documentOf: ReadonlyMap<string, string>, paragraphOf: ReadonlyMap<string, string>): Promise<Asked> {
  const filters = article === undefined ? {} : { filters: { article } }
  const query = await api.request<QueryResponse>('POST', '/v1/query', 200, { question: question.question, top_k: TOP_K, ...filters })
  const search = await api.request<SearchResponse>('POST', '/v1/search', 200, { query: question.question, top_k: TOP_K, ...filters })
  const gold = question.paragraph === undefined ? undefined : documentOf.get(question.paragraph.id)
  const { answer, citations } = query.body
  const found = answer !== NOT_FOUND
  const containment = found ? contains(answer, question.answers) : { exact: false, loose: false, normalised: false }
  const atOne = gold !== undefined && citations[0]?.document_id === gold
  const cited = gold !== undefined && citations.some((citation) => citation.document_id === gold)
  const retrieved = gold !== undefined && search.body.results.some((result) => result.document_id === gold)
  const violations = article === undefined ? 0 : [...citations, ...search.body.results].filter((passage) => passage.metadata.article !== article).length
  let miss: Miss | undefined
  if (gold !== undefined && !containment.normalised) {
    if (!found) miss = 'not_found'
    else if (!retrieved) miss = 'retrieval_miss'
    else if (!cited) miss = 'wrong_paragraph'
    else miss = 'wrong_sentence'
  }
  return {
    answer,
    found,
    containment,
    atOne,
    cited,
    retrieved,
    citations: citations.map((citation) => ({ paragraph: paragraphOf.get(citation.document_id) ?? citation.document_id, score: citation.score, chunk_index: citation.chunk_index, article: citation.metadata.article })),
    search: search.body.results.map((result) => ({ paragraph: paragraphOf.get(result.document_id) ?? result.document_id, score: result.score, article: result.metadata.article })),
    queryMs: query.ms,
    violations,
    miss
  }
}

interface QuestionResult {
  question: Question
  plain: Asked
  /** With {"article": <its article>}; undefined for unanswerable questions, which belong to no article. */
  filtered: Asked | undefined
}

interface BackendResult {
  backend: Backend
  results: QuestionResult[]
  failures: string[]
  chunks: number
  warnings: string[]
  warningTotal: number
}

async function runBackend (backend: Backend, key: string, serverCpu: number | undefined, dataset: Dataset): Promise<BackendResult> {
  return await withStorage(backend, async (storage) => {
    progress(`${backend}: starting server`)
    const env = { ...storage.env, JACK_BOOTSTRAP_KEY: key }
    const { result, warnings, warningTotal } = await withServer(backend, env, serverCpu, async (server) => {
      await checkKey(server.baseUrl, key)
      const api = new Api(server, key, REQUEST_TIMEOUT_MS)
      const { documentOf, paragraphOf, failures, chunks } = await ingest(api, backend, dataset.paragraphs)
      const questions = [...dataset.answerable, ...dataset.unanswerable]
      // Warm-up: the first queries pay for JIT compilation and cold caches, which is not what p50/p95 should show.
      for (const question of questions.slice(0, 10)) await ask(api, question, undefined, documentOf, paragraphOf)
      const results: QuestionResult[] = []
      for (const [index, question] of questions.entries()) {
        const plain = await ask(api, question, undefined, documentOf, paragraphOf)
        const filtered = question.paragraph === undefined ? undefined : await ask(api, question, question.paragraph.article, documentOf, paragraphOf)
        results.push({ question, plain, filtered })
        if ((index + 1) % 50 === 0 || index + 1 === questions.length) progress(`${backend}: ${index + 1}/${questions.length} questions asked`)
      }
      return { results, failures, chunks }
    })
    return { backend, ...result, warnings, warningTotal }
  })
}

// ---------------------------------------------------------------------------------------------
// Report

function share (count: number, total: number): number {
  return total === 0 ? Number.NaN : (100 * count) / total
}

function pct (value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} %` : '—'
}

function words (text: string): number {
  return text.trim() === '' ? 0 : text.trim().split(/\s+/u).length
}

function mean (values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length
}

/** The figures of one system over the answerable questions (and the not-found rate over the unanswerable ones, when asked). */
interface Figures {
  exact: number
  loose: number
  normalised: number
  atOne: number
  cited: number
  retrieved: number
  notFound: number
  unanswerableNotFound: number
  answerWords: number
  citationsPerAnswer: number
  p50: number
  p95: number
  violations: number
}

function figuresOf (asked: readonly Asked[], unanswerable: readonly Asked[]): Figures {
  const count = (test: (entry: Asked) => boolean): number => share(asked.filter(test).length, asked.length)
  const answered = asked.filter((entry) => entry.found)
  const latencies = [...asked, ...unanswerable].map((entry) => entry.queryMs)
  return {
    exact: count((entry) => entry.containment.exact),
    loose: count((entry) => entry.containment.loose),
    normalised: count((entry) => entry.containment.normalised),
    atOne: count((entry) => entry.atOne),
    cited: count((entry) => entry.cited),
    retrieved: count((entry) => entry.retrieved),
    notFound: count((entry) => !entry.found),
    unanswerableNotFound: unanswerable.length === 0 ? Number.NaN : share(unanswerable.filter((entry) => !entry.found).length, unanswerable.length),
    answerWords: mean(answered.map((entry) => words(entry.answer))),
    citationsPerAnswer: mean(answered.map((entry) => entry.citations.length)),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    violations: [...asked, ...unanswerable].reduce((sum, entry) => sum + entry.violations, 0)
  }
}

interface BaselineRun {
  question: Question
  plain: BaselineResult
  filtered: BaselineResult
}

function baselineFigures (runs: readonly BaselineRun[], pick: (run: BaselineRun) => BaselineResult): Omit<Figures, 'p50' | 'p95' | 'violations' | 'citationsPerAnswer'> {
  const answerable = runs.filter((run) => run.question.paragraph !== undefined)
  const unanswerable = runs.filter((run) => run.question.paragraph === undefined)
  const count = (test: (run: BaselineRun) => boolean): number => share(answerable.filter(test).length, answerable.length)
  const containment = (run: BaselineRun): Containment => pick(run).found ? contains(pick(run).answer, run.question.answers) : { exact: false, loose: false, normalised: false }
  return {
    exact: count((run) => containment(run).exact),
    loose: count((run) => containment(run).loose),
    normalised: count((run) => containment(run).normalised),
    atOne: count((run) => pick(run).paragraphs[0] === run.question.paragraph?.id),
    // The baseline's answer comes from its top paragraph: its one "citation".
    cited: count((run) => pick(run).paragraphs[0] === run.question.paragraph?.id),
    retrieved: count((run) => pick(run).paragraphs.includes(run.question.paragraph?.id ?? '')),
    notFound: count((run) => !pick(run).found),
    unanswerableNotFound: unanswerable.length === 0 ? Number.NaN : share(unanswerable.filter((run) => !pick(run).found).length, unanswerable.length),
    answerWords: mean(answerable.filter((run) => pick(run).found).map((run) => words(pick(run).answer)))
  }
}

function met (value: number, goal: number): string {
  return Number.isFinite(value) && value >= goal ? 'met' : 'NOT MET'
}

function report (results: readonly BackendResult[], baseline: readonly BaselineRun[], dataset: Dataset, pinning: string, selfCheck: string[]): boolean {
  const lines: string[] = []
  let valid = selfCheck.length === 0
  const plainBaseline = baselineFigures(baseline, (run) => run.plain)
  const filteredBaseline = baselineFigures(baseline, (run) => run.filtered)
  const answerableCount = dataset.answerable.length
  const unanswerableCount = dataset.unanswerable.length
  for (const result of results) {
    const answerable = result.results.filter((entry) => entry.question.paragraph !== undefined)
    const unanswerable = result.results.filter((entry) => entry.question.paragraph === undefined)
    const plain = figuresOf(answerable.map((entry) => entry.plain), unanswerable.map((entry) => entry.plain))
    const filtered = figuresOf(answerable.flatMap((entry) => entry.filtered === undefined ? [] : [entry.filtered]), [])
    const number = (value: number, digits: number): string => Number.isFinite(value) ? value.toFixed(digits) : '—'
    lines.push(`## ${result.backend}: ${answerableCount} answerable + ${unanswerableCount} unanswerable questions, ${dataset.paragraphs.length} paragraphs (${result.chunks} chunks), top_k ${TOP_K}`, '')
    lines.push(...table(['metric', 'jack', 'jack, article filter', 'keyword baseline', 'baseline, article filter', 'goal', 'jack vs goal'], [
      ['containment, normalised (SQuAD-style)', pct(plain.normalised), pct(filtered.normalised), pct(plainBaseline.normalised), pct(filteredBaseline.normalised), `≥ ${GOAL_CONTAINMENT} %`, met(plain.normalised, GOAL_CONTAINMENT)],
      ['containment, case-insensitive', pct(plain.loose), pct(filtered.loose), pct(plainBaseline.loose), pct(filteredBaseline.loose), '', ''],
      ['containment, exact case', pct(plain.exact), pct(filtered.exact), pct(plainBaseline.exact), pct(filteredBaseline.exact), '', ''],
      ['right paragraph at 1 (citations[0])', pct(plain.atOne), pct(filtered.atOne), pct(plainBaseline.atOne), pct(filteredBaseline.atOne), `≥ ${GOAL_AT_1} %`, met(plain.atOne, GOAL_AT_1)],
      ['right paragraph cited (any citation)', pct(plain.cited), pct(filtered.cited), pct(plainBaseline.cited), pct(filteredBaseline.cited), '', ''],
      [`right paragraph retrieved within ${TOP_K} (/v1/search)`, pct(plain.retrieved), pct(filtered.retrieved), pct(plainBaseline.retrieved), pct(filteredBaseline.retrieved), `≥ ${GOAL_WITHIN} %`, met(plain.retrieved, GOAL_WITHIN)],
      [`not found, answerable (${answerableCount}; lower is better)`, pct(plain.notFound), pct(filtered.notFound), pct(plainBaseline.notFound), pct(filteredBaseline.notFound), '', ''],
      [`not found, unanswerable (${unanswerableCount}; higher is better)`, pct(plain.unanswerableNotFound), 'n/a', pct(plainBaseline.unanswerableNotFound), 'n/a', '', ''],
      ['filter violations (citations + search results)', '—', String(filtered.violations), '—', '—', '0', filtered.violations === 0 ? 'met' : 'NOT MET'],
      ['answer length, mean words (found answers)', number(plain.answerWords, 1), number(filtered.answerWords, 1), number(plainBaseline.answerWords, 1), number(filteredBaseline.answerWords, 1), '', ''],
      ['citations per found answer, mean', number(plain.citationsPerAnswer, 2), number(filtered.citationsPerAnswer, 2), '1', '1', '', ''],
      ['/v1/query latency p50 / p95 ms', `${number(plain.p50, 1)} / ${number(plain.p95, 1)}`, `${number(filtered.p50, 1)} / ${number(filtered.p95, 1)}`, '', '', '', '']
    ]))
    const misses = new Map<Miss, number>()
    for (const entry of answerable) if (entry.plain.miss !== undefined) misses.set(entry.plain.miss, (misses.get(entry.plain.miss) ?? 0) + 1)
    lines.push('', `Misses (jack, no filter, normalised containment): ${[...misses].map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none'}` +
      ' — not_found: the not-found answer; retrieval_miss: gold paragraph not in /v1/search top k; wrong_paragraph: retrieved but not cited; wrong_sentence: cited, but the quoted sentences miss the answer.', '')
    if (result.failures.length > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${result.failures.length} documents not ready:`, ...result.failures.slice(0, 20).map((line) => `  ${line}`))
    }
    if (filtered.violations > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): ${filtered.violations} citations or search results broke the article filter`)
    }
    if (result.warningTotal > 0) {
      valid = false
      lines.push(`WARNING (${result.backend}): the server logged ${result.warningTotal} lines at warn or above:`, ...result.warnings.slice(0, 20).map((line) => `  ${line}`))
    }
  }
  lines.push(`Dataset: ${path.relative(process.cwd(), DATA_PATH)}; each paragraph one document (filename = paragraph id, metadata {article, paragraph}), default chunking.`)
  lines.push('Containment: an answer holds a gold string. normalised = lower case, punctuation → space, a/an/the dropped, whitespace collapsed, the gold as a whole-token run; case-insensitive = plain substring with whitespace collapsed and the gold\'s trailing punctuation ignored; exact case = plain substring. Not-found answers contain nothing.')
  lines.push(`Right paragraph: "at 1" = citations[0] is the gold paragraph's document; "cited" = any citation is (citations are the passages the answer quoted, usually 1–2); "retrieved within ${TOP_K}" = POST /v1/search with the question, top_k ${TOP_K}, has it (the same ranking /v1/query answers from). The article filter is {"article": <the question's article>}; unanswerable questions belong to no article, so are asked without one only.`)
  lines.push(`Keyword baseline: lower-case words minus stopwords; the paragraph sharing the most distinct question words (ties: dataset order), its sentence sharing the most (jack's sentence splitter); "retrieved within ${TOP_K}" = the top ${TOP_K} paragraphs by that overlap; not found only when no word is shared.`)
  lines.push(`Latency: one request at a time after 10 warm-up questions, client-side round trip of POST /v1/query over all ${answerableCount + unanswerableCount} questions (filtered: the ${answerableCount} answerable ones). ${pinning}`)
  lines.push(`Load average at the end (1/5/15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')} on ${os.cpus().length} CPUs; node ${process.version}.`)
  if (DUMP_PATH !== undefined) lines.push(`Per-question results: ${DUMP_PATH}`)
  if (selfCheck.length > 0) lines.push('WARNING: gold answers not contained in their own paragraph under the normalisation (the dataset or the normaliser is wrong):', ...selfCheck.map((line) => `  ${line}`))
  if (valid) lines.push('Run valid: every paragraph ready, no filter violation, no server log lines at warn or above.')
  process.stdout.write(`${lines.join('\n')}\n`)
  return valid
}

function dump (results: readonly BackendResult[], baseline: readonly BaselineRun[]): void {
  if (DUMP_PATH === undefined) return
  const baselineOf = new Map(baseline.map((run) => [run.question.id, run]))
  const view = (asked: Asked | undefined): unknown => asked === undefined
    ? null
    : {
        answer: asked.answer,
        found: asked.found,
        contained: asked.containment.normalised,
        contained_loose: asked.containment.loose,
        contained_exact: asked.containment.exact,
        at1: asked.atOne,
        cited: asked.cited,
        retrieved: asked.retrieved,
        miss: asked.miss ?? null,
        citations: asked.citations,
        search: asked.search,
        query_ms: Math.round(asked.queryMs * 10) / 10,
        violations: asked.violations
      }
  const lines: string[] = []
  for (const result of results) {
    for (const { question, plain, filtered } of result.results) {
      const run = baselineOf.get(question.id)
      lines.push(JSON.stringify({
        backend: result.backend,
        id: question.id,
        question: question.question,
        answerable: question.paragraph !== undefined,
        gold_answers: question.answers,
        gold_paragraph: question.paragraph?.id ?? null,
        article: question.paragraph?.article ?? null,
        gold_sentence: goldSentence(question) ?? null,
        jack: view(plain),
        jack_filtered: view(filtered),
        baseline: run === undefined
          ? null
          : {
              answer: run.plain.answer,
              paragraphs: run.plain.paragraphs,
              contained: run.plain.found && contains(run.plain.answer, question.answers).normalised,
              at1: run.plain.paragraphs[0] === question.paragraph?.id
            }
      }))
    }
  }
  fs.mkdirSync(path.dirname(DUMP_PATH), { recursive: true })
  fs.writeFileSync(DUMP_PATH, `${lines.join('\n')}\n`)
  progress(`wrote ${lines.length} lines to ${DUMP_PATH}`)
}

async function main (): Promise<number> {
  const dataset = loadDataset(DATA_PATH)
  progress(`${dataset.paragraphs.length} paragraphs, ${dataset.answerable.length} answerable and ${dataset.unanswerable.length} unanswerable questions; backends: ${BACKENDS.join(', ')}`)
  // Every gold answer is verbatim in its paragraph, so a normalisation that loses one would undercount every system.
  const selfCheck = dataset.answerable
    .filter((question) => question.paragraph !== undefined && !contains(question.paragraph.text, question.answers).normalised)
    .map((question) => `${question.id}: ${JSON.stringify(question.answers)}`)

  const keywords = new KeywordBaseline(dataset.paragraphs)
  const baseline: BaselineRun[] = [...dataset.answerable, ...dataset.unanswerable].map((question) => ({
    question,
    plain: keywords.answer(question.question),
    filtered: keywords.answer(question.question, question.paragraph?.article)
  }))

  buildIfStale()
  const serverCpu = pinBenchmark()
  const pinning = serverCpu === undefined
    ? 'NOT pinned (no taskset or fewer than 2 CPUs): server, benchmark client and PostgreSQL share CPUs.'
    : 'Pinned: server on CPU 0, benchmark client on CPU 1 (PostgreSQL itself unpinned).'
  const key = newBootstrapKey()
  const results: BackendResult[] = []
  for (const backend of BACKENDS) results.push(await runBackend(backend, key, serverCpu, dataset))
  dump(results, baseline)
  return report(results, baseline, dataset, pinning, selfCheck) ? 0 : 1
}

await runMain(main)
