// The default answerer, with no model: quotes the 1–3 sentences of the retrieved chunks that best answer the question.
import { type Answer, type Citation, NOT_FOUND_ANSWER, type RetrievedChunk } from './answer-types.js'
import { type Sentence, splitSentences } from './sentences.js'
import { analyse, canonicalKey, germanQuestion, isCommonWord, type Term } from './terms.js'

export interface ExtractiveOptions {
  /** The most sentences an answer quotes (default 3); it quotes one unless more add what the first lacks. */
  maxSentences?: number
  /** The least evidence (0–1, see DEFAULT_MIN_SCORE) some sentence must hold for the documents to count as answering. */
  minScore?: number
}

/**
 * The least evidence (0–1) the best-supported sentence needs for the documents to count
 * as answering the question.
 *
 * A sentence's evidence is the share of the question's evidence weight it holds. Each
 * content word of the question weighs its IDF over the candidate sentences times how
 * telling it is in English at large: COMMON_WORD_WEIGHT (0.35) for an everyday word
 * ("time", "year", "Sunday": the list in terms.ts), NAME_WEIGHT (2) for a name or
 * number, 1 otherwise. A question word that no candidate holds gets the highest IDF, so
 * a question the documents do not touch stays low however much of its small talk
 * matches. Measured on the miniature encyclopedia of test/answer/extractive.test.ts,
 * with 4 to 50 candidate sentences:
 * - only stopwords shared ("What is it?"): 0;
 * - one everyday or common word shared out of four ("What time does the pharmacy open
 *   on Sundays?" meets "this time" and "Sunday 2 September"; "Who won the 2018 World
 *   Cup?" meets "won the Nobel Prize" and "First World War"): 0.10–0.15;
 * - one rare word shared out of four or five, a name ("When did Farriner retire from
 *   baking bread?", "What did Bloodworth say about the insurance claims?"): 0.26–0.42;
 * - 24 SQuAD-style questions, on the paragraphs that answer them: 0.38–1.
 * 0.2 lies between the second group and the third, with a margin to each.
 */
export const DEFAULT_MIN_SCORE = 0.2

const DEFAULT_MAX_SENTENCES = 3

// BM25 over sentences. b is below the usual 0.75 because sentences vary less in length than documents,
// and a strong length penalty made short fragments ("Refund policy") outrank the sentence that answers.
const K1 = 0.6
const B = 0.5
// Bonuses, as shares of the matched question weight: question terms close together, and question bigrams kept.
const PROXIMITY_WEIGHT = 0.25
const BIGRAM_WEIGHT = 0.3
// A question term in the heading above a sentence counts this share of its weight for the sentence; and a heading's
// own matches count this share as evidence, as a heading shows the topic is there, not that it is answered.
const HEADING_WEIGHT = 0.5
// A heading is quoted only when no sentence does nearly as well.
const HEADING_PENALTY = 0.3
// The first sentence under a heading the question matches: policies state the rule first and the details after.
const SECTION_LEAD_BONUS = 0.15
// Question-term weights before IDF.
const COMMON_WORD_WEIGHT = 0.35
const NAME_WEIGHT = 2
// A sentence holding a candidate of the kind the wh-word asks for (a year for "when", a number for "how many"). 0.5
// rather than 0.25 gained 1–2 points of containment on each half of the SQuAD-style benchmark (bench/answers.ts); 0.75
// and 1 no more.
const ANSWER_TYPE_BONUS = 0.5
// How much retrieval's opinion (the chunk's rank and score) adds to a sentence's score, at most.
const PRIOR_WEIGHT = 0.3
// A second or third sentence from the same chunk is quoted when it scores at least this share of the best,
// lies within COMPANION_DISTANCE sentences of one already chosen, and adds question terms worth this share of the
// question's weight: SQuAD-style questions often name their subject in one sentence and ask about the next.
const COMPANION_RATIO = 0.5
const COMPANION_NEW_WEIGHT = 0.1
const COMPANION_DISTANCE = 2
// A sentence from another chunk scoring this close to the best is quoted too: the evidence cannot tell them apart,
// and the passage it cites may be the one that answers.
const NEAR_TIE_RATIO = 0.9
// A sentence gets this share of the better relevance of its neighbours in its chunk (see scoreInContext), and its score
// is multiplied by its chunk's retrieval score relative to the best chunk's, to this power. Measured on the SQuAD-style
// benchmark (bench/answers.ts, questions split by article into halves of 150): neighbours 0.5 raised containment by 3–4
// points on each half (0.2–0.3 by 1–2; 1.0 no more than 0.5, with answers a third longer); the retrieval exponent 0.5
// added about a point of containment on each half against none (0.25–2 within a question or two of it).
const NEIGHBOUR_WEIGHT = 0.5
const RETRIEVAL_EXPONENT = 0.5
// A sentence's score is multiplied by its chunk's coverage of the question (see chunkCoverage) to this power: 0.5 put
// the right paragraph first 2.7 points more often on one half of the benchmark, as often on the other, and added a
// point of containment on both; 1 and coverage weighted by the candidates' IDF lost on both.
const COVERAGE_EXPONENT = 0.5

/**
 * Answers `question` by quoting the sentences of `chunks` (retrieval's results, best
 * first) that best answer it: every sentence of every chunk is scored against the
 * question (scoreSentence), the best is quoted with up to `maxSentences - 1` more that
 * add to it (chooseSentences), in document order, joined by a space. The answer never
 * holds a word that is not in the chunks. When no sentence holds `minScore` of the
 * question's evidence, the answer is NOT_FOUND_ANSWER without citations.
 */
export function answerExtractively (question: string, chunks: RetrievedChunk[], options: ExtractiveOptions = {}): Answer {
  const maxSentences = Number.isFinite(options.maxSentences) ? Math.max(1, Math.floor(options.maxSentences as number)) : DEFAULT_MAX_SENTENCES
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE
  const questionTerms = analyse(question)
  if (chunks.length === 0 || !questionTerms.some((term) => !term.stopword)) return notFound()

  const sentencesByChunk = chunks.map((chunk) => splitSentences(chunk.text))
  const candidates = distinctCandidates(chunks, sentencesByChunk)
  const terms = germanQuestion(question, questionTerms, new Set(candidates.flatMap((candidate) => [...candidate.contentKeys, ...candidate.headingKeys])))
  const model = questionModel(question, terms, candidates)
  const priors = chunkPriors(chunks)
  for (const candidate of candidates) scoreSentence(candidate, model, priors[candidate.rank] as number)
  scoreInContext(candidates, chunks, model)

  // Whether the documents answer at all is judged on evidence, which sentence answers best on score.
  if (!candidates.some((candidate) => candidate.evidence >= minScore)) return notFound()
  const eligible = candidates.filter((candidate) => candidate.score > 0).sort(byScore)
  const best = eligible[0]
  if (best === undefined) return notFound()
  const chosen = chooseSentences(best, eligible, model, maxSentences)

  const ordered = orderForReading(chosen)
  const pieces = ordered.map((candidate, index) => index === 0 ? candidate.sentence.text : ` ${candidate.sentence.text}`)
  const answer: Answer = { answer: pieces.join(''), citations: cite(chosen, sentencesByChunk), found: true }
  piecesOfAnswers.set(answer, pieces)
  return answer
}

/** The answer as a sequence of pieces for streaming (sentence by sentence); joined they equal answer.answer. */
export function answerPieces (answer: Answer): string[] {
  const known = piecesOfAnswers.get(answer)
  if (known !== undefined && known.join('') === answer.answer) return [...known]
  const text = answer.answer
  if (text === '') return []
  const sentences = splitSentences(text)
  if (sentences.length <= 1) return [text]
  const pieces: string[] = []
  let from = 0
  sentences.forEach((sentence, index) => {
    const to = index === sentences.length - 1 ? text.length : sentence.end
    pieces.push(text.slice(from, to))
    from = to
  })
  return pieces
}

// The sentences of the answers this module made, so streaming follows them exactly; anything else is split anew.
const piecesOfAnswers = new WeakMap<Answer, string[]>()

function notFound (): Answer {
  const answer: Answer = { answer: NOT_FOUND_ANSWER, citations: [], found: false }
  piecesOfAnswers.set(answer, [NOT_FOUND_ANSWER])
  return answer
}

// --- Candidates --------------------------------------------------------------------------------------------------------

interface Candidate {
  /** The chunk's position in retrieval's results. */
  rank: number
  chunk: RetrievedChunk
  /** Index among its chunk's sentences. */
  index: number
  sentence: Sentence
  /** Offsets in the document. */
  start: number
  end: number
  terms: Term[]
  /** Keys of the terms that are not stopwords, in order. */
  contentKeys: string[]
  /** Content keys of the heading above it in its chunk ("Refund policy"), if any. */
  headingKeys: Set<string>
  /** A heading itself (see isHeading). */
  heading: boolean
  /** The first sentence under a heading, which usually states what the section is about. */
  leadsSection: boolean
  /** 0–1: the share of the question's evidence weight this sentence holds; what minScore applies to. */
  evidence: number
  /** 0–1: the share of the question's weight this sentence matches, with bonuses. */
  relevance: number
  /** Relevance times answerability, answer type and retrieval prior: what sentences are ranked by. */
  score: number
  /** Question keys it holds. */
  matched: Set<string>
  /** Answerability, answer type, section lead, heading penalty and retrieval prior, multiplied (see scoreSentence). */
  factor: number
}

/**
 * Every sentence of the chunks, once. Chunks overlap, so the same stretch of a document
 * can come twice, whole or as a fragment cut at a chunk's start or end: a sentence
 * inside another sentence of the same document is dropped, and of two identical ones
 * the one from the better-ranked chunk is kept.
 */
function distinctCandidates (chunks: RetrievedChunk[], sentencesByChunk: Sentence[][]): Candidate[] {
  const all: Candidate[] = []
  chunks.forEach((chunk, rank) => {
    let headingKeys = new Set<string>()
    let headingIndex = -2
    sentencesByChunk[rank]?.forEach((sentence, index) => {
      const terms = analyse(sentence.text)
      const contentKeys = terms.filter((term) => !term.stopword).map((term) => term.key)
      const heading = isHeading(chunk.text, sentence, contentKeys)
      all.push({
        rank,
        chunk,
        index,
        sentence,
        start: chunk.start + sentence.start,
        end: chunk.start + sentence.end,
        terms,
        contentKeys,
        headingKeys,
        heading,
        leadsSection: index === headingIndex + 1,
        evidence: 0,
        relevance: 0,
        score: 0,
        factor: 0,
        matched: new Set()
      })
      if (heading) {
        headingKeys = new Set(contentKeys)
        headingIndex = index
      }
    })
  })
  const byDocument = new Map<string, Candidate[]>()
  for (const candidate of all) {
    const list = byDocument.get(candidate.chunk.documentId)
    if (list === undefined) byDocument.set(candidate.chunk.documentId, [candidate])
    else list.push(candidate)
  }
  const kept = new Set<Candidate>()
  for (const list of byDocument.values()) {
    list.sort((a, b) => a.start - b.start || b.end - a.end || a.rank - b.rank)
    let reach = -1
    for (const candidate of list) {
      if (candidate.end <= reach) continue
      kept.add(candidate)
      reach = candidate.end
    }
  }
  return all.filter((candidate) => kept.has(candidate))
}

/**
 * A heading: a short line of its own (markdown's "#" allowed), not a list item, without
 * final punctuation. A heading rarely answers anything, but tells what the sentences
 * under it are about: "What is our refund policy?" is answered by the sentences under
 * "Refund policy". A short last line without a full stop looks the same, so headings
 * stay quotable, as a last resort (HEADING_PENALTY).
 */
function isHeading (chunkText: string, sentence: Sentence, contentKeys: string[]): boolean {
  if (contentKeys.length === 0 || contentKeys.length > HEADING_MAX_TERMS) return false
  if (/[\n\r\u2028\u2029]/u.test(sentence.text) || !/[\p{L}\p{N}]$/u.test(sentence.text)) return false
  const lineStart = Math.max(chunkText.lastIndexOf('\n', sentence.start - 1), chunkText.lastIndexOf('\r', sentence.start - 1)) + 1
  if (!/^[ \t#]*$/u.test(chunkText.slice(lineStart, sentence.start))) return false
  return /^[ \t]*(?:[\n\r\u2028\u2029]|$)/u.test(chunkText.slice(sentence.end))
}

const HEADING_MAX_TERMS = 8

/** Retrieval's opinion of each chunk, 0–1: its rank and its score relative to the others, equally. */
function chunkPriors (chunks: RetrievedChunk[]): number[] {
  const scores = chunks.map((chunk) => chunk.score).filter(Number.isFinite)
  const low = Math.min(...scores)
  const high = Math.max(...scores)
  return chunks.map((chunk, rank) => {
    const relative = Number.isFinite(chunk.score) && high > low ? (chunk.score - low) / (high - low) : 1
    return 0.5 / (1 + rank) + 0.5 * relative
  })
}

// --- The question ------------------------------------------------------------------------------------------------------

type AnswerType = 'number' | 'time' | 'name'

interface QuestionModel {
  /** Ranking weight of each distinct question key: its IDF over the candidate sentences. */
  weights: Map<string, number>
  totalWeight: number
  /**
   * Evidence weight of each key, for deciding whether the documents answer at all: the
   * IDF times how telling the word is in English at large (COMMON_WORD_WEIGHT for an
   * everyday word, NAME_WEIGHT for a name or number, else 1).
   */
  evidenceWeights: Map<string, number>
  totalEvidence: number
  /** How telling each key is in English at large, before IDF: COMMON_WORD_WEIGHT, NAME_WEIGHT or 1. */
  telling: Map<string, number>
  /** Consecutive question content keys (stopwords skipped), as "a b", with the lesser of their weights. */
  bigrams: Map<string, number>
  /** The score of a sentence holding every question term once, together, in order. */
  ideal: number
  answerType: AnswerType | undefined
  /** Mean count of content terms in a candidate sentence, for BM25's length normalisation. */
  averageLength: number
}

function questionModel (question: string, terms: Term[], candidates: Candidate[]): QuestionModel {
  const telling = new Map<string, number>()
  const sequence: string[] = []
  terms.forEach((term, position) => {
    if (term.stopword) return
    sequence.push(term.key)
    let weight = 1
    if (isCommonWord(term.key)) weight = COMMON_WORD_WEIGHT
    else if (term.numeric || (term.capitalised && position > 0)) weight = NAME_WEIGHT
    telling.set(term.key, Math.max(telling.get(term.key) ?? 0, weight))
  })
  const nameShare = nameShares(terms)
  const documentFrequency = new Map<string, number>()
  for (const candidate of candidates) {
    // A section's sentences are about its heading's words too.
    for (const key of new Set([...candidate.contentKeys, ...candidate.headingKeys])) {
      if (telling.has(key)) documentFrequency.set(key, (documentFrequency.get(key) ?? 0) + 1)
    }
  }
  const count = candidates.length
  const weights = new Map<string, number>()
  const evidenceWeights = new Map<string, number>()
  for (const [key, tellingWeight] of telling) {
    const frequency = documentFrequency.get(key) ?? 0
    const idf = Math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))
    weights.set(key, idf * (nameShare.get(key) ?? 1))
    // A name absent from the documents is strong evidence that they do not answer, however many words it has.
    evidenceWeights.set(key, idf * tellingWeight)
  }
  const bigrams = new Map<string, number>()
  for (let index = 1; index < sequence.length; index++) {
    const first = sequence[index - 1] as string
    const second = sequence[index] as string
    if (first !== second) bigrams.set(`${first} ${second}`, Math.min(weights.get(first) ?? 0, weights.get(second) ?? 0))
  }
  const totalWeight = sum(weights.values())
  const ideal = totalWeight * (1 + (weights.size > 1 ? PROXIMITY_WEIGHT : 0)) + BIGRAM_WEIGHT * sum(bigrams.values())
  const averageLength = Math.max(1, sum(candidates.map((candidate) => candidate.contentKeys.length)) / Math.max(1, count))
  return {
    weights,
    totalWeight,
    evidenceWeights,
    totalEvidence: sum(evidenceWeights.values()),
    telling,
    bigrams,
    ideal,
    answerType: expectedAnswerType(question),
    averageLength
  }
}

/**
 * The share of its weight each word of a name of several words keeps: 1/n for a name of
 * n words ("Marie Curie", "Tower of London"). A question names its subject in full,
 * while the sentence that answers it mostly says "Curie" or "she"; counted word by word,
 * the name would outweigh the words that ask something ("born") and the sentence
 * introducing the subject would win over the one answering.
 */
function nameShares (terms: Term[]): Map<string, number> {
  const shares = new Map<string, number>()
  let name: string[] = []
  const close = (): void => {
    for (const key of name) shares.set(key, Math.min(shares.get(key) ?? 1, 1 / name.length))
    name = []
  }
  terms.forEach((term, position) => {
    if (!term.stopword && term.capitalised && !term.numeric && position > 0) name.push(term.key)
    else if (!(term.stopword && NAME_JOINERS.has(term.key) && name.length > 0)) close()
  })
  close()
  return shares
}

// Lower-case words inside names: "Tower of London", "St Paul's Cathedral" ("s").
const NAME_JOINERS = new Set(['of', 's', 'the'])

function expectedAnswerType (question: string): AnswerType | undefined {
  const lower = question.toLowerCase()
  if (/\bhow (?:many|much|long|old|far|large|big|tall|high|often|frequently|fast|heavy|deep|wide)\b|\bwhat (?:percentage|percent|proportion|fraction|number|amount)\b/u.test(lower)) return 'number'
  if (/\bwhen\b|\b(?:what|which) (?:year|century|decade|date|day|month|period|era)\b/u.test(lower)) return 'time'
  if (/\b(?:who|whom|whose|where)\b|\b(?:what|which) (?:person|country|city|state|region|place|continent|town|river|company|organi[sz]ation)\b/u.test(lower)) return 'name'
  // "Which forger", "which village", "which tributary": mostly asks for something named.
  if (/\bwhich [a-z]/u.test(lower)) return 'name'
  return undefined
}

// --- Scoring -----------------------------------------------------------------------------------------------------------

/**
 * Sets a candidate's relevance and score.
 *
 * Relevance (0–1) = (BM25 + heading + proximity + bigrams) / ideal, capped at 1, where
 * BM25 sums each matched question term's weight with the usual tf saturation and length
 * normalisation over the candidates; heading adds HEADING_WEIGHT × the weight of
 * question terms only the heading above the sentence holds; proximity adds PROXIMITY_WEIGHT × the matched
 * weight × how densely the matched terms sit (distinct matches / the shortest window of
 * words holding them all); bigrams add BIGRAM_WEIGHT × the lesser weight of each pair
 * of consecutive question terms found consecutive in the sentence (stopwords skipped);
 * and ideal is what a sentence holding the whole question would score.
 *
 * Factor = answerability (a sentence with nothing but the question's own words
 * answers nothing) × the answer-type bonus × the section-lead bonus × the heading
 * penalty × (1 + PRIOR_WEIGHT × the chunk's retrieval prior); score = relevance ×
 * factor, until scoreInContext adds the neighbours' relevance and the chunk's score.
 */
function scoreSentence (candidate: Candidate, model: QuestionModel, prior: number): void {
  const frequencies = new Map<string, number>()
  for (const key of candidate.contentKeys) frequencies.set(key, (frequencies.get(key) ?? 0) + 1)
  const lengthRatio = candidate.contentKeys.length / model.averageLength
  let matchedWeight = 0
  let evidence = 0
  let bm25 = 0
  let fromHeading = 0
  for (const [key, weight] of model.weights) {
    const frequency = frequencies.get(key) ?? 0
    if (frequency === 0) {
      if (candidate.headingKeys.has(key)) {
        fromHeading += weight
        evidence += HEADING_WEIGHT * (model.evidenceWeights.get(key) ?? 0)
      }
      continue
    }
    candidate.matched.add(key)
    matchedWeight += weight
    evidence += model.evidenceWeights.get(key) ?? 0
    bm25 += weight * frequency * (K1 + 1) / (frequency + K1 * (1 - B + B * lengthRatio))
  }
  const none = candidate.matched.size === 0 && fromHeading === 0
  candidate.evidence = (candidate.heading ? HEADING_WEIGHT : 1) * evidence / model.totalEvidence
  const proximity = candidate.matched.size > 1 ? PROXIMITY_WEIGHT * matchedWeight * density(candidate.terms, candidate.matched) : 0
  let bigrams = 0
  for (let index = 1; index < candidate.contentKeys.length; index++) {
    bigrams += model.bigrams.get(`${candidate.contentKeys[index - 1] as string} ${candidate.contentKeys[index] as string}`) ?? 0
  }
  candidate.relevance = none ? 0 : Math.min(1, (bm25 + HEADING_WEIGHT * fromHeading + proximity + BIGRAM_WEIGHT * bigrams) / model.ideal)
  const novel = new Set(candidate.contentKeys.filter((key) => !model.weights.has(key))).size
  const answerability = novel === 0 ? 0.1 : Math.min(1, 0.25 + 0.25 * novel)
  const typed = model.answerType !== undefined && holdsAnswerType(candidate.terms, model) ? 1 + ANSWER_TYPE_BONUS : 1
  const lead = candidate.leadsSection && fromHeading > 0 ? 1 + SECTION_LEAD_BONUS : 1
  const heading = candidate.heading ? HEADING_PENALTY : 1
  candidate.factor = answerability * typed * lead * heading * (1 + PRIOR_WEIGHT * prior)
  candidate.score = candidate.relevance * candidate.factor
}

/**
 * Ranks each sentence in its context, setting its final score: (its relevance +
 * NEIGHBOUR_WEIGHT × the better relevance of the sentences just before and after it in
 * its chunk) × its own factor (see scoreSentence) × (its chunk's retrieval score / the
 * best chunk's)^RETRIEVAL_EXPONENT × its chunk's coverage of the question
 * (chunkCoverage)^COVERAGE_EXPONENT.
 *
 * A question names its subject and paraphrases the fact it asks about; in an article the
 * two are often in neighbouring sentences ("The Monument ... was built to commemorate the
 * fire. It stands 202 feet tall."), so a sentence next to a strong match may hold the
 * answer though it shares few of the question's words. And a sentence's own words are
 * weak evidence that its paragraph is the one asked about: a single shared rare word in
 * another paragraph outscored the paragraph retrieval ranked first, whose score reflects
 * the whole paragraph and the collection's word statistics, as does how much of the
 * question the whole paragraph holds.
 */
function scoreInContext (candidates: Candidate[], chunks: RetrievedChunk[], model: QuestionModel): void {
  const best = Math.max(...chunks.map((chunk) => chunk.score).filter(Number.isFinite))
  const retrieval = chunks.map((chunk) => Number.isFinite(chunk.score) && best > 0 ? Math.max(0, chunk.score) / best : 1)
  const coverage = chunkCoverage(candidates, chunks.length, model)
  const byPosition = new Map<string, Candidate>()
  for (const candidate of candidates) byPosition.set(`${candidate.rank}:${candidate.index}`, candidate)
  const scores = candidates.map((candidate) => {
    const neighbours = [byPosition.get(`${candidate.rank}:${candidate.index - 1}`), byPosition.get(`${candidate.rank}:${candidate.index + 1}`)]
    const context = Math.max(0, ...neighbours.map((neighbour) => neighbour?.relevance ?? 0))
    const relevance = candidate.relevance + NEIGHBOUR_WEIGHT * context
    return relevance * candidate.factor *
      Math.pow(retrieval[candidate.rank] ?? 1, RETRIEVAL_EXPONENT) * Math.pow(coverage[candidate.rank] ?? 1, COVERAGE_EXPONENT)
  })
  candidates.forEach((candidate, index) => { candidate.score = scores[index] as number })
}

/**
 * The share of the question each chunk holds anywhere in its sentences or headings,
 * each question word weighing how telling it is in English at large (a name twice a
 * word, an everyday word a third), not its IDF over the candidates: the article's
 * subject ("Gutenberg") is in most candidates, so of little weight there, yet a
 * paragraph without it is rarely the one asked about.
 */
function chunkCoverage (candidates: Candidate[], chunkCount: number, model: QuestionModel): number[] {
  const held: Array<Set<string>> = Array.from({ length: chunkCount }, () => new Set<string>())
  for (const candidate of candidates) {
    for (const key of [...candidate.contentKeys, ...candidate.headingKeys]) if (model.telling.has(key)) held[candidate.rank]?.add(key)
  }
  const total = sum(model.telling.values())
  return held.map((keys) => total > 0 ? sum([...keys].map((key) => model.telling.get(key) ?? 0)) / total : 1)
}

/** Distinct matched keys divided by the length (in words) of the shortest window holding them all. */
function density (terms: Term[], matched: Set<string>): number {
  const counts = new Map<string, number>()
  let covered = 0
  let best = Number.POSITIVE_INFINITY
  let left = 0
  for (let right = 0; right < terms.length; right++) {
    const key = (terms[right] as Term).key
    if (!matched.has(key) || (terms[right] as Term).stopword) continue
    const count = counts.get(key) ?? 0
    counts.set(key, count + 1)
    if (count === 0) covered++
    while (covered === matched.size) {
      best = Math.min(best, right - left + 1)
      const leftTerm = terms[left] as Term
      left++
      if (leftTerm.stopword || !matched.has(leftTerm.key)) continue
      const leftCount = (counts.get(leftTerm.key) ?? 0) - 1
      counts.set(leftTerm.key, leftCount)
      if (leftCount === 0) covered--
    }
  }
  return Number.isFinite(best) ? matched.size / best : 0
}

const NUMBER_WORDS = new Set(['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety', 'hundred', 'thousand', 'million', 'billion',
  'dozen', 'half', 'percent', 'several', 'few'].map(canonicalKey))
const TIME_WORDS = new Set(['january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october',
  'november', 'december', 'century', 'centuries', 'decade', 'spring', 'summer', 'autumn', 'winter', 'today', 'yesterday'].map(canonicalKey))

/** Whether the sentence holds, beyond the question's own words, something of the kind the question asks for. */
function holdsAnswerType (terms: Term[], model: QuestionModel): boolean {
  return terms.some((term, position) => {
    if (model.weights.has(term.key)) return false
    switch (model.answerType) {
      case 'number': return /^\p{N}/u.test(term.key) || NUMBER_WORDS.has(term.key)
      case 'time': return (term.numeric && /^\p{N}{3,4}$/u.test(term.key)) || TIME_WORDS.has(term.key)
      case 'name': return term.capitalised && !term.stopword && position > 0
      default: return false
    }
  })
}

// --- Choosing and citing -----------------------------------------------------------------------------------------------

function byScore (a: Candidate, b: Candidate): number {
  return b.score - a.score || a.rank - b.rank || a.start - b.start
}

/**
 * The best sentence, and up to `maxSentences - 1` more: near ties from anywhere, and
 * sentences near a chosen one in its chunk that add question terms it lacks.
 */
function chooseSentences (best: Candidate, eligible: Candidate[], model: QuestionModel, maxSentences: number): Candidate[] {
  const chosen = [best]
  const covered = new Set(best.matched)
  for (const candidate of eligible.slice(1)) {
    if (chosen.length >= maxSentences) break
    if (chosen.some((other) => other.sentence.text === candidate.sentence.text)) continue
    const nearTie = candidate.rank !== best.rank && candidate.score >= NEAR_TIE_RATIO * best.score
    const added = sum([...candidate.matched].filter((key) => !covered.has(key)).map((key) => model.weights.get(key) ?? 0))
    const companion = candidate.score >= COMPANION_RATIO * best.score &&
      added >= COMPANION_NEW_WEIGHT * model.totalWeight &&
      chosen.some((other) => other.rank === candidate.rank && Math.abs(other.index - candidate.index) <= COMPANION_DISTANCE)
    if (!nearTie && !companion) continue
    chosen.push(candidate)
    for (const key of candidate.matched) covered.add(key)
  }
  return chosen
}

/** Chosen sentences in reading order: documents in the order their best sentence was chosen, each in document order. */
function orderForReading (chosen: Candidate[]): Candidate[] {
  const documentOrder = new Map<string, number>()
  for (const candidate of chosen) {
    if (!documentOrder.has(candidate.chunk.documentId)) documentOrder.set(candidate.chunk.documentId, documentOrder.size)
  }
  return [...chosen].sort((a, b) =>
    (documentOrder.get(a.chunk.documentId) as number) - (documentOrder.get(b.chunk.documentId) as number) || a.start - b.start)
}

/** One citation per chunk quoted, best first, its text the chunk trimmed to the quoted sentences and one sentence either side. */
function cite (chosen: Candidate[], sentencesByChunk: Sentence[][]): Citation[] {
  const byChunk = new Map<number, Candidate[]>()
  for (const candidate of chosen) {
    const list = byChunk.get(candidate.rank)
    if (list === undefined) byChunk.set(candidate.rank, [candidate])
    else list.push(candidate)
  }
  const citations: Array<{ citation: Citation, rankScore: number, rank: number }> = []
  for (const [rank, used] of byChunk) {
    const chunk = (used[0] as Candidate).chunk
    const sentences = sentencesByChunk[rank] as Sentence[]
    const first = Math.max(0, Math.min(...used.map((candidate) => candidate.index)) - 1)
    const last = Math.min(sentences.length - 1, Math.max(...used.map((candidate) => candidate.index)) + 1)
    let from = (sentences[first] as Sentence).start
    let to = (sentences[last] as Sentence).end
    // Nothing but a list or heading marker ("## ", "- ") left out is not a cut: keep it.
    if (!/[\p{L}\p{N}]/u.test(chunk.text.slice(0, from))) from = 0
    if (!/[\p{L}\p{N}]/u.test(chunk.text.slice(to))) to = chunk.text.length
    const cutBefore = from > 0
    const cutAfter = to < chunk.text.length
    const rankScore = Math.max(...used.map((candidate) => candidate.score))
    citations.push({
      rank,
      rankScore,
      citation: {
        text: `${cutBefore ? '...' : ''}${chunk.text.slice(from, to)}${cutAfter ? '...' : ''}`,
        source: chunk.source,
        score: Math.min(1, rankScore / (1 + PRIOR_WEIGHT)),
        documentId: chunk.documentId,
        chunkIndex: chunk.chunkIndex,
        metadata: chunk.metadata,
        start: chunk.start + from,
        end: chunk.start + to
      }
    })
  }
  return citations.sort((a, b) => b.rankScore - a.rankScore || a.rank - b.rank).map((entry) => entry.citation)
}

function sum (values: Iterable<number>): number {
  let total = 0
  for (const value of values) total += value
  return total
}
