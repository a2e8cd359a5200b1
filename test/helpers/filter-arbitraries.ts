// fast-check generators of metadata and raw `filters` objects, with the collisions that make filter semantics easy to get wrong.
import fc from 'fast-check'

export const KEYS = ['a', 'b', 'c', 'd']
// Collisions by design: case, empty, prefixes ('2024' < '2024-05'), a composed and a
// decomposed é (no normalisation), and astral vs high-BMP characters, whose order
// differs between UTF-16 (JavaScript) and UTF-8 (PostgreSQL "C").
export const VALUES = ['', 'x', 'X', '2024', '2024-05', 'é', 'e\u0301', '😀', 'ｘ', 'x y']
const OPERANDS = [...VALUES, '2', '2024-', '2025', 'Y', 'ÿ', '\uffff', '\u{10ffff}']

export const metadataArbitrary = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: KEYS.length, noNullPrototype: true })
const operand = fc.constantFrom(...OPERANDS)
const operatorEntry = fc.oneof(
  fc.tuple(fc.constantFrom('$in', '$nin'), fc.array(operand, { maxLength: 4 })),
  fc.tuple(fc.constantFrom('$ne', '$gt', '$gte', '$lt', '$lte'), operand),
  fc.tuple(fc.constant('$exists'), fc.boolean())
)
const operatorObject = fc.uniqueArray(operatorEntry, { minLength: 1, maxLength: 3, selector: ([operator]) => operator })
  .map((entries) => Object.fromEntries(entries))
const fieldValue = fc.oneof({ arbitrary: fc.constantFrom(...VALUES), weight: 2 }, { arbitrary: operatorObject, weight: 3 })
const conjunction = fc.uniqueArray(fc.tuple(fc.constantFrom(...KEYS), fieldValue), { maxLength: 3, selector: ([key]) => key })
  .map((entries) => Object.fromEntries(entries))
/** Raw `filters` as a client sends them: parsed by parseFilter in the test, so every generated form must be valid. */
export const rawFilter = fc.tuple(conjunction, fc.option(fc.array(conjunction, { minLength: 1, maxLength: 3 }), { freq: 3 }))
  .map(([all, anyOf]) => anyOf === null ? all : { ...all, $or: anyOf })
