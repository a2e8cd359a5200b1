// The request schema of `filters`: loose on purpose — parseFilter validates it and names the offending path in its 422.
import { Type, type Static } from 'typebox'
import { FILTER_LIMITS } from './filters.js'

// A precise schema (string | operator object, $or array) would make the
// validator answer first with a generic "must match a schema in anyOf"; this
// one only requires an object and documents the rest.
export const Filters = Type.Record(Type.String(), Type.Unknown(), {
  description: [
    'Metadata filters; every listed key must hold. A string value means the document has the key with exactly that value',
    '(case-sensitive); a document without the key is never retrieved.',
    'A value may instead be an operator object (several operators are ANDed): `{"$in": [..]}`, `{"$nin": [..]}`, `{"$ne": "x"}`,',
    '`{"$exists": true|false}`, `{"$gt"|"$gte"|"$lt"|"$lte": "2024"}`. Comparisons order strings by Unicode code point (byte-wise UTF-8),',
    'so ISO dates and zero-padded numbers order correctly. `$ne`, `$nin` and `$exists: false` also match documents without the key.',
    'A top-level `"$or": [{…}, {…}]` holds alternatives, each an AND of the same kind (no nested `$or`), ANDed with the other keys.',
    `Limits: ${FILTER_LIMITS.keys} keys per object, ${FILTER_LIMITS.inValues} values per $in/$nin, ${FILTER_LIMITS.alternatives} $or alternatives,`,
    `${FILTER_LIMITS.values} string values in all. An unknown operator or a non-string operand → 422.`
  ].join(' '),
  examples: [
    { department: 'HR' },
    { department: { $in: ['HR', 'legal'] }, year: { $gte: '2020', $lt: '2025' }, status: { $ne: 'draft' } },
    { $or: [{ department: 'HR' }, { document_type: 'policy', region: { $exists: false } }] }
  ]
})

export type FiltersType = Static<typeof Filters>
