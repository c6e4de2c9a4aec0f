// Comparing, shrinking and classifying: compare asks both tools about a case;
// shrink reduces a disagreement greedily to a minimal case; classify names the
// known difference between the tools that explains it (CLASSES).

import { askKeyward } from './keyward.mjs'
import { askSimulator, simulatorContext } from './simulator.mjs'
import { CROSS_ACCOUNT_OPERATIONS, KEY_ACCOUNT, callerAccount, callerKind, iamRole, root } from './world.mjs'

// ---------------------------------------------------------------- comparing

export const allowed = (d) => d === 'Allow'

export async function compare(bin, c) {
  const [sim, kw] = await Promise.all([askSimulator(c), askKeyward(bin, c)])
  if (sim.error) return { skipped: 'simulator rejected the case', detail: sim.error }
  if (kw.error) return { skipped: 'keyward rejected the case', detail: kw.error }
  return {
    sim: sim.decision,
    simValidated: sim.validatedDecision,
    kw: kw.decision,
    kwReason: kw.reason,
    kwContext: kw.context,
    agree: allowed(sim.decision) === allowed(kw.decision),
    sameKind: sim.decision === kw.decision
  }
}

// ---------------------------------------------------------------- classes

// What each class means; README.md gives the documentation each rests on.
export const CLASSES = {
  'unresolved policy variable':
    'A statement uses a policy variable (${aws:username}, ${aws:PrincipalTag/k}) that the request cannot resolve. ' +
    'keyward: the statement does not apply, Allow or Deny, whatever the operator. The simulator leaves the value ' +
    'unmatched, so a negated operator (StringNotEquals, StringNotLike) or a missing key under ...IfExists still matches.',
  'cross-account key management':
    'A caller from another account asks for an operation outside the cross-account list (cryptographic operations, ' +
    'CreateGrant, DescribeKey, GetKeyRotationStatus, GetPublicKey, ListGrants, RetireGrant, RevokeGrant). keyward denies ' +
    'it whatever the policies say; the simulator allows it when key policy and IAM policy both allow.',
  NotPrincipal:
    'A NotPrincipal names some but not all identities of the caller (its session or user ARN, its role, its account). ' +
    'keyward excludes the caller only when every identity is listed; the simulator excludes it when any one is ' +
    '(a role for its sessions, an account for its users).',
  'role session principal':
    'A Principal names an assumed-role session ARN. keyward: it names that one session; a simulator that matched it to ' +
    'other sessions of the role (or to the role) would differ here.',
  'service principal context keys':
    'The caller is an AWS service principal. Its request carries no aws:PrincipalArn, aws:PrincipalAccount or ' +
    'kms:CallerAccount (script derivation); a tool deriving them differs on conditions over those keys.',
  'account root caller':
    'The caller is the account root user of the key account. keyward allows it when the key policy names its account ' +
    '(the account principal is "the AWS account and its administrators, including the account root user"); the ' +
    'simulator treats the account principal as delegation to IAM policies, which the root user does not have.',
  'single-valued operator on multivalued key':
    'A single-valued operator (no ForAnyValue:/ForAllValues:) on kms:EncryptionContextKeys.',
  'set operator on single-valued key': 'ForAnyValue:/ForAllValues: on a single-valued key.',
  other: 'Matched by no rule above: look at the example.'
}

function walkStrings(x, f) {
  if (typeof x === 'string') f(x)
  else if (Array.isArray(x)) x.forEach((y) => walkStrings(y, f))
  else if (x && typeof x === 'object') Object.values(x).forEach((y) => walkStrings(y, f))
}

function policies(c) {
  return [c.keyPolicy, ...(c.identityPolicy ? [c.identityPolicy] : [])]
}

function statements(c) {
  return policies(c).flatMap((p) => p.Statement)
}

function unresolvedVariables(c) {
  const ctx = simulatorContext(c.request)
  const present = new Set(Object.keys(ctx).map((k) => k.toLowerCase()))
  const out = []
  for (const st of statements(c)) {
    walkStrings([st.Resource, st.NotResource, st.Condition], (s) => {
      for (const m of s.matchAll(/\$\{([^}]*)\}/g)) {
        const inner = m[1]
        if (['*', '?', '$'].includes(inner)) continue
        if (inner.includes(',')) continue // has a default
        const v = inner.trim().toLowerCase()
        const value = ctx[Object.keys(ctx).find((k) => k.toLowerCase() === v)]
        if (!present.has(v) || Array.isArray(value)) out.push(inner)
      }
    })
  }
  return out
}

function principalValues(st, field) {
  const p = st[field]
  if (p === undefined) return []
  if (typeof p === 'string') return [p]
  const vals = []
  walkStrings(p, (s) => vals.push(s))
  return vals
}

// The identities of the caller that a NotPrincipal can list.
function callerIdentitySet(p) {
  const kind = callerKind(p)
  const acct = callerAccount(p)
  if (kind === 'user') return [p, root(acct)]
  if (kind === 'root') return [root(acct)]
  if (kind === 'session') {
    const [, role] = p.split(':').pop().split('/')
    return [p, iamRole(acct, role), root(acct)]
  }
  return []
}

function namesCaller(value, p) {
  const acct = callerAccount(p)
  if (!acct) return false
  if (value === acct || value === root(acct)) return true
  if (value === p) return true
  const kind = callerKind(p)
  if (kind === 'session') {
    const [, role] = p.split(':').pop().split('/')
    return value === iamRole(acct, role) || value.startsWith(`arn:aws:sts::${acct}:assumed-role/${role}/`)
  }
  return false
}

// Neutralizers: each rewrites the case so that one known difference between
// the tools can no longer matter, keeping everything else. The first whose
// rewrite makes the tools agree names the class.
const NEUTRALIZERS = [
  [
    'unresolved policy variable',
    (c) => {
      const missing = new Set(unresolvedVariables(c))
      if (!missing.size) return undefined
      const d = structuredClone(c)
      const fix = (x) =>
        typeof x === 'string'
          ? x.replace(/\$\{([^}]*)\}/g, (m, inner) => (missing.has(inner) ? `unresolved-${inner.replace(/[^A-Za-z]/g, '')}` : m))
          : Array.isArray(x)
            ? x.map(fix)
            : x && typeof x === 'object'
              ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, fix(v)]))
              : x
      for (const p of policies(d))
        for (const st of p.Statement) {
          for (const f of ['Resource', 'NotResource', 'Condition']) if (st[f] !== undefined) st[f] = fix(st[f])
        }
      return d
    }
  ],
  [
    'NotPrincipal',
    (c) => {
      const p = c.request.principal
      if (!c.keyPolicy.Statement.some((st) => st.NotPrincipal)) return undefined
      const d = structuredClone(c)
      let changed = false
      for (const st of d.keyPolicy.Statement) {
        if (!st.NotPrincipal) continue
        const listed = principalValues(st, 'NotPrincipal')
        if (listed.some((v) => namesCaller(v, p))) {
          st.NotPrincipal = { ...st.NotPrincipal, AWS: [...new Set([...listed, ...callerIdentitySet(p)])] }
          changed = true
        }
      }
      return changed ? d : undefined
    }
  ]
]

export async function classify(bin, c, r, resolved = (x) => x.agree) {
  for (const [name, neutralize] of NEUTRALIZERS) {
    const d = neutralize(c)
    if (!d) continue
    const rd = await compare(bin, d)
    if (!rd.skipped && resolved(rd)) return name
  }
  const req = c.request
  const kind = callerKind(req.principal)
  const acct = callerAccount(req.principal)
  if (acct && acct !== KEY_ACCOUNT && !CROSS_ACCOUNT_OPERATIONS.has(req.action.toLowerCase()))
    return 'cross-account key management'
  if (
    kind === 'session' &&
    c.keyPolicy.Statement.some((st) =>
      [...principalValues(st, 'Principal'), ...principalValues(st, 'NotPrincipal')].some((v) => v.includes(':assumed-role/'))
    )
  )
    return 'role session principal'
  if (kind === 'service') return 'service principal context keys'
  if (kind === 'root') return 'account root caller'
  if (c.keyPolicy.Statement.some((st) => st.NotPrincipal)) return 'NotPrincipal'
  const condEntries = statements(c).flatMap((st) =>
    Object.entries(st.Condition ?? {}).flatMap(([op, kv]) => Object.keys(kv).map((k) => [op, k]))
  )
  if (condEntries.some(([op, k]) => k.toLowerCase() === 'kms:encryptioncontextkeys' && !op.includes(':') && op !== 'Null'))
    return 'single-valued operator on multivalued key'
  if (condEntries.some(([op, k]) => op.includes(':') && k.toLowerCase() !== 'kms:encryptioncontextkeys'))
    return 'set operator on single-valued key'
  // A condition key the two derivations of the request context disagree on.
  const mine = simulatorContext(req)
  const theirs = r.kwContext ?? {}
  const norm = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), JSON.stringify(v)]))
  const [m, t] = [norm(mine), norm(theirs)]
  const differing = condEntries.map(([, k]) => k.toLowerCase()).filter((k) => m[k] !== t[k])
  if (differing.length) return `request context key ${differing[0]}`
  return 'other'
}

// ---------------------------------------------------------------- shrinking

// Smaller variants of a case, one change each.
function* variants(c) {
  const clone = () => structuredClone(c)
  const kp = c.keyPolicy.Statement
  if (kp.length > 1)
    for (let i = 0; i < kp.length; i++) {
      const d = clone()
      d.keyPolicy.Statement.splice(i, 1)
      yield d
    }
  if (c.identityPolicy) {
    const d = clone()
    delete d.identityPolicy
    yield d
    const ip = c.identityPolicy.Statement
    if (ip.length > 1)
      for (let i = 0; i < ip.length; i++) {
        const d = clone()
        d.identityPolicy.Statement.splice(i, 1)
        yield d
      }
  }
  const stmts = (d) => [
    ...d.keyPolicy.Statement.map((s, i) => [s, `k${i}`]),
    ...(d.identityPolicy ? d.identityPolicy.Statement.map((s, i) => [s, `i${i}`]) : [])
  ]
  const at = (d, tag) => stmts(d).find(([, t]) => t === tag)[0]
  for (const [st, tag] of stmts(c)) {
    if (st.Sid) {
      const d = clone()
      delete at(d, tag).Sid
      yield d
    }
    if (st.Condition) {
      const d = clone()
      delete at(d, tag).Condition
      yield d
      for (const op of Object.keys(st.Condition)) {
        if (Object.keys(st.Condition).length > 1) {
          const d = clone()
          delete at(d, tag).Condition[op]
          yield d
        }
        for (const key of Object.keys(st.Condition[op])) {
          if (Object.keys(st.Condition[op]).length > 1) {
            const d = clone()
            delete at(d, tag).Condition[op][key]
            yield d
          }
          const vals = st.Condition[op][key]
          if (Array.isArray(vals) && vals.length === 1) {
            const d = clone()
            at(d, tag).Condition[op][key] = vals[0]
            yield d
          }
          if (Array.isArray(vals) && vals.length > 1)
            for (let i = 0; i < vals.length; i++) {
              const d = clone()
              const rest = vals.filter((_, j) => j !== i)
              at(d, tag).Condition[op][key] = rest.length === 1 ? rest[0] : rest
              yield d
            }
        }
      }
    }
    for (const field of ['Action', 'NotAction', 'Resource', 'NotResource']) {
      const v = st[field]
      if (Array.isArray(v))
        for (const one of v) {
          const d = clone()
          at(d, tag)[field] = one
          yield d
        }
    }
    for (const field of ['Principal', 'NotPrincipal']) {
      const p = st[field]
      if (p && typeof p === 'object') {
        const kinds = Object.keys(p)
        if (kinds.length > 1)
          for (const k of kinds) {
            const d = clone()
            at(d, tag)[field] = { [k]: p[k] }
            yield d
          }
        for (const k of kinds)
          if (Array.isArray(p[k]))
            for (const one of p[k]) {
              const d = clone()
              at(d, tag)[field][k] = one
              yield d
            }
      }
    }
  }
  const r = c.request
  for (const k of Object.keys(r.encryptionContext ?? {})) {
    const d = clone()
    delete d.request.encryptionContext[k]
    if (!Object.keys(d.request.encryptionContext).length) delete d.request.encryptionContext
    yield d
  }
  for (const k of Object.keys(r.principalTags ?? {})) {
    const d = clone()
    delete d.request.principalTags[k]
    if (!Object.keys(d.request.principalTags).length) delete d.request.principalTags
    yield d
  }
  for (const k of ['viaService', 'sourceIp', 'secureTransport', 'mfaAge', 'grantIsForAWSResource', 'pendingWindowInDays']) {
    if (r[k] !== undefined) {
      const d = clone()
      delete d.request[k]
      yield d
    }
  }
}

export async function shrink(bin, c, result, keep = (r) => !r.agree) {
  let best = c
  let bestResult = result
  let steps = 0
  for (let changed = true; changed && steps < 400; ) {
    changed = false
    for (const v of variants(best)) {
      steps++
      const r = await compare(bin, v)
      if (!r.skipped && keep(r)) {
        best = v
        bestResult = r
        changed = true
        break
      }
    }
  }
  return { minimal: best, result: bestResult }
}
