// Gives every extractor's output the same shape, so chunking and citations never depend on where the text came from.

/**
 * Line endings become \n, a BOM and U+0000 go (PostgreSQL text cannot hold NUL), trailing whitespace on lines goes,
 * runs of blank lines shrink to one, and the whole is trimmed.
 */
export function normaliseText (text: string): string {
  return text
    .replace(/^\uFEFF/, '')
    .replaceAll('\u0000', '')
    .replace(/\r\n?/g, '\n')
    .replace(/[^\S\n]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
