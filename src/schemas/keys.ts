// Schemas of the keys resource (POST/GET/DELETE /v1/keys).
import { Type, type Static } from 'typebox'
import { Timestamp, Uuid } from './common.js'

export const CreateKeyBody = Type.Object({
  label: Type.String({ minLength: 1, maxLength: 100, description: 'A name for the key, 1–100 characters.' })
}, { additionalProperties: false })

export const KeyListing = Type.Object({
  id: Uuid,
  prefix: Type.String({ description: 'The first 16 characters of the key, safe to show and log.' }),
  label: Type.String(),
  org_id: Uuid,
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  revoked_at: Type.Union([Timestamp, Type.Null()])
}, { title: 'KeyListing', additionalProperties: false })

export const CreatedKey = Type.Object({
  id: Uuid,
  key: Type.String({ pattern: '^jack_[0-9a-f]{48}$', description: 'The full key. It is shown in this response only.' }),
  prefix: Type.String(),
  label: Type.String(),
  org_id: Uuid,
  created_at: Timestamp
}, { title: 'CreatedKey', additionalProperties: false })

export const KeyParams = Type.Object({
  key_id: Type.String({ format: 'uuid', description: 'The key\'s ID.' })
})

export type CreateKeyBodyType = Static<typeof CreateKeyBody>
export type KeyListingType = Static<typeof KeyListing>
export type CreatedKeyType = Static<typeof CreatedKey>
