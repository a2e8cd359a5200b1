// The encyclopedia question set (bench/data/answers/encyclopedia.json, CC0): paragraphs grouped by article, questions with verbatim answers, unanswerable questions; used by bench/answers.ts and bench/load.ts.
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from './server.js'

export const ENCYCLOPEDIA_PATH = path.join(ROOT, 'bench', 'data', 'answers', 'encyclopedia.json')

export interface Paragraph {
  id: string
  article: string
  text: string
}

export interface Question {
  id: string
  question: string
  /** Empty for an unanswerable question. */
  answers: string[]
  /** The paragraph holding the answer; undefined for an unanswerable question. */
  paragraph: Paragraph | undefined
}

export interface Dataset {
  paragraphs: Paragraph[]
  answerable: Question[]
  unanswerable: Question[]
}

function isStringArray (value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/** Reads and checks a dataset of this shape; ids must be unique across paragraphs and questions. */
export function loadDataset (file: string = ENCYCLOPEDIA_PATH): Dataset {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { articles?: unknown, unanswerable?: unknown }
  if (!Array.isArray(raw.articles) || !Array.isArray(raw.unanswerable)) throw new Error(`${file}: expected {articles: [...], unanswerable: [...]}`)
  const seen = new Set<string>()
  const unique = (id: string): string => {
    if (seen.has(id)) throw new Error(`${file}: duplicate id "${id}"`)
    seen.add(id)
    return id
  }
  const dataset: Dataset = { paragraphs: [], answerable: [], unanswerable: [] }
  for (const article of raw.articles as Array<{ title?: unknown, paragraphs?: unknown }>) {
    if (typeof article.title !== 'string' || !Array.isArray(article.paragraphs)) throw new Error(`${file}: an article needs a string title and paragraphs`)
    for (const entry of article.paragraphs as Array<{ id?: unknown, text?: unknown, questions?: unknown }>) {
      if (typeof entry.id !== 'string' || typeof entry.text !== 'string' || !Array.isArray(entry.questions)) throw new Error(`${file}: a paragraph of "${article.title}" needs string id and text, and questions`)
      const paragraph: Paragraph = { id: unique(entry.id), article: article.title, text: entry.text }
      dataset.paragraphs.push(paragraph)
      for (const question of entry.questions as Array<{ id?: unknown, question?: unknown, answers?: unknown }>) {
        if (typeof question.id !== 'string' || typeof question.question !== 'string' || !isStringArray(question.answers) || question.answers.length === 0) {
          throw new Error(`${file}: a question of paragraph ${paragraph.id} needs string id and question and at least one answer`)
        }
        dataset.answerable.push({ id: unique(question.id), question: question.question, answers: question.answers, paragraph })
      }
    }
  }
  for (const question of raw.unanswerable as Array<{ id?: unknown, question?: unknown }>) {
    if (typeof question.id !== 'string' || typeof question.question !== 'string') throw new Error(`${file}: an unanswerable question needs string id and question`)
    dataset.unanswerable.push({ id: unique(question.id), question: question.question, answers: [], paragraph: undefined })
  }
  return dataset
}
