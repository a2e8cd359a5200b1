// Benchmark: MB/s of chunkText on a generated multi-megabyte document, against the tokenizer's raw encode on the same text, then on whitespace-free text of growing size.
//
// Whitespace-free random letters, 512/64, on the 2-core machine while other work ran (load 2–4): 1 MB 2.4 s, 10 MB
// 30.6 s, 100 MB 559 s (2.4, 3.1 and 5.6 s per MB; the work the chunker counts per character is the same at every
// size, and why the time per MB still rose -- the load, or collecting a heap of a few GB -- was not pinned down).
// Before the bounded scans the same text took 2.0 s for 0.25 MB, 5.6 s for 0.5 MB and 18.4 s for 1 MB (quadratic).
// Prose in the same run: 3.1–3.7 MB/s; old and new code side by side on prose are within 8 % of each other.
import { encode } from 'gpt-tokenizer/encoding/o200k_base'
import { chunkText } from '../src/ingest/chunker.js'
import { seededRandom } from '../test/helpers/seeded-random.js'

const MEGABYTES = readNumber('BENCH_MEGABYTES', 5)
const ROUNDS = readNumber('BENCH_ROUNDS', 3)
// Sizes in MB of the whitespace-free texts, timed once each (100 MB takes minutes); BENCH_WHITESPACE_FREE_MB=1,10 for a quick run.
const WHITESPACE_FREE_MEGABYTES = (process.env.BENCH_WHITESPACE_FREE_MB ?? '1,10,100').split(',').map((size) => {
  const value = Number(size)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`BENCH_WHITESPACE_FREE_MB must be positive numbers separated by commas, got "${size}"`)
  return value
})
const SETTINGS = [
  { chunkSize: 512, chunkOverlap: 64 },
  { chunkSize: 128, chunkOverlap: 0 },
  { chunkSize: 4096, chunkOverlap: 512 }
]

function readNumber (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

const random = seededRandom

/**
 * Prose-like text: 30,000 made-up words drawn with a Zipf-like skew (so the BPE merge
 * cache sees what it would in real documents: frequent words hit, rare ones miss),
 * sentences of 5–30 words, paragraphs of 2–8 sentences, and some numbers, accents, CJK and emoji.
 */
function generateDocument (characters: number): string {
  const next = random(42)
  const syllables = ['ka', 'lo', 're', 'mi', 'tan', 'por', 'sel', 'vi', 'du', 'en', 'ath', 'qu', 'is', 'ro', 'nel', 'fa', 'gor', 'ti', 'ple', 'ax', 'zé', 'ør']
  const vocabulary = Array.from({ length: 30_000 }, () => {
    const length = 1 + Math.floor(next() * 4)
    let word = ''
    for (let index = 0; index < length; index++) word += syllables[Math.floor(next() * syllables.length)] as string
    return word
  })
  const extras = ['2024', '3.5%', '§ 12', '東京都の規則', 'naïve', '🙂', '(see annex B)', '—', 'U.S.', '€1,200']
  const parts: string[] = []
  let size = 0
  while (size < characters) {
    const sentences = 2 + Math.floor(next() * 7)
    const paragraph: string[] = []
    for (let sentence = 0; sentence < sentences; sentence++) {
      const words: string[] = []
      const count = 5 + Math.floor(next() * 26)
      for (let index = 0; index < count; index++) {
        words.push(next() < 0.03
          ? extras[Math.floor(next() * extras.length)] as string
          : vocabulary[Math.floor(vocabulary.length * next() ** 3)] as string)
      }
      const text = words.join(next() < 0.1 ? ', ' : ' ')
      paragraph.push(text.charAt(0).toUpperCase() + text.slice(1) + (next() < 0.9 ? '.' : '?'))
    }
    const text = paragraph.join(' ')
    parts.push(text)
    size += text.length + 2
  }
  return parts.join('\n\n')
}

function megabytesPerSecond (bytes: number, milliseconds: number): string {
  return (bytes / 1e6 / (milliseconds / 1000)).toFixed(2)
}

/** The best of ROUNDS timings: the least disturbed by the machine's other work. */
function best (run: () => void): number {
  let fastest = Infinity
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now()
    run()
    fastest = Math.min(fastest, performance.now() - started)
  }
  return fastest
}

const text = generateDocument(MEGABYTES * 1e6)
const bytes = Buffer.byteLength(text)
console.log(`document: ${(bytes / 1e6).toFixed(2)} MB UTF-8, ${text.length} characters, ${encode(text).length} o200k tokens; best of ${ROUNDS} rounds`)

const encodeMs = best(() => { encode(text) })
console.log(`tokenizer encode (baseline)          ${megabytesPerSecond(bytes, encodeMs).padStart(7)} MB/s  ${encodeMs.toFixed(0)} ms`)
for (const options of SETTINGS) {
  let chunks = 0
  const chunkMs = best(() => { chunks = chunkText(text, options).length })
  const label = `chunkText size ${options.chunkSize} overlap ${options.chunkOverlap}`
  console.log(`${label.padEnd(36)} ${megabytesPerSecond(bytes, chunkMs).padStart(7)} MB/s  ${chunkMs.toFixed(0)} ms  ${chunks} chunks  (${(encodeMs / chunkMs * 100).toFixed(0)}% of encode speed)`)
}

/** Random lowercase letters: no whitespace, so every chunk is cut inside a word and every count re-tokenizes its whole passage. */
function whitespaceFree (characters: number): string {
  const next = random(7)
  const blocks: string[] = []
  for (let done = 0; done < characters; done += 1e6) {
    const codes = new Uint8Array(Math.min(1e6, characters - done))
    for (let index = 0; index < codes.length; index++) codes[index] = 97 + Math.floor(next() * 26)
    blocks.push(Buffer.from(codes).toString('latin1'))
  }
  return blocks.join('')
}

const WHITESPACE_FREE_OPTIONS = { chunkSize: 512, chunkOverlap: 64 }
let firstMsPerMegabyte: number | undefined
for (const megabytes of WHITESPACE_FREE_MEGABYTES) {
  const letters = whitespaceFree(megabytes * 1e6)
  const started = performance.now()
  const chunks = chunkText(letters, WHITESPACE_FREE_OPTIONS).length
  const elapsed = performance.now() - started
  const msPerMegabyte = elapsed / megabytes
  firstMsPerMegabyte ??= msPerMegabyte
  const label = `whitespace-free ${megabytes} MB, 512/64`
  console.log(`${label.padEnd(36)} ${megabytesPerSecond(megabytes * 1e6, elapsed).padStart(7)} MB/s  ${(elapsed / 1000).toFixed(1)} s  ${chunks} chunks  (${(msPerMegabyte / firstMsPerMegabyte).toFixed(2)}× the time per MB of the first size)`)
}
