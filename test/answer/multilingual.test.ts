// The extractive answerer on Chinese, Japanese, German and Arabic passages: questions in the passage's language are answered by quoting the right sentence.
import t from 'tap'
import { NOT_FOUND_ANSWER, type RetrievedChunk } from '../../src/answer/answer-types.js'
import { answerExtractively } from '../../src/answer/extractive.js'

/** The passages as retrieval would hand them over: one chunk each, the first scored best. */
function chunksOf (texts: string[]): RetrievedChunk[] {
  return texts.map((text, index) => ({ documentId: `d${index}`, chunkIndex: 0, text, start: 0, end: text.length, score: 1 / (index + 1), source: `d${index}`, metadata: {} }))
}

const PASSAGES = {
  zh: [
    '会议室预订\n\n会议室须提前一天在内网预订。每次预订最长四个小时，取消预订请至少提前两小时。',
    '门禁卡\n\n新员工入职当天领取门禁卡。门禁卡丢失后须立即报告安保部，补办费用为五十元。'
  ],
  ja: [
    '出張旅費\n\n新幹線は普通車の利用が原則です。宿泊費は一泊一万二千円まで支給されます。領収書は帰社後一週間以内に提出してください。',
    '健康診断\n\n定期健康診断は毎年十月に本社の診療所で行われます。'
  ],
  de: [
    'Dienstwagen\n\nDienstwagen dürfen nur mit einem gültigen Führerschein gefahren werden. Die Tankkarte gilt an allen Stationen in Deutschland. Schäden am Fahrzeug meldet der Fahrer innerhalb von vierundzwanzig Stunden der Fuhrparkleitung.',
    'Jeder Mitarbeiter erhält dreißig Tage Urlaub im Kalenderjahr. Die regelmäßige Wochenarbeitszeit beträgt achtunddreißig Stunden.'
  ],
  ar: [
    'تبدأ ساعات العمل الرسمية في الساعة الثامنة صباحاً. يحق لكل موظف إجازة سنوية مدفوعة الأجر مدتها ثلاثون يوماً. تُصرف الرواتب في اليوم الخامس والعشرين من كل شهر.',
    'يقع المكتب الرئيسي للشركة في مدينة عمّان. تتوفر مواقف مجانية للسيارات أمام المبنى.'
  ]
}

// Each question, its passages, the sentence that answers it (and which passage holds it).
const CASES: Array<[question: string, language: keyof typeof PASSAGES, sentence: string, passage: number]> = [
  ['会议室每次最长可以预订几个小时？', 'zh', '每次预订最长四个小时，取消预订请至少提前两小时。', 0],
  ['门禁卡丢了怎么办？', 'zh', '门禁卡丢失后须立即报告安保部，补办费用为五十元。', 1],
  ['宿泊費はいくらまで出ますか？', 'ja', '宿泊費は一泊一万二千円まで支給されます。', 0],
  ['健康診断はいつですか？', 'ja', '定期健康診断は毎年十月に本社の診療所で行われます。', 1],
  // Inflections and compounds the English stemmer cannot join: Schaden/Schäden, Fahrzeugschaden/Fahrzeug, Woche/Wochenarbeitszeit.
  ['Wem meldet man einen Fahrzeugschaden?', 'de', 'Schäden am Fahrzeug meldet der Fahrer innerhalb von vierundzwanzig Stunden der Fuhrparkleitung.', 0],
  ['Wie viele Urlaubstage gibt es?', 'de', 'Jeder Mitarbeiter erhält dreißig Tage Urlaub im Kalenderjahr.', 1],
  ['Wie viele Stunden arbeitet man pro Woche?', 'de', 'Die regelmäßige Wochenarbeitszeit beträgt achtunddreißig Stunden.', 1],
  ['Wo gilt die Tankkarte?', 'de', 'Die Tankkarte gilt an allen Stationen in Deutschland.', 0],
  // The article and prepositions written as part of the word (الإجازة, للموظف), and vowel signs (تُصرف, يوماً).
  ['كم يوما مدة الإجازة السنوية للموظف؟', 'ar', 'يحق لكل موظف إجازة سنوية مدفوعة الأجر مدتها ثلاثون يوماً.', 0],
  ['متى تصرف الرواتب؟', 'ar', 'تُصرف الرواتب في اليوم الخامس والعشرين من كل شهر.', 0],
  ['أين يقع المكتب الرئيسي؟', 'ar', 'يقع المكتب الرئيسي للشركة في مدينة عمّان.', 1]
]

t.test('a question in the passages\' language is answered with the sentence that answers it', async (t) => {
  for (const [question, language, sentence, passage] of CASES) {
    const chunks = chunksOf(PASSAGES[language])
    const answer = answerExtractively(question, chunks)
    t.ok(answer.found && answer.answer.includes(sentence), `${question} → ${JSON.stringify(answer.answer)}`)
    const best = answer.citations[0]
    t.equal(best?.documentId, `d${passage}`, `${question}: the passage holding it is cited first`)
    const text = PASSAGES[language][passage] as string
    t.equal(text.slice(best?.start ?? 0, best?.end ?? 0), best?.text.replace(/^\.\.\./, '').replace(/\.\.\.$/, ''), `${question}: the citation slices its passage`)
    // Retrieval may rank the other passage first: the answer must not depend on it.
    const reversed = answerExtractively(question, chunksOf([...PASSAGES[language]].reverse()))
    t.ok(reversed.answer.includes(sentence), `${question}, passages the other way round`)
  }
})

t.test('questions on what the passages do not say are not answered', async (t) => {
  const unanswerable: Array<[string, keyof typeof PASSAGES]> = [
    ['公司的股票代码是什么？', 'zh'],
    ['社員旅行の行き先はどこですか？', 'ja'],
    ['Wer ist der Geschäftsführer der Firma?', 'de'],
    ['ما هو رقم هاتف الدعم الفني؟', 'ar']
  ]
  for (const [question, language] of unanswerable) {
    t.same(answerExtractively(question, chunksOf(PASSAGES[language])), { answer: NOT_FOUND_ANSWER, citations: [], found: false }, question)
  }
})

t.test('German compound and inflection matching is for German questions only', async (t) => {
  const chunks = chunksOf(['The cartoons are kept in the archive.'])
  t.equal(answerExtractively('Where are the carts?', chunks).found, false, 'an English "cart" does not meet "cartoon"')
  t.equal(answerExtractively('Wo sind die Cartoonhefte?', chunks).found, true, 'a German compound meets its first part')
  // English questions that use German function words' spellings keep them as content words.
  const english = chunksOf(['Uber was founded in San Francisco in 2009. The ride-hailing company expanded abroad in 2011.'])
  t.ok(answerExtractively('When was Uber founded?', english).answer.includes('Uber was founded in San Francisco in 2009.'))
})
