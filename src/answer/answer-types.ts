// The shapes an answerer takes in (retrieved chunks) and gives back (an answer with the passages it used as citations).

/** A chunk as retrieval returns it, best first: `text === documentText.slice(start, end)`. */
export interface RetrievedChunk {
  documentId: string
  chunkIndex: number
  text: string
  /** Character offsets of the chunk in its document's extracted text. */
  start: number
  end: number
  /** The retrieval score: higher is better, on any scale. */
  score: number
  source: string
  metadata: Record<string, string>
}

/** A passage that supports the answer. */
export interface Citation {
  /** The chunk trimmed around the sentences used, with "..." before and after where it was cut. */
  text: string
  source: string
  /** 0–1; citations come best first, so scores descend. */
  score: number
  documentId: string
  chunkIndex: number
  metadata: Record<string, string>
  /** Offsets of `text` (without the "..." markers) in the document's extracted text. */
  start: number
  end: number
}

export interface Answer {
  answer: string
  citations: Citation[]
  /** False when the documents hold no answer: then `answer` is NOT_FOUND_ANSWER and there are no citations. */
  found: boolean
}

export const NOT_FOUND_ANSWER = 'The documents do not contain an answer to this question.'
