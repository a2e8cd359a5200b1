// The one error extraction throws: its message becomes the document's error_message, so it is written for API users.
export class ExtractionError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ExtractionError'
  }
}
