import fc from 'fast-check'
import t from 'tap'
import { type Answer, NOT_FOUND_ANSWER, type RetrievedChunk } from '../../src/answer/answer-types.js'
import { answerExtractively, answerPieces, DEFAULT_MIN_SCORE } from '../../src/answer/extractive.js'
import { splitSentences } from '../../src/answer/sentences.js'
import { chunkText } from '../../src/ingest/chunker.js'

// --- An encyclopedia in miniature (written for these tests): one document per topic, one chunk per paragraph ---------

const DOCUMENTS: Record<string, string[]> = {
  'great-fire-of-london.md': [
    'The Great Fire of London was a major conflagration that swept through the central parts of London from Sunday 2 September to Thursday 6 September 1666. The fire began in a bakery owned by Thomas Farriner on Pudding Lane shortly after midnight. Driven by a strong east wind, it spread rapidly west across the City of London. The Lord Mayor, Sir Thomas Bloodworth, hesitated to order the demolition of houses to create firebreaks.',
    'The fire destroyed 13,200 houses, 87 parish churches and St Paul\'s Cathedral, and most of the buildings of the City authorities. It is estimated to have left 70,000 of the City\'s 80,000 inhabitants homeless. The death toll is unknown but was traditionally thought to be small, with only six verified deaths recorded. The fire was finally brought under control when the wind dropped and the Tower of London garrison used gunpowder to create effective firebreaks.',
    'After the fire, the architect Christopher Wren was commissioned to rebuild St Paul\'s Cathedral and 51 of the city\'s churches. Wren\'s plan for a new street layout with wide avenues was never adopted, because property owners insisted on rebuilding on their old plots. The new cathedral was completed in 1710. The Monument to the Great Fire, a Doric column 61 metres tall, was erected near Pudding Lane between 1671 and 1677.'
  ],
  'marie-curie.md': [
    'Marie Curie was a Polish and naturalised French physicist and chemist who conducted pioneering research on radioactivity. She was born Maria Skłodowska in Warsaw in 1867, the youngest of five children of two teachers. Because women could not enrol at the University of Warsaw, she studied at a clandestine institution known as the Flying University. In 1891 she moved to Paris to study physics and mathematics at the Sorbonne.',
    'In 1903 Curie shared the Nobel Prize in Physics with her husband Pierre Curie and the physicist Henri Becquerel. She was the first woman to win a Nobel Prize. In 1911 she received a second Nobel Prize, this time in Chemistry, for her discovery of the elements polonium and radium. She named polonium after her native country, Poland. She remains the only person to win Nobel Prizes in two different scientific fields.',
    'During the First World War, Curie developed mobile radiography units, known as "little Curies", to provide X-ray services to field hospitals. She also founded the Radium Institute in Paris, which became a major centre for medical research. Curie died in 1934 at a sanatorium in Passy, France, from aplastic anaemia, a condition likely caused by long exposure to radiation. Her notebooks are still so radioactive that they are kept in lead-lined boxes.'
  ],
  'amazon-river.md': [
    'The Amazon River in South America is the largest river in the world by discharge volume of water. It flows for about 6,400 km from the Andes to the Atlantic Ocean. The headwaters of the river lie in the mountains of southern Peru. Its drainage basin covers about 7 million square kilometres, roughly 40 percent of the South American continent.',
    'During the wet season, parts of the Amazon can be nearly 50 km wide. No bridges cross the main river, partly because most of its length runs through tropical rainforest with few roads or cities. The largest city on its banks is Manaus, a port in Brazil with more than two million inhabitants. Ocean-going ships can travel up the river as far as Manaus, about 1,500 km from the sea.',
    'The Amazon rainforest, which surrounds the river, contains an estimated 390 billion individual trees belonging to roughly 16,000 species. Deforestation has reduced the forest\'s area, mainly to make room for cattle ranching and soybean farms. The Spanish explorer Francisco de Orellana was the first European to travel the length of the river, in 1542. He named it after the Amazons of Greek mythology, claiming to have fought female warriors along its banks.'
  ],
  'photosynthesis.md': [
    'Photosynthesis is the process by which green plants, algae and some bacteria convert light energy into chemical energy. It takes place mainly in the chloroplasts of leaf cells, which contain the green pigment chlorophyll. Chlorophyll absorbs red and blue light most strongly and reflects green light, which is why leaves look green.',
    'During the light-dependent reactions, water molecules are split and oxygen is released as a by-product. The energy captured is stored in the molecules ATP and NADPH. The Calvin cycle then uses carbon dioxide from the air to build sugars such as glucose. The cycle is named after the American biochemist Melvin Calvin, who won the Nobel Prize in Chemistry in 1961 for describing it.'
  ],
  'printing-press.md': [
    'Johannes Gutenberg, a goldsmith from Mainz, introduced printing with movable metal type to Europe around 1440. His press adapted the design of the screw presses that were used to make wine and olive oil. Gutenberg also developed an oil-based ink that stuck to metal type better than the water-based inks of the time.',
    'The most famous book Gutenberg printed is the Gutenberg Bible, completed around 1455, of which 49 copies are known to survive. Gutenberg did not become rich from his invention; a lawsuit by his financier, Johann Fust, cost him his workshop in 1455. Within fifty years, printing presses were operating in more than 270 European cities.'
  ]
}

const DOCUMENT_TEXTS = new Map(Object.entries(DOCUMENTS).map(([source, paragraphs]) => [source, paragraphs.join('\n\n')]))

const CHUNKS: RetrievedChunk[] = Object.entries(DOCUMENTS).flatMap(([source, paragraphs]) => {
  let start = 0
  return paragraphs.map((text, chunkIndex) => {
    const chunk = { documentId: source, chunkIndex, text, start, end: start + text.length, score: 0, source, metadata: { topic: source } }
    start += text.length + 2
    return chunk
  })
})

const RETRIEVAL_STOPWORDS = new Set('the a an of in on at to for by with and or is was were did do does s what who whom which when where why how many much'.split(' '))
const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/** A stand-in for retrieval: the 6 chunks sharing the most distinct words with the question, best first. */
function retrieve (question: string, topK = 6): RetrievedChunk[] {
  const asked = new Set(words(question).filter((word) => !RETRIEVAL_STOPWORDS.has(word)))
  return CHUNKS
    .map((chunk) => ({ ...chunk, score: new Set(words(chunk.text).filter((word) => asked.has(word))).size }))
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
}

/** SQuAD-style: a question, the gold answer span, and the chunk (source, paragraph) that holds it. */
const CASES: Array<[question: string, gold: string, source: string, paragraph: number]> = [
  ['Whose bakery did the Great Fire of London start in?', 'Thomas Farriner', 'great-fire-of-london.md', 0],
  ['How many houses did the fire destroy?', '13,200', 'great-fire-of-london.md', 1],
  ['How many people were left homeless by the fire?', '70,000', 'great-fire-of-london.md', 1],
  ['Who was commissioned to rebuild St Paul\'s Cathedral?', 'Christopher Wren', 'great-fire-of-london.md', 2],
  ['When was the new St Paul\'s Cathedral finished?', '1710', 'great-fire-of-london.md', 2],
  ['What was used to create firebreaks that brought the fire under control?', 'gunpowder', 'great-fire-of-london.md', 1],
  ['Where was Marie Curie born?', 'Warsaw', 'marie-curie.md', 0],
  ['What was the clandestine institution Curie studied at called?', 'Flying University', 'marie-curie.md', 0],
  ['Who did Curie share the 1903 Nobel Prize in Physics with?', 'Pierre Curie', 'marie-curie.md', 1],
  ['What did Curie name after her native country?', 'polonium', 'marie-curie.md', 1],
  ['What did Curie die from?', 'aplastic anaemia', 'marie-curie.md', 2],
  ['What were the mobile radiography units called?', 'little Curies', 'marie-curie.md', 2],
  ['How many kilometres does the Amazon flow?', '6,400 km', 'amazon-river.md', 0],
  ['What is the largest city on the banks of the Amazon?', 'Manaus', 'amazon-river.md', 1],
  ['Which explorer was the first European to travel the length of the river?', 'Francisco de Orellana', 'amazon-river.md', 2],
  ['In what year did Orellana travel the length of the Amazon?', '1542', 'amazon-river.md', 2],
  ['How many species of trees are in the Amazon rainforest?', '16,000', 'amazon-river.md', 2],
  ['Where in the leaf does photosynthesis mainly take place?', 'chloroplasts', 'photosynthesis.md', 0],
  ['Why do leaves look green?', 'reflects green light', 'photosynthesis.md', 0],
  ['What gas is released when water molecules are split?', 'oxygen', 'photosynthesis.md', 1],
  ['Who is the Calvin cycle named after?', 'Melvin Calvin', 'photosynthesis.md', 1],
  ['What did Gutenberg adapt the design of his press from?', 'screw presses', 'printing-press.md', 0],
  ['How many copies of the Gutenberg Bible survive?', '49', 'printing-press.md', 1],
  ['Who was Gutenberg\'s financier?', 'Johann Fust', 'printing-press.md', 1]
]

const sentenceCount = (answer: Answer): number => answerPieces(answer).length

t.test('SQuAD-style questions: the answer holds the gold span and the chunk holding it is cited first', async (t) => {
  for (const [question, gold, source, paragraph] of CASES) {
    const answer = answerExtractively(question, retrieve(question))
    t.ok(answer.found, `found: ${question}`)
    t.match(answer.answer, gold, question)
    t.match(answer.citations[0], { source, chunkIndex: paragraph, documentId: source }, `cited first: ${question}`)
    t.ok(sentenceCount(answer) <= 3, 'at most three sentences')
  }
})

t.test('the answer does not lean on retrieval\'s order: the gold chunk last of six, all scored alike', async (t) => {
  let contained = 0
  let citedFirst = 0
  for (const [question, gold, source, paragraph] of CASES) {
    const goldChunk = CHUNKS.find((chunk) => chunk.source === source && chunk.chunkIndex === paragraph) as RetrievedChunk
    const others = CHUNKS.filter((chunk) => chunk !== goldChunk)
    const sameTopicFirst = [...others.filter((chunk) => chunk.source === source), ...others.filter((chunk) => chunk.source !== source)]
    const answer = answerExtractively(question, [...sameTopicFirst.slice(0, 5), goldChunk].map((chunk) => ({ ...chunk, score: 1 })))
    if (answer.answer.includes(gold)) contained++
    if (answer.citations[0]?.source === source && answer.citations[0].chunkIndex === paragraph) citedFirst++
  }
  t.ok(contained >= CASES.length - 1, `gold span in ${contained} of ${CASES.length} answers`)
  t.ok(citedFirst >= CASES.length - 1, `gold chunk cited first ${citedFirst} of ${CASES.length} times`)
})

t.test('a short answer: one sentence unless another adds what the question asks', async (t) => {
  const single = answerExtractively('Who was Gutenberg\'s financier?', retrieve('Who was Gutenberg\'s financier?'))
  t.equal(single.answer, 'Gutenberg did not become rich from his invention; a lawsuit by his financier, Johann Fust, cost him his workshop in 1455.')
  t.equal(single.citations.length, 1, 'only the passage used is cited')

  // The first sentence names the subject; the next adds "born", which the first lacks.
  const question = 'Where was Marie Curie born?'
  const two = answerExtractively(question, retrieve(question))
  t.equal(sentenceCount(two), 2)
  t.equal(two.answer, 'Marie Curie was a Polish and naturalised French physicist and chemist who conducted pioneering research on radioactivity. ' +
    'She was born Maria Skłodowska in Warsaw in 1867, the youngest of five children of two teachers.', 'in document order')
  const one = answerExtractively(question, retrieve(question), { maxSentences: 1 })
  t.equal(sentenceCount(one), 1, 'maxSentences caps it')
})

t.test('a citation is the chunk trimmed around the sentences used, with offsets into the document', async (t) => {
  const question = 'Which explorer was the first European to travel the length of the river?'
  const answer = answerExtractively(question, retrieve(question))
  t.equal(answer.answer, 'The Spanish explorer Francisco de Orellana was the first European to travel the length of the river, in 1542.')
  const [citation] = answer.citations
  t.ok(citation)
  if (citation === undefined) return
  t.equal(citation.text, '...Deforestation has reduced the forest\'s area, mainly to make room for cattle ranching and soybean farms. ' +
    'The Spanish explorer Francisco de Orellana was the first European to travel the length of the river, in 1542. ' +
    'He named it after the Amazons of Greek mythology, claiming to have fought female warriors along its banks.')
  t.equal(DOCUMENT_TEXTS.get('amazon-river.md')?.slice(citation.start, citation.end), citation.text.slice(3))
  t.match(citation, { source: 'amazon-river.md', documentId: 'amazon-river.md', chunkIndex: 2, metadata: { topic: 'amazon-river.md' } })
  t.ok(citation.score > 0 && citation.score <= 1)
})

t.test('headings say what the sentences under them are about, and are not quoted while those answer', async (t) => {
  const handbook = 'Refund policy\n\nCustomers may return goods within 30 days of delivery for a full refund. Refunds are issued to the ' +
    'original payment method within 5 business days. Digital products cannot be refunded once downloaded.\n\n' +
    '## Dress code\n\nJeans are fine on Fridays.\n\nExpenses\n- Meals are reimbursed up to $50 per day when travelling\n' +
    '- Hotel bookings must be made through the travel portal\n- Receipts must be submitted within 14 days'
  const sections = handbook.split(/\n\n(?=(?:## )?[A-Z][a-z]+(?: [a-z]+)?\n)/u)
  const chunks = sections.map((text, chunkIndex) => {
    const start = handbook.indexOf(text)
    return { documentId: 'handbook', chunkIndex, text, start, end: start + text.length, score: 1, source: 'handbook.md', metadata: {} }
  })
  t.equal(chunks.length, 3)
  const ask = (question: string): Answer => answerExtractively(question, chunks)
  t.equal(ask('What is our refund policy?').answer, 'Customers may return goods within 30 days of delivery for a full refund.')
  t.equal(ask('What is the dress code?').answer, 'Jeans are fine on Fridays.')
  t.equal(ask('How much can I claim for meals?').answer, 'Meals are reimbursed up to $50 per day when travelling', 'a list item is a sentence, not a heading')
  t.equal(ask('When must receipts be submitted?').answer, 'Receipts must be submitted within 14 days')
  t.equal(ask('What is the policy on pets in the office?').found, false, 'a heading sharing one word is weak evidence')
  t.equal(answerExtractively('Dress code?', chunks.slice(1, 2)).answer, 'Jeans are fine on Fridays.')
  const citation = ask('What is the dress code?').citations[0]
  t.equal(citation?.text, '## Dress code\n\nJeans are fine on Fridays.', 'the citation keeps the heading as context')
})

// --- Not found, and the calibration of DEFAULT_MIN_SCORE -------------------------------------------------------------

t.test('questions the documents do not answer get the plain not-found answer, without citations', async (t) => {
  const notAnswered = [
    'What is the boiling point of mercury?', // nothing shared
    'How do I reset my password?',
    'What is it?', // only stopwords
    'Which team did the most?',
    'What time does the pharmacy open on Sundays?', // shares only everyday words: "time" (this time), "Sunday" (Sunday 2 September)
    'Who won the 2018 World Cup?' // shares only "won" (won the Nobel Prize) and "World" (First World War)
  ]
  for (const question of notAnswered) {
    t.same(answerExtractively(question, retrieve(question)), { answer: NOT_FOUND_ANSWER, citations: [], found: false }, question)
  }
  t.same(answerExtractively('Who founded the Radium Institute?', []), { answer: NOT_FOUND_ANSWER, citations: [], found: false }, 'no chunks')
  t.same(answerExtractively('', CHUNKS).found, false, 'an empty question')
  t.same(answerExtractively('?', CHUNKS).found, false)
})

t.test('one rare word shared is enough to answer: the documents speak of it', async (t) => {
  const cases: Array<[string, string]> = [
    ['What did Bloodworth say about the insurance claims?', 'Bloodworth'],
    ['When did Farriner retire from baking bread?', 'Farriner']
  ]
  for (const [question, name] of cases) {
    for (const topK of [1, 3, 6, 14]) {
      const answer = answerExtractively(question, retrieve(question, topK))
      t.ok(answer.found, `${question} (top ${topK})`)
      t.match(answer.answer, name)
    }
  }
})

t.test('minScore moves the line between answering and not', async (t) => {
  const question = 'What time does the pharmacy open on Sundays?'
  t.equal(answerExtractively(question, retrieve(question), { minScore: 0.05 }).found, true)
  t.equal(answerExtractively(question, retrieve(question), { minScore: DEFAULT_MIN_SCORE }).found, false)
  t.equal(answerExtractively('Who was Gutenberg\'s financier?', retrieve('Who was Gutenberg\'s financier?'), { minScore: 1.01 }).found, false)
})

// --- Chunks from the real chunker, overlapping -------------------------------------------------------------------------

t.test('overlapping chunks do not make the answer repeat a sentence', async (t) => {
  const document = DOCUMENT_TEXTS.get('marie-curie.md') as string
  const chunks = chunkText(document, { chunkSize: 60, chunkOverlap: 30 }).map((chunk) => ({
    documentId: 'curie', chunkIndex: chunk.index, text: chunk.text, start: chunk.start, end: chunk.end, score: 1, source: 'curie.md', metadata: {}
  }))
  t.ok(chunks.length > 3)
  const answer = answerExtractively('Where was Marie Curie born?', chunks)
  const pieces = answerPieces(answer).map((piece) => piece.trim())
  t.equal(new Set(pieces).size, pieces.length, 'no sentence twice')
  t.match(answer.answer, 'Warsaw')
  for (const citation of answer.citations) t.equal(document.slice(citation.start, citation.end), citation.text.replace(/^\.\.\./, '').replace(/\.\.\.$/, ''))
})

// --- Streaming pieces --------------------------------------------------------------------------------------------------

t.test('answerPieces splits the answer sentence by sentence, and joined they are the answer', async (t) => {
  const question = 'When was the new St Paul\'s Cathedral finished?'
  const answer = answerExtractively(question, retrieve(question))
  const pieces = answerPieces(answer)
  t.equal(pieces.join(''), answer.answer)
  t.ok(pieces.slice(1).every((piece) => piece.startsWith(' ')), 'later pieces carry the space before them')
  const copy = { ...answer }
  t.equal(answerPieces(copy).join(''), answer.answer, 'an answer that is not ours is split anew')
  t.same(answerPieces({ answer: NOT_FOUND_ANSWER, citations: [], found: false }), [NOT_FOUND_ANSWER])
  t.same(answerPieces({ answer: 'One. Two!  Three?', citations: [], found: true }), ['One.', ' Two!', '  Three?'])
  t.same(answerPieces({ answer: '', citations: [], found: true }), [])
})

// --- Properties --------------------------------------------------------------------------------------------------------

const VOCABULARY = ['refund', 'policy', 'customers', 'return', 'goods', 'within', 'thirty', 'days', 'manager', 'approval', 'remote',
  'work', 'Dr.', 'e.g.', 'U.S.', '3.5', 'naïve', 'Acme', 'escrow', 'the', 'of', 'and', 'a', 'is', 'may', '東京', 'Zürich', '2024',
  'time', 'office', 'leave', 'salary', '"quoted"', '(aside)', 'etc.', 'employees']
const sentenceArbitrary = (tag: number): fc.Arbitrary<string> => fc.record({
  words: fc.array(fc.constantFrom(...VOCABULARY), { minLength: 2, maxLength: 10 }),
  end: fc.constantFrom('.', '.', '!', '?', '。', '...')
}).map(({ words, end }) => `${words.join(' ')} tag${tag}${end}`)
const joiner = fc.constantFrom(' ', ' ', '\n', '\n\n', '\n- ', '\n1. ', '  ')
const documentArbitrary = (offset: number): fc.Arbitrary<string> => fc.integer({ min: 1, max: 14 }).chain((count) =>
  fc.tuple(fc.tuple(...Array.from({ length: count }, (_, index) => sentenceArbitrary(offset + index))), fc.array(joiner, { minLength: count, maxLength: count }))
    .map(([sentences, joiners]) => sentences.map((sentence, index) => `${index === 0 ? '' : joiners[index]}${sentence}`).join('')))
const scenario = fc.record({
  documents: fc.tuple(documentArbitrary(0), documentArbitrary(100)),
  chunkSize: fc.integer({ min: 24, max: 120 }),
  chunkOverlap: fc.integer({ min: 0, max: 20 }),
  picks: fc.array(fc.nat(), { maxLength: 8 }),
  scores: fc.array(fc.double({ min: -5, max: 50, noNaN: true }), { minLength: 8, maxLength: 8 }),
  question: fc.tuple(fc.constantFrom('', 'What ', 'Who ', 'When did ', 'How many '), fc.array(fc.constantFrom(...VOCABULARY, 'unseen', 'words'), { minLength: 1, maxLength: 6 }))
    .map(([wh, words]) => `${wh}${words.join(' ')}?`),
  maxSentences: fc.integer({ min: 1, max: 4 })
})

function retrievedFrom (documents: string[], chunkSize: number, chunkOverlap: number, picks: number[], scores: number[]): RetrievedChunk[] {
  const all = documents.flatMap((text, document) => chunkText(text, { chunkSize, chunkOverlap }).map((chunk) => ({
    documentId: `doc-${document}`, chunkIndex: chunk.index, text: chunk.text, start: chunk.start, end: chunk.end, score: 0, source: `doc-${document}.md`, metadata: {}
  })))
  const chosen = [...new Set(picks.map((pick) => pick % all.length))].map((index) => all[index] as RetrievedChunk)
  return chosen.map((chunk, rank) => ({ ...chunk, score: scores[rank] ?? 0 }))
}

t.test('answers quote only whole sentences of the chunks, cite exactly the passages used, and keep every order', async (t) => {
  let found = 0
  fc.assert(fc.property(scenario, ({ documents, chunkSize, chunkOverlap, picks, scores, question, maxSentences }) => {
    const chunks = retrievedFrom(documents, chunkSize, chunkOverlap, picks, scores)
    const answer = answerExtractively(question, chunks, { maxSentences })
    const pieces = answerPieces(answer)
    check(pieces.join('') === answer.answer, 'pieces join to the answer')
    if (!answer.found) {
      check(answer.answer === NOT_FOUND_ANSWER && answer.citations.length === 0, 'not found: the plain answer, no citations')
      return
    }
    found++
    check(pieces.length >= 1 && pieces.length <= maxSentences, `${pieces.length} sentences for maxSentences ${maxSentences}`)
    const quoted = pieces.map((piece, index) => {
      check(index === 0 ? !piece.startsWith(' ') : piece.startsWith(' ') && !piece.startsWith('  '), 'one space between sentences')
      return index === 0 ? piece : piece.slice(1)
    })
    for (const sentence of quoted) {
      check(chunks.some((chunk) => splitSentences(chunk.text).some((candidate) => candidate.text === sentence)), `verbatim: ${sentence}`)
    }
    // Citations: retrieved chunks, each once, trimmed exactly, best first, and each holding a quoted sentence.
    const located: Array<{ documentId: string, offset: number }> = []
    const keys = new Set<string>()
    let previousScore = Number.POSITIVE_INFINITY
    for (const citation of answer.citations) {
      const chunk = chunks.find((candidate) => candidate.documentId === citation.documentId && candidate.chunkIndex === citation.chunkIndex)
      check(chunk !== undefined, 'a retrieved chunk')
      if (chunk === undefined) return
      check(!keys.has(`${chunk.documentId}/${chunk.chunkIndex}`), 'cited once')
      keys.add(`${chunk.documentId}/${chunk.chunkIndex}`)
      const text = documents[Number(chunk.documentId.slice(4))] as string
      check(citation.start >= chunk.start && citation.end <= chunk.end && citation.start < citation.end, 'inside its chunk')
      const expected = `${text.slice(chunk.start, citation.start).trim() === '' ? '' : '...'}${text.slice(citation.start, citation.end)}` +
        `${text.slice(citation.end, chunk.end).trim() === '' ? '' : '...'}`
      check(citation.text === expected, `citation text ${JSON.stringify(citation.text)} is the document's slice ${JSON.stringify(expected)}`)
      check(citation.score >= 0 && citation.score <= 1 && citation.score <= previousScore, 'scores in 0–1, descending')
      previousScore = citation.score
      check(citation.source === chunk.source && citation.metadata === chunk.metadata, 'source and metadata of the chunk')
      const passage = text.slice(citation.start, citation.end)
      const used = quoted.filter((sentence) => passage.includes(sentence))
      check(used.length > 0, 'only passages actually used are cited')
      for (const sentence of used) located.push({ documentId: chunk.documentId, offset: citation.start + passage.indexOf(sentence) })
    }
    check(quoted.every((sentence) => answer.citations.some((citation) => {
      const text = documents[Number(citation.documentId.slice(4))] as string
      return text.slice(citation.start, citation.end).includes(sentence)
    })), 'every quoted sentence is cited')
    // Reading order: within a document, sentences come in document order.
    const byDocument = new Map<string, number[]>()
    for (const sentence of quoted) {
      const place = located.find((entry) => entry.offset >= 0 && (documents[Number(entry.documentId.slice(4))] as string).startsWith(sentence, entry.offset))
      if (place === undefined) continue
      byDocument.set(place.documentId, [...(byDocument.get(place.documentId) ?? []), place.offset])
    }
    for (const offsets of byDocument.values()) check(offsets.every((offset, index) => index === 0 || offset > (offsets[index - 1] as number)), 'document order')
  }), { numRuns: 300 })
  t.ok(found > 50, `${found} of 300 random questions were answered`)
})

function check (condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}
