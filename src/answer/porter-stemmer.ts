// The Porter (1980) stemmer, so that "founded", "founding" and "founds" match each other when questions are scored against sentences.

/**
 * The stem of a lower-case English word, by M. F. Porter's algorithm ("An algorithm
 * for suffix stripping", 1980) with its two published revisions ("bli" → "ble",
 * "logi" → "log"). Words of one or two letters, and words with anything but a–z,
 * are returned unchanged.
 */
export function stem (word: string): string {
  if (word.length <= 2 || !/^[a-z]+$/.test(word)) return word
  let w = step1a(word)
  w = step1b(w)
  w = step1c(w)
  w = replaceSuffix(w, STEP2, 0)
  w = replaceSuffix(w, STEP3, 0)
  w = step4(w)
  w = step5(w)
  return w
}

function isConsonant (word: string, index: number): boolean {
  const letter = word.charAt(index)
  if (letter === 'a' || letter === 'e' || letter === 'i' || letter === 'o' || letter === 'u') return false
  if (letter === 'y') return index === 0 || !isConsonant(word, index - 1)
  return true
}

/** Porter's m: the number of vowel-consonant sequences in `stem` ([C](VC)^m[V]). */
function measure (stem: string): number {
  let count = 0
  let index = 0
  while (index < stem.length && isConsonant(stem, index)) index++
  while (index < stem.length) {
    while (index < stem.length && !isConsonant(stem, index)) index++
    if (index >= stem.length) break
    while (index < stem.length && isConsonant(stem, index)) index++
    count++
  }
  return count
}

function hasVowel (stem: string): boolean {
  for (let index = 0; index < stem.length; index++) if (!isConsonant(stem, index)) return true
  return false
}

/** Ends in a double consonant (*d). */
function endsInDoubleConsonant (stem: string): boolean {
  const length = stem.length
  return length >= 2 && stem.charAt(length - 1) === stem.charAt(length - 2) && isConsonant(stem, length - 1)
}

/** Ends consonant-vowel-consonant, the last not w, x or y (*o). */
function endsCvc (stem: string): boolean {
  const length = stem.length
  if (length < 3) return false
  const last = stem.charAt(length - 1)
  return isConsonant(stem, length - 3) && !isConsonant(stem, length - 2) && isConsonant(stem, length - 1) &&
    last !== 'w' && last !== 'x' && last !== 'y'
}

function step1a (word: string): string {
  if (word.endsWith('sses')) return word.slice(0, -2)
  if (word.endsWith('ies')) return word.slice(0, -2)
  if (word.endsWith('ss')) return word
  if (word.endsWith('s')) return word.slice(0, -1)
  return word
}

function step1b (word: string): string {
  if (word.endsWith('eed')) {
    const base = word.slice(0, -3)
    return measure(base) > 0 ? `${base}ee` : word
  }
  let base: string | undefined
  if (word.endsWith('ed') && hasVowel(word.slice(0, -2))) base = word.slice(0, -2)
  else if (word.endsWith('ing') && hasVowel(word.slice(0, -3))) base = word.slice(0, -3)
  if (base === undefined) return word
  if (base.endsWith('at') || base.endsWith('bl') || base.endsWith('iz')) return `${base}e`
  if (endsInDoubleConsonant(base) && !/[lsz]$/.test(base)) return base.slice(0, -1)
  if (measure(base) === 1 && endsCvc(base)) return `${base}e`
  return base
}

function step1c (word: string): string {
  return word.endsWith('y') && hasVowel(word.slice(0, -1)) ? `${word.slice(0, -1)}i` : word
}

const STEP2: Array<[string, string]> = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'], ['ator', 'ate'],
  ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'], ['iviti', 'ive'],
  ['biliti', 'ble'], ['logi', 'log']
]

const STEP3: Array<[string, string]> = [
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', '']
]

/** Replaces the longest listed suffix if the stem before it has m > `minimumMeasure`. */
function replaceSuffix (word: string, rules: Array<[string, string]>, minimumMeasure: number): string {
  let best: [string, string] | undefined
  for (const rule of rules) {
    if (word.endsWith(rule[0]) && (best === undefined || rule[0].length > best[0].length)) best = rule
  }
  if (best === undefined) return word
  const base = word.slice(0, -best[0].length)
  return measure(base) > minimumMeasure ? base + best[1] : word
}

const STEP4 = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou', 'ism', 'ate',
  'iti', 'ous', 'ive', 'ize']

function step4 (word: string): string {
  let suffix: string | undefined
  for (const candidate of STEP4) {
    if (word.endsWith(candidate) && (suffix === undefined || candidate.length > suffix.length)) suffix = candidate
  }
  if (suffix === undefined) return word
  const base = word.slice(0, -suffix.length)
  if (measure(base) <= 1) return word
  if (suffix === 'ion' && !/[st]$/.test(base)) return word
  return base
}

function step5 (word: string): string {
  let w = word
  if (w.endsWith('e')) {
    const base = w.slice(0, -1)
    const m = measure(base)
    if (m > 1 || (m === 1 && !endsCvc(base))) w = base
  }
  if (measure(w) > 1 && w.endsWith('ll')) w = w.slice(0, -1)
  return w
}
