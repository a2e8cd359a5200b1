// A web page's main text: Readability picks the article, then its DOM is walked so block elements stay separate paragraphs; a page past the nesting or element caps gets a linear plain-text pass instead.
import { Readability } from '@mozilla/readability'
import { parseHTML } from 'linkedom'
import { HTML_LIMIT_DEFAULTS, type HtmlLimits } from './extract-limits.js'
import { measureHtml, scanHtml } from './html-scan.js'

// tsconfig has no DOM lib (this is a server), so the few DOM members read here are declared locally.
interface DomNode {
  nodeType: number
  nodeName: string
  textContent: string | null
  childNodes: ArrayLike<DomNode>
}

interface DomDocument {
  documentElement: DomNode | null
  body: DomNode | null
}

const ELEMENT_NODE = 1
const TEXT_NODE = 3
const BLOCK_ELEMENTS = new Set([
  'p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'li', 'blockquote', 'tr', 'div', 'article', 'section', 'main', 'header',
  'footer', 'aside', 'ul', 'ol', 'dl', 'dt', 'dd', 'table', 'thead', 'tbody', 'tfoot', 'caption', 'figure', 'figcaption',
  'address', 'details', 'summary', 'fieldset', 'form', 'hr', 'body', 'html'
])
// Never page content, whatever Readability decides to keep.
const SKIPPED_ELEMENTS = new Set([
  'head', 'script', 'style', 'noscript', 'template', 'nav', 'svg', 'iframe', 'object', 'embed', 'canvas', 'button',
  'select', 'textarea', 'input'
])

/** Collects paragraphs while the DOM is walked: inline text accumulates, a block boundary ends the paragraph. */
class ParagraphCollector {
  readonly paragraphs: string[] = []
  private current = ''

  addText (text: string): void {
    this.current += text.replace(/[\s\u00a0]+/g, ' ')
  }

  addLineBreak (): void {
    this.current += '\n'
  }

  addCellSeparator (): void {
    if (this.current.trim() !== '') this.current += ' | '
  }

  addPreformatted (text: string): void {
    this.endParagraph()
    if (text.trim() !== '') this.paragraphs.push(text.replace(/^\n+|\s+$/g, ''))
  }

  endParagraph (): void {
    const paragraph = this.current.split('\n').map((line) => line.replace(/ {2,}/g, ' ').trim()).join('\n').trim()
    if (paragraph !== '') this.paragraphs.push(paragraph)
    this.current = ''
  }
}

function walk (node: DomNode, collector: ParagraphCollector): void {
  if (node.nodeType === TEXT_NODE) {
    collector.addText(node.textContent ?? '')
    return
  }
  if (node.nodeType !== ELEMENT_NODE) return
  const name = node.nodeName.toLowerCase()
  if (SKIPPED_ELEMENTS.has(name)) return
  if (name === 'br') return collector.addLineBreak()
  if (name === 'pre') return collector.addPreformatted(node.textContent ?? '')
  if (name === 'td' || name === 'th') collector.addCellSeparator()
  const block = BLOCK_ELEMENTS.has(name)
  if (block) collector.endParagraph()
  for (const child of Array.from(node.childNodes)) walk(child, collector)
  if (block) collector.endParagraph()
}

function paragraphsOf (root: DomNode | null | undefined): string[] {
  if (root === null || root === undefined) return []
  const collector = new ParagraphCollector()
  walk(root, collector)
  collector.endParagraph()
  return collector.paragraphs
}

const HEAD = /<head(?:\s[^>]*)?>([\s\S]*?)<\/head\s*>/i
const BODY = /<body(?:\s[^>]*)?>([\s\S]*?)(?:<\/body\s*>|$)/i
const TITLE = /<title(?:\s[^>]*)?>[\s\S]*?<\/title\s*>/i
const DOCUMENT_TAGS = /<!doctype[^>]*>|<\/?html(?:\s[^>]*)?>|<\/?(?:head|body)(?:\s[^>]*)?>/gi

/**
 * linkedom does not build the implied <html>, <head> and <body> a browser would (it takes the first element as the
 * root, so a fragment or a script before <html> leaves Readability nothing to read), so the page is reassembled into
 * that shape first.
 */
function parseDocument (html: string): DomDocument {
  const head = HEAD.exec(html)?.[1] ?? TITLE.exec(html)?.[0] ?? ''
  const body = BODY.exec(html)?.[1] ?? html.replace(HEAD, '').replace(TITLE, '').replace(DOCUMENT_TAGS, '')
  const { document } = parseHTML(`<!DOCTYPE html><html><head>${head}</head><body>${body}</body></html>`)
  return document as DomDocument
}

function collapse (text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

/**
 * The body's paragraphs by the same rules as `walk`, from one pass of scanHtml: no DOM, no Readability, linear in the
 * page (20,000 nested divs: milliseconds). Pages past the caps lose only the choice of the article.
 */
function plainParagraphs (html: string): string[] {
  const collector = new ParagraphCollector()
  // Open skipped elements (head, script, nav, …, and a title outside the head), and open <pre>s with their text.
  let skipping = 0
  let preformatted = 0
  let preText = ''
  scanHtml(html, {
    openTag: (name) => {
      if (skipping > 0 || SKIPPED_ELEMENTS.has(name) || name === 'title') {
        if (name !== 'br') skipping++
        return
      }
      if (preformatted > 0) {
        if (name === 'pre') preformatted++
        return
      }
      if (name === 'br') return collector.addLineBreak()
      if (name === 'pre') {
        preformatted = 1
        preText = ''
        return
      }
      if (name === 'td' || name === 'th') collector.addCellSeparator()
      if (BLOCK_ELEMENTS.has(name)) collector.endParagraph()
    },
    closeTag: (name) => {
      if (name === 'br') return
      if (skipping > 0) {
        skipping--
        return
      }
      if (preformatted > 0) {
        if (name === 'pre' && --preformatted === 0) collector.addPreformatted(preText)
        return
      }
      if (BLOCK_ELEMENTS.has(name)) collector.endParagraph()
    },
    text: (text) => {
      if (skipping > 0) return
      if (preformatted > 0) preText += text
      else collector.addText(text)
    }
  })
  collector.endParagraph()
  return collector.paragraphs
}

/**
 * The main text of a page: the article's paragraphs under its title, or the body's text when there is no article,
 * or when the page is deeper or larger than `limits` allow Readability.
 */
export function extractHtmlText (html: string, limits: HtmlLimits = HTML_LIMIT_DEFAULTS): string {
  if (measureHtml(html, limits.htmlMaxDepth, limits.htmlMaxElements).overLimits) return plainParagraphs(html).join('\n\n')
  const article = new Readability<DomNode>(parseDocument(html), { serializer: (node) => node as DomNode }).parse()
  const paragraphs = paragraphsOf(article?.content)
  if (paragraphs.length === 0) {
    // Readability changed the first document while parsing it, so the fallback reads a fresh one.
    return paragraphsOf(parseDocument(html).body).join('\n\n')
  }
  const title = collapse(article?.title ?? '')
  if (title !== '' && collapse(paragraphs[0] ?? '') !== title) paragraphs.unshift(title)
  return paragraphs.join('\n\n')
}
