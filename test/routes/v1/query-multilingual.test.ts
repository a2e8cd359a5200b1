// Chinese, Japanese, German and Arabic documents through the API: found by search (CJK by any verbatim substring), answered by a question in their language.
import t, { type Test } from 'tap'
import { buildTestApp, createOrgWithKey, type TestOrg } from '../../helpers/app.js'
import { call } from '../../helpers/client.js'
import { waitForDocument } from '../../helpers/documents.js'
import { NOT_FOUND_ANSWER } from '../../../src/answer/answer-types.js'
import type { CitationType } from '../../../src/schemas/query.js'

interface QueryBody {
  answer: string
  citations: CitationType[]
  org_id: string
}

interface SearchBody {
  results: CitationType[]
}

// One organisation holds every language, as a multinational's would: each language's
// words must find its own documents among the others', and English must not suffer.
const DOCUMENTS = {
  zhTravel: {
    filename: 'zh-travel.txt',
    text: '差旅报销规定\n\n员工出差期间的住宿费用按城市等级报销。一线城市每晚最高可报销六百元，其他城市每晚最高四百元。报销申请须在出差结束后十个工作日内提交财务部。'
  },
  zhLibrary: {
    filename: 'zh-library.txt',
    text: '图书馆开放时间\n\n公司图书馆周一至周五上午九点开放，周末闭馆。借阅的图书须在三十天内归还，逾期每天罚款一元。'
  },
  jaRemote: {
    filename: 'ja-remote.txt',
    text: '在宅勤務について\n\n社員は上長の承認を得て、週に二日まで在宅勤務ができます。在宅勤務の日も、午前十時から午後三時までは連絡が取れるようにしてください。会社はノートパソコンを一台貸与します。'
  },
  jaCanteen: {
    filename: 'ja-canteen.txt',
    text: '社員食堂\n\n社員食堂は正午から午後二時まで営業しています。毎週金曜日にはカレーが提供されます。'
  },
  deWorkingTime: {
    filename: 'de-arbeitszeit.txt',
    text: 'Regelungen zur Arbeitszeit\n\nDie regelmäßige Wochenarbeitszeit beträgt achtunddreißig Stunden. Überstunden werden innerhalb von drei Monaten durch Freizeit ausgeglichen. Jeder Mitarbeiter erhält dreißig Tage Urlaub im Kalenderjahr.'
  },
  deNotice: {
    filename: 'de-kuendigung.txt',
    text: 'Kündigung\n\nDie Kündigungsfrist für unbefristete Arbeitsverträge beträgt drei Monate zum Quartalsende. Während der Probezeit können beide Seiten mit einer Frist von zwei Wochen kündigen.'
  },
  arPay: {
    filename: 'ar-hr.txt',
    text: 'تبدأ ساعات العمل الرسمية في الساعة الثامنة صباحاً وتنتهي في الرابعة عصراً. يحق لكل موظف إجازة سنوية مدفوعة الأجر مدتها ثلاثون يوماً. تُصرف الرواتب في اليوم الخامس والعشرين من كل شهر.'
  },
  arOffice: {
    filename: 'ar-office.txt',
    text: 'يقع المكتب الرئيسي للشركة في مدينة عمّان. تتوفر مواقف مجانية للسيارات أمام المبنى.'
  },
  enCanteen: {
    filename: 'en-canteen.txt',
    text: 'The staff canteen opens at noon and serves lentil soup on Fridays.'
  }
} as const

type DocumentName = keyof typeof DOCUMENTS

// A question in the document's language, the document that answers it and the sentence the answer must quote.
const ANSWERABLE: Array<[string, DocumentName, string]> = [
  ['在一线城市出差，住宿每晚最多能报销多少钱？', 'zhTravel', '一线城市每晚最高可报销六百元，其他城市每晚最高四百元。'],
  ['报销申请要在多久之内提交？', 'zhTravel', '报销申请须在出差结束后十个工作日内提交财务部。'],
  ['借的图书要在几天内归还？', 'zhLibrary', '借阅的图书须在三十天内归还，逾期每天罚款一元。'],
  ['在宅勤務は週に何日までできますか？', 'jaRemote', '社員は上長の承認を得て、週に二日まで在宅勤務ができます。'],
  ['金曜日の社員食堂では何が出ますか？', 'jaCanteen', '毎週金曜日にはカレーが提供されます。'],
  ['Wie viele Urlaubstage erhält ein Mitarbeiter im Jahr?', 'deWorkingTime', 'Jeder Mitarbeiter erhält dreißig Tage Urlaub im Kalenderjahr.'],
  ['Wie lang ist die Kündigungsfrist in der Probezeit?', 'deNotice', 'Während der Probezeit können beide Seiten mit einer Frist von zwei Wochen kündigen.'],
  ['Wie werden Überstunden ausgeglichen?', 'deWorkingTime', 'Überstunden werden innerhalb von drei Monaten durch Freizeit ausgeglichen.'],
  ['Wie viele Stunden arbeitet man pro Woche?', 'deWorkingTime', 'Die regelmäßige Wochenarbeitszeit beträgt achtunddreißig Stunden.'],
  ['كم يوما مدة إجازة الموظف السنوية؟', 'arPay', 'يحق لكل موظف إجازة سنوية مدفوعة الأجر مدتها ثلاثون يوماً.'],
  ['متى تصرف الرواتب؟', 'arPay', 'تُصرف الرواتب في اليوم الخامس والعشرين من كل شهر.'],
  ['أين يقع المكتب الرئيسي للشركة؟', 'arOffice', 'يقع المكتب الرئيسي للشركة في مدينة عمّان.'],
  ['When does the staff canteen open?', 'enCanteen', 'The staff canteen opens at noon and serves lentil soup on Fridays.']
]

// Questions on subjects no document covers, each sharing a word or characters with one that does.
const UNANSWERABLE = [
  '公司的股票代码是什么？',
  '駐車場は何台分ありますか？',
  'Wer ist der Geschäftsführer der Firma?',
  'ما هو رقم هاتف الدعم الفني؟'
]

const { app, database } = await buildTestApp(t, { config: { workers: 1 } })
const org = await createOrgWithKey(database, 'multilingual')
const ids = new Map<DocumentName, string>()
const names = Object.keys(DOCUMENTS) as DocumentName[]
t.before(async () => {
  const response = await app.inject({ method: 'POST', url: '/v1/ingest', headers: { authorization: `Bearer ${org.key}` }, payload: { documents: names.map((name) => DOCUMENTS[name]) } })
  if (response.statusCode !== 202) throw new Error(`ingest: ${response.statusCode} ${response.body}`)
  for (const [index, id] of response.json<{ document_ids: string[] }>().document_ids.entries()) {
    const status = (await waitForDocument(app, org.key, id)).status
    if (status !== 'ready') throw new Error(`${names[index] as string}: ${status}`)
    ids.set(names[index] as DocumentName, id)
  }
})

async function search (t: Test, from: TestOrg, query: string, topK = 10): Promise<CitationType[]> {
  const response = await call(t, app, 'POST', '/v1/search', { key: from.key, body: { query, top_k: topK } })
  t.equal(response.status, 200)
  return response.json<SearchBody>().results
}

async function ask (t: Test, question: string): Promise<QueryBody> {
  const response = await call(t, app, 'POST', '/v1/query', { key: org.key, body: { question } })
  t.equal(response.status, 200)
  return response.json<QueryBody>()
}

function nameOf (documentId: string | undefined): string {
  return [...ids].find(([, id]) => id === documentId)?.[0] ?? String(documentId)
}

/** The stretches of the CJK runs of `text`: every `length` characters starting at every `step`-th offset. */
function substrings (text: string, length: number, step: number): string[] {
  const found: string[] = []
  for (const run of text.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+/gu) ?? []) {
    for (let at = 0; at + length <= run.length; at += step) found.push(run.slice(at, at + length))
  }
  return found
}

t.test('a verbatim substring of a Chinese or Japanese document finds it', async (t) => {
  for (const name of ['zhTravel', 'zhLibrary', 'jaRemote', 'jaCanteen'] as const) {
    const { text } = DOCUMENTS[name]
    const probes = [...substrings(text, 2, 3), ...substrings(text, 4, 5), ...substrings(text, 7, 11)]
    t.ok(probes.length >= 15, `${name}: ${probes.length} substrings`)
    for (const probe of probes) {
      const results = await search(t, org, probe)
      t.ok(results.some((result) => result.document_id === ids.get(name) && result.text.includes(probe)), `${name}: "${probe}" finds it`)
      // Another document holding the same characters may tie, but none holding fewer of them may lead.
      const others = DOCUMENTS[names.find((other) => ids.get(other) === results[0]?.document_id) as DocumentName]?.text ?? ''
      t.ok(others.includes(probe), `${name}: "${probe}": the best hit (${nameOf(results[0]?.document_id)}) holds it verbatim`)
    }
  }
  const exact = await search(t, org, '十个工作日内提交')
  t.equal(exact[0]?.document_id, ids.get('zhTravel'), 'a phrase of one document ranks it first')
  t.same(exact.map((result) => nameOf(result.document_id)), ['zhTravel'], 'and only it: no other document shares one of its bigrams')
  t.equal((await search(t, org, 'ノートパソコンを一台'))[0]?.document_id, ids.get('jaRemote'))
  t.equal((await search(t, org, '首都です。大阪')).length, 0, 'characters in no document find nothing')
})

t.test('a question of one CJK character finds every document holding it', async (t) => {
  t.same((await search(t, org, '罚')).map((result) => nameOf(result.document_id)), ['zhLibrary'], '罚 only in 罚款')
  t.same((await search(t, org, '貸')).map((result) => nameOf(result.document_id)), ['jaRemote'], '貸 only in 貸与')
  t.same((await search(t, org, '社')).map((result) => nameOf(result.document_id)).sort(), ['jaCanteen', 'jaRemote'], '社 in both Japanese documents')
})

t.test('German and Arabic words find their documents', async (t) => {
  t.equal((await search(t, org, 'Kündigungsfrist'))[0]?.document_id, ids.get('deNotice'))
  t.equal((await search(t, org, 'Überstunden'))[0]?.document_id, ids.get('deWorkingTime'))
  t.equal((await search(t, org, 'الرواتب'))[0]?.document_id, ids.get('arPay'))
  t.equal((await search(t, org, 'المكتب الرئيسي'))[0]?.document_id, ids.get('arOffice'))
})

t.test('a question in the document\'s language is answered by quoting the sentence, cited in its passage', async (t) => {
  for (const [question, name, sentence] of ANSWERABLE) {
    const body = await ask(t, question)
    t.ok(body.answer.includes(sentence), `${question} → ${JSON.stringify(body.answer)}`)
    const best = body.citations[0]
    t.equal(nameOf(best?.document_id), name, `${question}: the best citation is ${name}`)
    t.equal(best?.source, DOCUMENTS[name].filename)
    const text = DOCUMENTS[name].text
    const cited = text.slice(best?.start ?? 0, best?.end ?? 0)
    t.equal(cited, best?.text.replace(/^\.\.\./, '').replace(/\.\.\.$/, ''), `${question}: start/end slice the document to the cited text`)
    t.ok(cited.includes(sentence), `${question}: the citation holds the sentence`)
  }
})

t.test('a question in those languages that no document answers is not answered', async (t) => {
  for (const question of UNANSWERABLE) {
    t.same(await ask(t, question), { answer: NOT_FOUND_ANSWER, citations: [], org_id: org.orgId }, question)
  }
})
