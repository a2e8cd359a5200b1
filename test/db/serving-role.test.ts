// The serving-role rules that need no database: which logins are refused, and the derived password.
import t from 'tap'
import { checkServingRole, derivedServingPassword, passwordOf, ServingRoleError } from '../../src/db/serving-role.js'

const bound = { user: 'jack_web', superuser: false, bypassesRls: false, ownsTables: 0, member: true }

t.test('a login row-level security binds is accepted; one it would not is refused, saying why', async (t) => {
  t.doesNotThrow(() => { checkServingRole(bound) })
  const cases: Array<[Partial<typeof bound>, RegExp]> = [
    [{ superuser: true }, /"jack_web", which is a superuser/],
    [{ bypassesRls: true }, /has BYPASSRLS/],
    [{ ownsTables: 3 }, /owns 3 of jack's tables/],
    [{ member: false }, /is not a member of jack_app/]
  ]
  for (const [change, message] of cases) {
    t.throws(() => { checkServingRole({ ...bound, ...change }) }, ServingRoleError)
    t.throws(() => { checkServingRole({ ...bound, ...change }) }, { message })
  }
})

t.test('the derived password is fixed for an owner password, differs between them, and reveals neither', async (t) => {
  const first = derivedServingPassword('owner-secret')
  t.equal(first, derivedServingPassword('owner-secret'), 'every instance derives the same one')
  t.match(first, /^[0-9a-f]{64}$/)
  t.not(first, derivedServingPassword('other-secret'))
  t.notMatch(first, /owner-secret/)
  t.equal(passwordOf('postgres://owner:p%40ss@db/jack'), 'p@ss', 'read from the URL, percent-decoded')
})
