// The branded organisation ID every repository function takes first, so a cross-org read cannot be written by accident.
declare const orgIdBrand: unique symbol

export type OrgId = string & { readonly [orgIdBrand]: true }

/**
 * Brands an ID as an organisation's. Only code that has established the
 * organisation calls it: the key verifier (from a verified key), org creation,
 * and the operator CLI (which acts for whichever org it is given).
 */
export function asOrgId (id: string): OrgId {
  return id as OrgId
}
