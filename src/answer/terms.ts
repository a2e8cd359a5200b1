// Turns questions and sentences into comparable terms: lower-cased, accent-free, stemmed words (English; Arabic lightly), with stopwords marked.
import { stem } from './porter-stemmer.js'

/** One word of a text, in order. Shared between texts (see knownWords), so never changed. */
export interface Term {
  /** The matching key: lower-cased, without accents, stemmed (Porter; Arabic light stemming for Arabic script), or one CJK character. */
  readonly key: string
  /** A function word (or wh-word) that carries no topic: it neither needs to match nor counts as content. */
  readonly stopword: boolean
  /** Written with a capital first letter: a name, in the middle of a sentence. */
  readonly capitalised: boolean
  /** Has a digit: a number, year or amount. */
  readonly numeric: boolean
}

// Numbers keep their inner separators ("3.5", "1,000"); Han, kana and Thai have no spaces, so each character is a term
// (consecutive ones also match as the question's bigrams, see extractive.ts). A word keeps its combining marks: Arabic
// vowel signs ("تُصرف") and decomposed accents would otherwise cut it in two.
const WORD = /\p{N}+(?:[.,:]\p{N}+)*|[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]|[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu

/** The terms of `text`. */
export function analyse (text: string): Term[] {
  const terms: Term[] = []
  for (const match of text.matchAll(WORD)) {
    const raw = match[0]
    let word = knownWords.get(raw)
    if (word === undefined) {
      word = readWord(raw)
      if (knownWords.size >= KNOWN_WORDS_LIMIT) knownWords.clear()
      knownWords.set(raw, word)
    }
    if (word !== null) terms.push(word)
  }
  return terms
}

// Words recur across the sentences of one answer and across questions; stemming each anew was most of the cost.
const knownWords = new Map<string, Term | null>()
const KNOWN_WORDS_LIMIT = 50_000

function readWord (raw: string): Term | null {
  const plain = withoutAccents(raw).toLowerCase()
  if (plain === '') return null
  const numeric = /\p{N}/u.test(plain)
  const capitalised = /^\p{Lu}/u.test(raw)
  if (!numeric && ARABIC_LETTER.test(plain)) {
    const normal = normaliseArabic(plain)
    return { key: stemArabic(normal), stopword: ARABIC_STOPWORDS.has(normal), capitalised, numeric }
  }
  const key = numeric ? plain.replace(/(?<=\p{N}),(?=\p{N})/gu, '') : canonicalKey(plain)
  const stopword = STOPWORDS.has(plain) || GERMAN_STOPWORDS.has(plain) || (!numeric && /^[a-z]$/.test(plain)) || CJK_PARTICLES.has(plain)
  return { key, stopword, capitalised, numeric }
}

/**
 * Without combining marks (é → e, ü → u, Arabic vowel signs), and ß as ss. The kana
 * voicing marks stay: で and て, ば and は are different sounds, not accents.
 */
function withoutAccents (word: string): string {
  return word.normalize('NFD').replace(/(?![\u3099\u309a])\p{M}/gu, '').normalize('NFC').replace(/ß/gu, 'ss')
}

/** The matching key of a lower-case word: its stem, or its group's for an irregular form or close synonym. */
export function canonicalKey (word: string): string {
  const known = VARIANTS.get(word)
  if (known !== undefined) return known
  // Porter leaves most adverbs alone ("mainly" → "mainli"); the question often says "main".
  if (word.length >= 6 && word.endsWith('ly') && !/[lp]ly$/.test(word) && !NOT_ADVERBS.has(word)) return canonicalKey(word.slice(0, -2))
  // British -ise spellings ("popularised", "organisation") share the key of the -ize ones, which Porter knows.
  if (BRITISH_ISE.test(word)) return canonicalKey(word.replace(BRITISH_ISE, '$1iz$2'))
  const stemmed = stem(word)
  return VARIANTS.get(stemmed) ?? stemmed
}

// Only after a root of four letters or more not ending in v, or six ending in c: "revise", "precise" and "exercise"
// keep the key of "revision" and "precision", which never had a z, while "criticised" meets "criticized".
const BRITISH_ISE = /^([a-z]{3,}[a-bd-uw-z]|[a-z]{5,}c)is(e|ed|es|ing|ation|ations|er|ers)$/

const NOT_ADVERBS = new Set(['family', 'assembly', 'anomaly', 'monopoly', 'butterfly', 'dragonfly', 'firefly', 'ally', 'rely',
  'italy', 'daily', 'weekly', 'monthly', 'yearly', 'hourly', 'nightly', 'quarterly'])

/** Whether a term is a very common English content word, which says little about what a question asks. */
export function isCommonWord (key: string): boolean {
  return COMMON_KEYS.has(key)
}

// Function words, auxiliaries and wh-words: the question's "when" or "who" never needs to match the answer.
const STOPWORDS = new Set(`
a about above across after again against all almost along already also although always am among an and another any
anybody anyone anything anyway anywhere are aren around as at be became because been before being below beside besides
between beyond both but by can cannot could couldn did didn do does doesn doing don done down during each either else
enough etc even ever every everybody everyone everything except few for from further furthermore had hadn has hasn have
haven having he hence her here hers herself him himself his how however i if in indeed instead into is isn it its itself
just least less let like ll many may maybe me meanwhile might mine more moreover most mostly much must mustn my myself
namely neither never nevertheless no nobody none nor not nothing now of off often on once one ones only onto or other
others otherwise ought our ours ourselves out over own per perhaps rather re s same shall shan she should shouldn since so
some somebody someone something sometimes somewhat such t than that the their theirs them themselves then thence there
thereby therefore these they this those though through throughout thus to together too toward towards under unless until
up upon us ve very via was wasn we were weren what whatever when whenever where whereas whereby wherever whether which
whichever while who whoever whom whose why will with within without would wouldn yet you your yours yourself
yourselves d m o y
`.trim().split(/\s+/))

const CJK_PARTICLES = new Set([...'のはをにがでともたてしいるなかへや的了是在和有我他她它们这那个也就都而及与或之'])

// Questions paraphrase: "When did the fire start?" is answered by "The fire began...". Stemming cannot join irregular
// forms or synonyms, so these groups share one key (the first word's stem). Kept to pairs that rarely mislead.
const VARIANT_GROUPS = `
start begin began begun beginning commence commenced
end ended conclude concluded
finish finished complete completed completion
die died dies death dead dying deceased
born birth
build built construct constructed construction erect erected
write wrote written
win won
make made
buy bought purchase purchased
sell sold
give gave given
take took taken
lead led
grow grew grown
know knew known
go went gone
say said
tell told
think thought
bring brought
teach taught
fight fought
hold held
run ran
see saw seen
speak spoke spoken
choose chose chosen
fall fell fallen
rise rose risen
draw drew drawn
strike struck
stand stood
meet met
lose lost
pay paid
keep kept
send sent
spend spent
feel felt
mean meant
hear heard
sit sat
fly flew flown
drive drove driven
eat ate eaten
sink sank sunk
wear wore worn
break broke broken
steal stole stolen
freeze froze frozen
name named call called
large larger largest big bigger biggest
small smaller smallest little
long longer longest
old older oldest elder eldest
high higher highest tall taller tallest
low lower lowest
great greater greatest
early earlier earliest
late later latest
2 two
3 three
4 four
5 five
6 six
7 seven
8 eight
9 nine
10 ten
11 eleven
12 twelve
`.trim().split('\n').map((line) => line.trim().split(/\s+/))
const VARIANTS = new Map<string, string>()
for (const [first, ...others] of VARIANT_GROUPS) {
  const key = stem(first as string)
  for (const word of others) {
    VARIANTS.set(word, key)
    VARIANTS.set(stem(word), key)
  }
}

// The most frequent English content words (nouns, verbs and adjectives of everyday prose). IDF over a handful of
// candidate sentences cannot tell that "time" is common and "escrow" is rare; this list can, and a question that
// shares only such a word with the documents is not answered by them.
const COMMON_WORDS = `
able across act actual actually add age ago agree allow answer appear area ask away back bad base become begin best
better big bit body book call called came case cause certain change child children city clear close come common
company consider continue country course current day days different do end example fact far feel find first follow
form general get give given go going good got great group hand happen hard have head hear help high hold home
idea important include included including information interest keep kind know known large last late later lead leave
level life line little live long look lot low made main make man matter mean means member men might mind moment
month months name named need new next night number offer old open order part people person place plan play point
possible problem provide public put question quite reach read real really reason result right run said say says see
seem seen set several show side small sometimes sort start state still stop story sure take taken tell term thing
things think thought time times today told took true try turn type under understand until use used uses
using usually want way week weeks well went whole within word work world year years yes young
monday tuesday wednesday thursday friday saturday sunday january february march april june july august september
october november december
`.trim().split(/\s+/)
const COMMON_KEYS = new Set(COMMON_WORDS.filter((word) => !STOPWORDS.has(word)).map(canonicalKey))

// --- German ------------------------------------------------------------------------------------------------------------

// German function words and question words, accent-free, that are no English word a question may need; those that
// are ("die", "man", "von", "Uber") are function words only in a German question (GERMAN_AMBIGUOUS, germanQuestion).
const GERMAN_STOPWORDS = new Set(`
aber alle allem allen aller alles andere anderen auch auf aus bei beim bist dabei dadurch dafur dagegen damit dann daran
darauf darf darin darum das dass dein deine denn der derer deshalb dessen dich dir doch dort durch durfen ein eine einem
einen einer eines etwa euch gegen gewesen gibt habe haben hast hatte hatten hier ich ihm ihn ihnen ihr ihre ihrem ihren
ihrer im ins ist jede jedem jeden jeder jedes jetzt kann kein keine keinem keinen keiner konnen konnte mein meine mich
muss mussen nach nicht nichts noch nur oder ohne sehr sein sich sie sind soll sollen sollte sonst und uns unser unsere
unter viel viele vom vor wann waren warum weil welche welchem welchen welcher welches wenn wer werden wie wieder wieviel
wieviele wird wir wo woher wohin womit wurde wurden zu zum zur zwischen
`.trim().split(/\s+/))

// Function words of a German question that are English words too, as keys.
const GERMAN_AMBIGUOUS = new Set(`
die den des dem war hat man bin pro als fur uber von mit da du er es ob um ja bis mir nun gab seine seinem seinen seiner
`.trim().split(/\s+/).map((word) => canonicalKey(word)))
// Compared as words, not keys: "alle" and "all" share a stem.
const GERMAN_MARKERS = new Set([...GERMAN_STOPWORDS].filter((word) => !STOPWORDS.has(word)))

/**
 * A German question's terms, matched to the forms the candidate sentences use. Its
 * ambiguous function words (GERMAN_AMBIGUOUS) become stopwords, and a content word that
 * no candidate holds takes the key of the candidate word closest to it in length that
 * is its inflection or compound part or of which it is one: "Woche" meets "Wochen" and
 * "Wochenarbeitszeit", "Urlaubstage" meets "Urlaub", "Jahr" meets "Kalenderjahr" (German
 * writes compounds as one word, and the English stemmer knows no German endings). Other
 * questions come back unchanged: English ones must not meet "cartoon" for "cart".
 */
export function germanQuestion (question: string, terms: Term[], candidateKeys: ReadonlySet<string>): Term[] {
  if (!(question.match(/\p{L}+/gu) ?? []).some((word) => GERMAN_MARKERS.has(withoutAccents(word).toLowerCase()))) return terms
  const questionKeys = new Set(terms.map((term) => term.key))
  return terms.map((term) => {
    if (term.stopword) return term
    if (GERMAN_AMBIGUOUS.has(term.key)) return { ...term, stopword: true }
    if (term.numeric || candidateKeys.has(term.key)) return term
    const form = closestForm(term.key, candidateKeys, questionKeys)
    return form === undefined ? term : { ...term, key: form }
  })
}

// The shorter of two related keys: "tag" and "jahr" are words in their own right, "ab" and "zu" are not.
const MIN_PART_LENGTH = 4

/** The key of `candidates` (not a question key) closest in length to `key` that begins or ends with it, or with which it does. */
function closestForm (key: string, candidates: ReadonlySet<string>, questionKeys: ReadonlySet<string>): string | undefined {
  let best: string | undefined
  for (const candidate of candidates) {
    if (questionKeys.has(candidate) || /\p{N}/u.test(candidate)) continue
    const [shorter, longer] = candidate.length < key.length ? [candidate, key] : [key, candidate]
    if (shorter.length < MIN_PART_LENGTH || !(longer.startsWith(shorter) || longer.endsWith(shorter))) continue
    if (best === undefined || Math.abs(candidate.length - key.length) < Math.abs(best.length - key.length) ||
      (Math.abs(candidate.length - key.length) === Math.abs(best.length - key.length) && candidate < best)) best = candidate
  }
  return best
}

// --- Arabic --------------------------------------------------------------------------------------------------------------

const ARABIC_LETTER = /\p{Script=Arabic}/u

/**
 * One spelling for the letters Arabic writes several ways: without tatweel, ى as ي, ة as ه
 * (hamza and madda on alef are already gone with the marks: أ إ آ → ا).
 */
function normaliseArabic (word: string): string {
  return word.replace(/\u0640/gu, '').replace(/\u0649/gu, '\u064a').replace(/\u0629/gu, '\u0647').replace(/\u0671/gu, '\u0627')
}

// Larkey, Ballesteros and Connell's "light10" (2002): Arabic writes "and", "the", "with the", "for the" and
// pronouns as part of the word, so "الإجازة", "إجازة" and "للموظف", "موظف" would never meet. Affixes in normalised form.
const ARABIC_PREFIXES = ['وال', 'بال', 'كال', 'فال', 'لل', 'ال']
const ARABIC_SUFFIXES = ['ها', 'ان', 'ات', 'ون', 'ين', 'يه', 'ه', 'ي']

/** The light10 stem of a normalised Arabic word: a leading و, then one article prefix, then each suffix in turn, while two letters remain. */
function stemArabic (word: string): string {
  let stemmed = word.length > 3 && word.startsWith('و') ? word.slice(1) : word
  const prefix = ARABIC_PREFIXES.find((candidate) => stemmed.startsWith(candidate) && stemmed.length - candidate.length >= 2)
  if (prefix !== undefined) stemmed = stemmed.slice(prefix.length)
  for (const suffix of ARABIC_SUFFIXES) {
    if (stemmed.endsWith(suffix) && stemmed.length - suffix.length >= 2) stemmed = stemmed.slice(0, -suffix.length)
  }
  return stemmed
}

// Prepositions, pronouns, particles and question words, normalised as words are.
const ARABIC_STOPWORDS = new Set(`
في من على إلى عن مع هذا هذه ذلك تلك هناك هنا التي الذي الذين اللذان اللتان هو هي هم هن هما أنت أنا نحن أنتم ما ماذا
متى أين كيف كم هل لماذا لا لم لن أن إن أو أم ثم كل لكل بعض بعد قبل عند حتى إذا قد كان كانت يكون تكون بين أي منذ لكن بل
غير سوى إلا لدى لها له لهم به بها فيه فيها منه منها عليه عليها و ف ب ل ك
`.trim().split(/\s+/).map((word) => normaliseArabic(withoutAccents(word))))
