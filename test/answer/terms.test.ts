import t from 'tap'
import { stem } from '../../src/answer/porter-stemmer.js'
import { analyse, canonicalKey, isCommonWord } from '../../src/answer/terms.js'

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
