// Seeded generation of cases: the mulberry32 PRNG (Rng) and genCase, which
// draws a random request, then a KMS key policy and an optional IAM identity
// policy that often name the request's caller and action.

import { allowedContextKeysForRequest } from './simulator.mjs'
import {
  ACTION_PATTERNS,
  CALLERS,
  KEY_ACCOUNT,
  KEY_ARN,
  OTHER_ACCOUNT,
  OTHER_KEY_ARN,
  POLICY_AWS_PRINCIPALS,
  REGION,
  REQUEST_ACTIONS,
  SERVICE_PRINCIPALS,
  callerAccount,
  callerKind,
  iamRole,
  iamUser,
  root,
  session
} from './world.mjs'

// ---------------------------------------------------------------- PRNG

function mulberry32(seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  constructor(seed) {
    this.next = mulberry32(seed)
  }
  chance(p) {
    return this.next() < p
  }
  int(lo, hi) {
    // inclusive
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  pick(xs) {
    return xs[Math.floor(this.next() * xs.length)]
  }
  // weighted: [[weight, value], ...]
  weighted(pairs) {
    const total = pairs.reduce((s, [w]) => s + w, 0)
    let r = this.next() * total
    for (const [w, v] of pairs) {
      if ((r -= w) < 0) return v
    }
    return pairs[pairs.length - 1][1]
  }
  subset(xs, min = 0, max = xs.length) {
    const n = this.int(min, Math.min(max, xs.length))
    const pool = [...xs]
    const out = []
    for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0])
    return out
  }
}

// ---------------------------------------------------------------- generator

// The request is drawn first; policies then name its caller and action often
// enough (FOCUS) that conditions and principal rules decide many cases,
// instead of most statements simply not applying.
let FOCUS = { principal: undefined, action: undefined }

function focusActionValue(rng) {
  const a = FOCUS.action.split(':')[1]
  return rng.weighted([
    [6, FOCUS.action],
    [1, `kms:${a.toLowerCase()}`],
    [2, `kms:${a.slice(0, rng.int(1, Math.max(1, a.length - 1)))}*`],
    [1, `kms:*${a.slice(-rng.int(1, Math.max(1, a.length - 1)))}`],
    [1, `kms:${a.slice(0, -1)}?`]
  ])
}

function genActionValue(rng) {
  const one = () =>
    FOCUS.action && rng.chance(0.4)
      ? focusActionValue(rng)
      : rng.chance(0.55)
        ? rng.pick(REQUEST_ACTIONS)
        : rng.pick(ACTION_PATTERNS)
  if (rng.chance(0.6)) return one()
  const n = rng.int(2, 4)
  return [...new Set(Array.from({ length: n }, one))]
}

// The ways a policy can name the caller.
function callerIdentities(p) {
  const kind = callerKind(p)
  const acct = callerAccount(p)
  if (kind === 'user') return [p, p, acct, root(acct)]
  if (kind === 'root') return [acct, root(acct)]
  if (kind === 'session') {
    const [, role, name] = p.split(':').pop().split('/')
    return [p, p, iamRole(acct, role), iamRole(acct, role), acct, root(acct), session(acct, role, `${name}x`)]
  }
  return []
}

function genKeyPolicyResource(rng) {
  return rng.weighted([
    [10, '*'],
    [3, KEY_ARN],
    [2, `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/*`],
    [1, `arn:aws:kms:*:${KEY_ACCOUNT}:key/*`],
    [1, OTHER_KEY_ARN],
    [1, [KEY_ARN, OTHER_KEY_ARN]]
  ])
}

function genIdentityResource(rng) {
  return rng.weighted([
    [8, '*'],
    [3, KEY_ARN],
    [3, `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/*`],
    [1, `arn:aws:kms:*:*:key/*`],
    [1, OTHER_KEY_ARN],
    [1, `arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/*`]
  ])
}

function genPrincipal(rng) {
  const focusKind = FOCUS.principal && callerKind(FOCUS.principal)
  if (focusKind === 'service' && rng.chance(0.5)) return { Service: FOCUS.principal }
  const ids = FOCUS.principal ? callerIdentities(FOCUS.principal) : []
  const awsOne = () => (ids.length && rng.chance(0.45) ? rng.pick(ids) : rng.pick(POLICY_AWS_PRINCIPALS))
  return rng.weighted([
    [3, () => '*'],
    [1, () => ({ AWS: '*' })],
    [10, () => ({ AWS: awsOne() })],
    [4, () => ({ AWS: [...new Set([awsOne(), awsOne(), ...(rng.chance(0.3) ? [awsOne()] : [])])] })],
    [2, () => ({ Service: rng.pick(SERVICE_PRINCIPALS) })],
    [1, () => ({ AWS: awsOne(), Service: rng.pick(SERVICE_PRINCIPALS) })]
  ])()
}

function genNotPrincipal(rng) {
  const ids = FOCUS.principal ? callerIdentities(FOCUS.principal) : []
  const awsOne = () => (ids.length && rng.chance(0.6) ? rng.pick(ids) : rng.pick(POLICY_AWS_PRINCIPALS))
  if (rng.chance(0.5)) return { AWS: awsOne() }
  return { AWS: [...new Set([awsOne(), awsOne(), ...(rng.chance(0.4) ? [awsOne()] : [])])] }
}

const EC_KEYS = ['app', 'tenant', 'dept']
const STRING_OPS = [
  'StringEquals',
  'StringNotEquals',
  'StringLike',
  'StringNotLike',
  'StringEqualsIfExists',
  'StringNotEqualsIfExists',
  'StringLikeIfExists',
  'StringEqualsIgnoreCase'
]
const VAR_VALUES = [
  '${aws:PrincipalTag/owner}',
  '${aws:PrincipalTag/tenant}',
  '${aws:username}',
  "${aws:PrincipalTag/tenant, 'none'}"
]

// One condition entry: [operator, key, values].
const CONDITION_TEMPLATES = [
  // encryption context pairs
  [
    6,
    (rng) => [
      rng.pick(STRING_OPS),
      `kms:EncryptionContext:${rng.pick(EC_KEYS)}`,
      rng.subset(
        ['web', 'batch', 'Web', 'w*', 't?', 't1', 't2', 'none', ...(rng.chance(0.35) ? [rng.pick(VAR_VALUES)] : [])],
        1,
        2
      )
    ]
  ],
  // encryption context keys (multivalued)
  [
    5,
    (rng) => [
      rng.weighted([
        [3, 'ForAnyValue:StringEquals'],
        [3, 'ForAllValues:StringEquals'],
        [1, 'ForAnyValue:StringLike'],
        [1, 'ForAllValues:StringLike'],
        [1, 'ForAllValues:StringNotEquals'],
        [1, 'ForAnyValue:StringNotEquals'],
        [1, 'StringEquals'],
        [1, 'StringNotEquals'],
        [1, 'StringLike']
      ]),
      'kms:EncryptionContextKeys',
      rng.subset(['app', 'tenant', 'dept', 'a*'], 1, 3)
    ]
  ],
  // a policy variable as the value (resolved or not, depending on the caller)
  [
    3,
    (rng) => [
      rng.pick(STRING_OPS),
      rng.pick(['kms:EncryptionContext:tenant', 'kms:EncryptionContext:app', 'aws:PrincipalTag/owner']),
      [rng.pick(VAR_VALUES)]
    ]
  ],
  [3, (rng) => [rng.pick(['StringEquals', 'StringNotEquals', 'StringEqualsIfExists']), 'kms:CallerAccount', rng.subset([KEY_ACCOUNT, OTHER_ACCOUNT], 1, 2)]],
  [
    3,
    (rng) => [
      rng.pick(['StringEquals', 'StringLike', 'StringNotEquals', 'StringEqualsIfExists', 'StringNotLike']),
      'kms:ViaService',
      rng.subset([`ec2.${REGION}.amazonaws.com`, `s3.${REGION}.amazonaws.com`, `*.${REGION}.amazonaws.com`], 1, 2)
    ]
  ],
  [
    4,
    (rng) => [
      rng.pick(['ArnLike', 'ArnNotLike', 'ArnEquals', 'StringEquals', 'StringLike', 'ArnLikeIfExists']),
      'aws:PrincipalArn',
      rng.subset(
        [
          iamRole(KEY_ACCOUNT, 'App'),
          `arn:aws:iam::${KEY_ACCOUNT}:role/*`,
          `arn:aws:iam::${KEY_ACCOUNT}:user/\${aws:username}`,
          'arn:aws:iam::*:root',
          `arn:aws:iam::${OTHER_ACCOUNT}:*`,
          iamUser(KEY_ACCOUNT, 'alice')
        ],
        1,
        2
      )
    ]
  ],
  [3, (rng) => [rng.pick(['StringEquals', 'StringNotEquals']), 'aws:PrincipalAccount', rng.subset([KEY_ACCOUNT, OTHER_ACCOUNT], 1, 2)]],
  [
    5,
    (rng) => [
      rng.pick(['StringEquals', 'StringNotEquals', 'StringLike', 'StringEqualsIfExists', 'StringNotEqualsIfExists']),
      `aws:PrincipalTag/${rng.pick(['owner', 'tenant'])}`,
      rng.subset(['alice', 'bob', 't1', 't2', 'a*', ...(rng.chance(0.3) ? ['${aws:username}'] : [])], 1, 2)
    ]
  ],
  [2, (rng) => [rng.pick(['IpAddress', 'NotIpAddress', 'IpAddressIfExists']), 'aws:SourceIp', rng.subset(['10.0.0.0/8', '203.0.113.0/24', '192.0.2.1/32'], 1, 2)]],
  [2, (rng) => [rng.pick(['Bool', 'BoolIfExists']), 'aws:SecureTransport', [rng.pick(['true', 'false'])]]],
  [2, (rng) => [rng.pick(['Bool', 'BoolIfExists']), 'kms:GrantIsForAWSResource', [rng.pick(['true', 'false'])]]],
  [2, (rng) => [rng.pick(['StringEquals', 'StringLike', 'StringNotEquals']), 'aws:username', rng.subset(['alice', 'b*', 'carol'], 1, 2)]],
  [
    3,
    (rng) => [
      'Null',
      rng.pick([
        `kms:EncryptionContext:${rng.pick(EC_KEYS)}`,
        'kms:EncryptionContextKeys',
        'kms:ViaService',
        'aws:PrincipalTag/owner',
        'aws:SourceIp',
        'aws:username',
        'kms:GrantIsForAWSResource'
      ]),
      [rng.pick(['true', 'false'])]
    ]
  ],
  [1, (rng) => [rng.pick(['NumericLessThan', 'NumericGreaterThanEquals', 'NumericLessThanIfExists']), 'aws:MultiFactorAuthAge', [rng.pick(['3600', '60'])]]],
  [1, (rng) => [rng.pick(['NumericGreaterThanEquals', 'NumericLessThan']), 'kms:ScheduleKeyDeletionPendingWindowInDays', [rng.pick(['7', '30'])]]],
  [1, (rng) => [rng.pick(['DateGreaterThan', 'DateLessThan']), 'aws:CurrentTime', [rng.pick(['2020-01-01T00:00:00Z', '2099-01-01T00:00:00Z'])]]]
]

function genCondition(rng) {
  const n = rng.weighted([
    [6, 1],
    [3, 2],
    [1, 3]
  ])
  const cond = {}
  for (let i = 0; i < n; i++) {
    const [op, key, values] = rng.weighted(CONDITION_TEMPLATES)(rng)
    cond[op] ??= {}
    const prev = cond[op][key]
    const merged = prev ? [...new Set([...[prev].flat(), ...values])] : values
    cond[op][key] = merged.length === 1 && rng.chance(0.6) ? merged[0] : merged
  }
  return cond
}

function genKeyStatement(rng, i) {
  const st = {}
  if (rng.chance(0.3)) st.Sid = `S${i}`
  st.Effect = rng.chance(0.72) ? 'Allow' : 'Deny'
  if (rng.chance(st.Effect === 'Deny' ? 0.12 : 0.04)) st.NotPrincipal = genNotPrincipal(rng)
  else st.Principal = genPrincipal(rng)
  if (rng.chance(0.1)) st.NotAction = genActionValue(rng)
  else st.Action = genActionValue(rng)
  if (rng.chance(0.08)) st.NotResource = rng.pick([OTHER_KEY_ARN, KEY_ARN, [OTHER_KEY_ARN]])
  else st.Resource = genKeyPolicyResource(rng)
  if (rng.chance(0.55)) st.Condition = genCondition(rng)
  return st
}

const ROOT_STATEMENT = {
  Sid: 'Enable IAM User Permissions',
  Effect: 'Allow',
  Principal: { AWS: root(KEY_ACCOUNT) },
  Action: 'kms:*',
  Resource: '*'
}

function genKeyPolicy(rng) {
  const n = rng.int(1, 4)
  const statements = []
  if (rng.chance(0.4)) statements.push(structuredClone(ROOT_STATEMENT))
  while (statements.length < n) statements.push(genKeyStatement(rng, statements.length))
  return { Version: '2012-10-17', Statement: statements }
}

function genIdentityStatement(rng) {
  const st = { Effect: rng.chance(0.8) ? 'Allow' : 'Deny' }
  if (rng.chance(0.08)) st.NotAction = genActionValue(rng)
  else st.Action = genActionValue(rng)
  st.Resource = genIdentityResource(rng)
  if (rng.chance(0.45)) st.Condition = genCondition(rng)
  return st
}

function genIdentityPolicy(rng) {
  const kind = rng.weighted([
    [35, 'none'],
    [30, 'all'],
    [35, 'random']
  ])
  if (kind === 'none') return undefined
  if (kind === 'all')
    return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }
  const n = rng.int(1, 2)
  return { Version: '2012-10-17', Statement: Array.from({ length: n }, () => genIdentityStatement(rng)) }
}

const actionKeyCache = new Map()
async function actionKeys(action) {
  if (!actionKeyCache.has(action)) {
    const keys = await allowedContextKeysForRequest('kms', action.split(':')[1], KEY_ARN, false)
    actionKeyCache.set(action, new Set(keys))
  }
  return actionKeyCache.get(action)
}

async function genRequest(rng, now) {
  const principal = rng.weighted(CALLERS)
  const action = rng.pick(REQUEST_ACTIONS)
  const keys = await actionKeys(action)
  const kind = callerKind(principal)
  const req = { principal, action, resource: KEY_ARN, now }
  if (keys.has('kms:encryptioncontext:${encryptioncontextkey}') && rng.chance(0.75)) {
    const ec = {}
    for (const k of rng.subset(EC_KEYS, 1, 3)) {
      ec[k] = { app: ['web', 'batch', 'Web'], tenant: ['t1', 't2'], dept: ['x', 'none'] }[k][rng.int(0, k === 'app' ? 2 : 1)]
    }
    req.encryptionContext = ec
  }
  if ((kind === 'user' || kind === 'session') && rng.chance(0.65)) {
    const tags = {}
    if (rng.chance(0.7)) tags.owner = rng.pick(['alice', 'bob', 'web'])
    if (rng.chance(0.6)) tags.tenant = rng.pick(['t1', 't2'])
    if (Object.keys(tags).length) req.principalTags = tags
  }
  if (kind !== 'service' && rng.chance(0.3)) req.viaService = rng.pick([`ec2.${REGION}.amazonaws.com`, `s3.${REGION}.amazonaws.com`])
  if (kind !== 'service' && rng.chance(0.5)) req.sourceIp = rng.pick(['10.1.2.3', '203.0.113.9', '198.51.100.4'])
  if (rng.chance(0.85)) req.secureTransport = rng.chance(0.85) ? 'true' : 'false'
  if (kind !== 'service' && rng.chance(0.2)) req.mfaAge = rng.pick(['30', '7200'])
  if (keys.has('kms:grantisforawsresource') && rng.chance(0.5)) req.grantIsForAWSResource = rng.pick(['true', 'false'])
  if (keys.has('kms:schedulekeydeletionpendingwindowindays') && rng.chance(0.8))
    req.pendingWindowInDays = rng.pick(['7', '30'])
  return req
}

export async function genCase(rng, index, now) {
  const request = await genRequest(rng, now)
  FOCUS = { principal: request.principal, action: request.action }
  const keyPolicy = genKeyPolicy(rng)
  const kind = callerKind(request.principal)
  const identityPolicy = kind === 'user' || kind === 'session' ? genIdentityPolicy(rng) : undefined
  FOCUS = { principal: undefined, action: undefined }
  return { index, keyPolicy, identityPolicy, request }
}
