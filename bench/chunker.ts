// Benchmark: MB/s of chunkText on a generated multi-megabyte document, against the tokenizer's raw encode on the same text.
import { encode } from 'gpt-tokenizer/encoding/o200k_base'
import { chunkText } from '../src/ingest/chunker.js'
import { seededRandom } from '../test/helpers/seeded-random.js'

const MEGABYTES = readNumber('BENCH_MEGABYTES', 5)
const ROUNDS = readNumber('BENCH_ROUNDS', 3)
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
