// The bounds extraction enforces and their defaults, apart from the extractors so that reading the configuration loads no parser.

export interface DocxLimits {
  /** Most bytes all the zip's entries (images included) may inflate to together. */
  docxMaxExpandedBytes: number
  /**
   * Most bytes one entry may inflate to: what bounds the XML mammoth parses into memory, ~38 bytes of it per byte
   * (16 MB of document.xml: 7.8 s, peak RSS +600 MB; 32 MB: 18.8 s). 16 MB (~12 million characters of text) keeps
   * mammoth's heap within the extraction thread's default limit (JACK_EXTRACT_MEMORY_MB, 1024).
   */
  docxMaxPartBytes: number
  /** Most entries in the zip (a Word document has tens; each costs memory before any is read). */
  docxMaxParts: number
}

export const DOCX_LIMIT_DEFAULTS: DocxLimits = {
  docxMaxExpandedBytes: 256 * 1024 * 1024,
  docxMaxPartBytes: 16 * 1024 * 1024,
  docxMaxParts: 10_000
}

export interface HtmlLimits {
  /**
   * Deepest element nesting Readability may see. Its cost grows with depth × elements: 256 bare nested divs 0.65 s,
   * 512 3.9 s, 2,000 ~155 s (measured); real pages nest 10–50 deep.
   */
  htmlMaxDepth: number
  /** Most elements Readability may see: 50,000 at depth 64 took 4.5 s, 20,000 flat 1.4 s; most pages have under 5,000. */
  htmlMaxElements: number
}

export const HTML_LIMIT_DEFAULTS: HtmlLimits = { htmlMaxDepth: 128, htmlMaxElements: 30_000 }

export interface PdfLimits {
  /**
   * Most pages read. A PDF with more is refused, not cut short: an answer must not silently miss what is past page N,
   * and the user can split the file. PDF.js took ~2 ms a page on a 10,000-page PDF (20 s in all).
   */
  pdfMaxPages: number
}

export const PDF_LIMIT_DEFAULTS: PdfLimits = { pdfMaxPages: 2000 }

/** The bounds extraction enforces before and while parsing, so a small file cannot cost unbounded memory or time. */
export interface ExtractLimits extends DocxLimits, HtmlLimits, PdfLimits {
  /**
   * Most characters of text a document may yield, in any format (checked page by page for PDFs): bounds what
   * chunking and storage get. 50 million is ~10,000 pages of prose.
   */
  maxTextCharacters: number
}

export const EXTRACT_LIMIT_DEFAULTS: Readonly<ExtractLimits> = Object.freeze({
  ...DOCX_LIMIT_DEFAULTS,
  ...HTML_LIMIT_DEFAULTS,
  ...PDF_LIMIT_DEFAULTS,
  maxTextCharacters: 50_000_000
})
