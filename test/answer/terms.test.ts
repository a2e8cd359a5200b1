import t from 'tap'
import { stem } from '../../src/answer/porter-stemmer.js'
import { analyse, canonicalKey, germanQuestion, isCommonWord } from '../../src/answer/terms.js'

t.test('the Porter stemmer gives the published stems', async (t) => {
  // Examples from Porter (1980) and the reference vocabulary.
  const expected: Record<string, string> = {
    caresses: 'caress',
    ponies: 'poni',
    cats: 'cat',
    feed: 'feed',
    agreed: 'agre',
    plastered: 'plaster',
    motoring: 'motor',
    sing: 'sing',
    conflated: 'conflat',
    sized: 'size',
    hopping: 'hop',
    falling: 'fall',
    filing: 'file',
    happy: 'happi',
    relational: 'relat',
    conditional: 'condit',
    rational: 'ration',
    digitizer: 'digit',
    hopeful: 'hope',
    goodness: 'good',
    generalizations: 'gener',
    allowance: 'allow',
    adjustment: 'adjust',
    adoption: 'adopt',
    controll: 'control',
    roll: 'roll',
    founded: 'found',
    founding: 'found'
  }
  for (const [word, stemmed] of Object.entries(expected)) t.equal(stem(word), stemmed, word)
  t.equal(stem('naïve'), 'naïve', 'non a–z words are left alone')
  t.equal(stem('is'), 'is')
})

t.test('terms are lower-cased, accent-free and stemmed, with stopwords and names marked', async (t) => {
  const terms = analyse('When did Beyoncé start performing in 1,990 venues?')
  t.same(terms.map((term) => term.key), ['when', 'did', 'beyonc', 'start', 'perform', 'in', '1990', 'venu'])
  t.same(terms.filter((term) => term.stopword).map((term) => term.key), ['when', 'did', 'in'])
  t.same(terms.filter((term) => term.capitalised).map((term) => term.key), ['when', 'beyonc'])
  t.same(terms.filter((term) => term.numeric).map((term) => term.key), ['1990'])
  t.same(analyse('東京は大きい').map((term) => [term.key, term.stopword]),
    [['東', false], ['京', false], ['は', true], ['大', false], ['き', false], ['い', true]], 'one CJK character a term')
})

t.test('irregular forms and close synonyms share a key', async (t) => {
  t.equal(canonicalKey('began'), canonicalKey('start'))
  t.equal(canonicalKey('beginning'), canonicalKey('started'))
  t.equal(canonicalKey('died'), canonicalKey('death'))
  t.equal(canonicalKey('completed'), canonicalKey('finished'))
  t.equal(canonicalKey('largest'), canonicalKey('biggest'))
  t.equal(canonicalKey('six'), '6')
  t.equal(canonicalKey('mainly'), canonicalKey('main'), 'adverbs in -ly meet their adjective')
  t.equal(canonicalKey('family'), stem('family'))
  t.equal(canonicalKey('popularised'), canonicalKey('popularized'), 'British -ise spellings meet the -ize ones')
  t.equal(canonicalKey('organisation'), canonicalKey('organization'))
  t.equal(canonicalKey('criticised'), canonicalKey('criticized'))
  t.equal(canonicalKey('precise'), canonicalKey('precision'), 'words that never had a z keep their key')
  t.equal(canonicalKey('revise'), canonicalKey('revision'))
  t.equal(canonicalKey('exercise'), stem('exercise'))
  t.ok(isCommonWord(canonicalKey('time')))
  t.ok(isCommonWord(canonicalKey('Sunday'.toLowerCase())))
  t.notOk(isCommonWord(canonicalKey('escrow')))
})

t.test('words of other scripts and languages: marks, Arabic affixes, German function words', async (t) => {
  const keys = (text: string): string[] => analyse(text).map((term) => term.key)
  const key = (word: string): string | undefined => analyse(word)[0]?.key
  t.equal(analyse('تُصرف').length, 1, 'an Arabic vowel sign does not cut a word in two')
  t.equal(key('تُصرف'), key('تصرف'), 'and is ignored, as accents are')
  t.equal(key('يوماً'), key('يوما'))
  for (const [inflected, plain] of [['الإجازة', 'إجازة'], ['للموظف', 'موظف'], ['السنوية', 'سنوية'], ['والعشرين', 'عشرين'], ['مدفوعة', 'مدفوعه'], ['مبنى', 'مبني']]) {
    t.equal(key(inflected as string), key(plain as string), `${inflected as string} meets ${plain as string}`)
  }
  t.same(analyse('متى كم في').map((term) => term.stopword), [true, true, true], 'Arabic question words and prepositions are stopwords')
  t.not(key('で'), key('て'), 'kana voicing marks are not accents: で is not て')
  t.not(key('ば'), key('は'))
  t.equal(key('Straße'), key('Strasse'), 'ß is ss')
  t.equal(key('Größe'), key('Grosse'), 'umlauts lose their dots, as accents do')
  t.equal(key('한국'), '한국', 'Hangul keys are whole syllables')
  t.same(analyse('Wie viele Stunden sind es?').map((term) => term.stopword), [true, true, false, true, false])
  t.same(analyse('the man from Uber will die von Braun').filter((term) => !term.stopword).map((term) => term.key), ['man', 'uber', 'die', 'von', 'braun'],
    'German function words that are English words too stay content words')
  t.same(keys('東京は'), ['東', '京', 'は'])
})

t.test('a German question meets the inflections and compounds the candidates use; others are left alone', async (t) => {
  const candidateKeys = new Set(analyse('Die Wochenarbeitszeit beträgt achtunddreißig Stunden. Jeder erhält dreißig Tage Urlaub pro Kalenderjahr.').map((term) => term.key))
  const german = germanQuestion('Wie viele Urlaubstage hat man im Jahr?', analyse('Wie viele Urlaubstage hat man im Jahr?'), candidateKeys)
  t.same(german.filter((term) => !term.stopword).map((term) => term.key), [canonicalKey('urlaub'), canonicalKey('kalenderjahr')],
    'Urlaubstage meets Urlaub, Jahr meets Kalenderjahr, and "hat" and "man" are function words')
  t.same(germanQuestion('Wie lang ist eine Woche?', analyse('Wie lang ist eine Woche?'), candidateKeys).map((term) => term.key).at(-1), canonicalKey('wochenarbeitszeit'))
  const english = analyse('How many holidays does a man have in a year?')
  t.equal(germanQuestion('How many holidays does a man have in a year?', english, candidateKeys), english, 'an English question is returned as it is')
})
