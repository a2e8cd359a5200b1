import fc from 'fast-check'
import t from 'tap'
import { MAX_SENTENCE_CHARS, splitSentences } from '../../src/answer/sentences.js'

const texts = (text: string): string[] => splitSentences(text).map((sentence) => sentence.text)

t.test('abbreviations, initials and decimals do not end sentences', async (t) => {
  t.same(texts('Dr. Smith moved to the U.S. in 1990. He paid $3.5 million, e.g. for land. The U.S. Army arrived. It was approx. five miles away.'), [
    'Dr. Smith moved to the U.S. in 1990.',
    'He paid $3.5 million, e.g. for land.',
    'The U.S. Army arrived.',
    'It was approx. five miles away.'
  ])
  t.same(texts('John F. Kennedy was president. See Fig. 3 for details. Mrs. Jones and Prof. Lee agreed, i.e. both signed.'), [
    'John F. Kennedy was president.',
    'See Fig. 3 for details.',
    'Mrs. Jones and Prof. Lee agreed, i.e. both signed.'
  ])
  t.same(texts('He lived in the U.S. The weather was fine.'), ['He lived in the U.S.', 'The weather was fine.'],
    'an initialism ends a sentence before a word that usually starts one')
  t.same(texts('Version 2.4.1 shipped on 3.5.2024. Costs rose 7.5%.'), ['Version 2.4.1 shipped on 3.5.2024.', 'Costs rose 7.5%.'])
  t.same(texts('Pens, paper, etc. are provided. Acme Inc. The company grew.'), ['Pens, paper, etc. are provided.', 'Acme Inc.', 'The company grew.'])
})

t.test('quotes, brackets, ellipses and exclamations', async (t) => {
  t.same(texts('"Stop!" she said. He said, "It is done." Then he left... and came back... Later it rained?! Yes.'), [
    '"Stop!" she said.',
    'He said, "It is done."',
    'Then he left... and came back...',
    'Later it rained?!',
    'Yes.'
  ])
  t.same(texts('The fee is waived (see section 4.) Refunds take a week. “Why?” Because.'), [
    'The fee is waived (see section 4.)',
    'Refunds take a week.',
    '“Why?”',
    'Because.'
  ])
})

t.test('paragraphs, headings, wrapped lines and lists', async (t) => {
  const text = 'Refund policy\nCustomers may return goods within\nthirty days. Refunds are paid.\n\nShipping\n' +
    '- Orders ship in 2 days\n- Returns are free\n1. First item here.\n2. Second item.\n\n## Contact\nWrite to us:\n(a) by post\n(b) by email'
  t.same(texts(text), [
    'Refund policy',
    'Customers may return goods within\nthirty days.',
    'Refunds are paid.',
    'Shipping',
    'Orders ship in 2 days',
    'Returns are free',
    'First item here.',
    'Second item.',
    'Contact',
    'Write to us:',
    'by post',
    'by email'
  ])
  t.same(texts('The company was founded by\nJohn Smith in 1990. It grew.'), ['The company was founded by\nJohn Smith in 1990.', 'It grew.'],
    'a line ending in a function word is wrapped, not a heading')
  t.same(texts('First line\r\n\r\nSecond line'), ['First line', 'Second line'])
})

t.test('CJK sentence ends need no space', async (t) => {
  t.same(texts('東京は日本の首都です。大阪は大きい！本当？はい'), ['東京は日本の首都です。', '大阪は大きい！', '本当？', 'はい'])
  t.same(texts('他说：“我们走吧。”然后离开了。'), ['他说：“我们走吧。”', '然后离开了。'])
})

t.test('long stretches without sentence ends are cut at line breaks, then semicolons', async (t) => {
  const row = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu'
  const table = Array.from({ length: 30 }, () => row).join('\n')
  const sentences = splitSentences(table)
  t.ok(sentences.length > 1)
  t.ok(sentences.every((sentence) => sentence.text.length <= MAX_SENTENCE_CHARS))
  const clauses = Array.from({ length: 30 }, () => row).join('; ')
  t.ok(splitSentences(clauses).every((sentence) => sentence.text.length <= MAX_SENTENCE_CHARS))
})

t.test('empty and blank text has no sentences', async (t) => {
  t.same(splitSentences(''), [])
  t.same(splitSentences(' \n\n\t '), [])
  t.same(texts('  One.  '), ['One.'])
})

const WORDS = ['the', 'policy', 'Refunds', 'may', 'e.g.', 'U.S.', 'Dr.', '3.5', 'etc.', 'No.', '5', 'approx.', '東京', 'です。',
  '"quoted."', '(aside.)', '…', '...', '?!', '-', '•', '1.', '(a)', '##', ';', 'Ünïcödé', '👍🏽', 'x']
const part = fc.oneof(
  { arbitrary: fc.constantFrom(...WORDS), weight: 6 },
  { arbitrary: fc.constantFrom(' ', ' ', '  ', '\n', '\n\n', '\r\n', '\t', '\u00a0', '\u2029', '\u3000'), weight: 5 },
  { arbitrary: fc.constantFrom('.', '!', '?', '。', '"', '”', ')', ':'), weight: 2 },
  { arbitrary: fc.string({ maxLength: 4 }), weight: 1 }
)
const text = fc.oneof(fc.array(part, { maxLength: 300 }).map((parts) => parts.join('')), fc.string({ unit: 'binary', maxLength: 200 }))

t.test('sentences are exact, trimmed, ordered and non-overlapping for any text', async (t) => {
  fc.assert(fc.property(text, (input) => {
    let previousEnd = 0
    for (const sentence of splitSentences(input)) {
      if (sentence.text !== input.slice(sentence.start, sentence.end)) throw new Error('text is not the slice')
      if (sentence.text === '' || sentence.text !== sentence.text.trim()) throw new Error('not trimmed or empty')
      if (sentence.start < previousEnd) throw new Error('overlap or out of order')
      // Between sentences: whitespace and at most a list marker.
      if (input.slice(previousEnd, sentence.start).trim().length > 7) throw new Error(`text lost: ${JSON.stringify(input.slice(previousEnd, sentence.start))}`)
      previousEnd = sentence.end
    }
    if (input.slice(previousEnd).trim() !== '') throw new Error('text lost at the end')
  }), { numRuns: 500 })
  t.pass('sentences are exact slices')
})
