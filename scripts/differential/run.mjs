#!/usr/bin/env node
// Differential test: keyward (`keyward explain`) against @cloud-copilot/iam-simulate.
//
//   node run.mjs --seed 1 --cases 2000 [--keyward ../../target/debug/keyward]
//                [--jobs 2] [--no-shrink] [--out FILE] [--verbose]
//
// A seeded generator (mulberry32) makes random KMS key policies, optional IAM
// identity policies of the caller, and random requests, over the features both
// tools model. Each case is decided by both tools; disagreements are shrunk to
// a minimal case, put into classes, and written with one example per class to
// disagreements-SEED.json. See README.md beside this file.

import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))

let simulator
try {
  simulator = await import('@cloud-copilot/iam-simulate')
} catch (e) {
  console.error(`cannot load @cloud-copilot/iam-simulate (${e.code ?? e.message}): run \`npm ci\` in ${HERE}`)
  process.exit(2)
}
const { allowedContextKeysForRequest, runSimulation, runUnsafeSimulation } = simulator

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = {
    seed: 1,
    cases: 2000,
    keyward: resolve(HERE, '../../target/debug/keyward'),
    jobs: 2,
    shrink: true,
    out: undefined,
    verbose: false
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--seed') args.seed = Number(next())
    else if (a === '--cases') args.cases = Number(next())
    else if (a === '--keyward') args.keyward = resolve(next())
    else if (a === '--jobs') args.jobs = Number(next())
    else if (a === '--out') args.out = resolve(next())
    else if (a === '--no-shrink') args.shrink = false
    else if (a === '--verbose') args.verbose = true
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node run.mjs --seed N --cases N [--keyward PATH] [--jobs 2] [--no-shrink] [--out FILE] [--verbose]'
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (!Number.isInteger(args.seed) || args.seed < 0) throw new Error('--seed must be a non-negative integer')
  if (!Number.isInteger(args.cases) || args.cases < 1) throw new Error('--cases must be a positive integer')
  if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new Error('--jobs must be a positive integer')
  args.out ??= join(HERE, `disagreements-${args.seed}.json`)
  return args
}

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

class Rng {
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

// ---------------------------------------------------------------- the world

const KEY_ACCOUNT = '111122223333'
const OTHER_ACCOUNT = '444455556666'
const REGION = 'us-east-1'
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const KEY_ARN = `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/${KEY_ID}`
const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`

const iamUser = (acct, name) => `arn:aws:iam::${acct}:user/${name}`
const iamRole = (acct, name) => `arn:aws:iam::${acct}:role/${name}`
const session = (acct, role, name) => `arn:aws:sts::${acct}:assumed-role/${role}/${name}`
const root = (acct) => `arn:aws:iam::${acct}:root`

// Callers (the request's principal), weighted.
const CALLERS = [
  [4, iamUser(KEY_ACCOUNT, 'alice')],
  [3, iamUser(KEY_ACCOUNT, 'bob')],
  [4, session(KEY_ACCOUNT, 'App', 's1')],
  [2, session(KEY_ACCOUNT, 'App', 's2')],
  [2, session(KEY_ACCOUNT, 'Admin', 'ops')],
  [1, root(KEY_ACCOUNT)],
  [3, iamUser(OTHER_ACCOUNT, 'carol')],
  [3, session(OTHER_ACCOUNT, 'Partner', 'p1')],
  [1, 'cloudtrail.amazonaws.com'],
  [1, `logs.${REGION}.amazonaws.com`]
]

// Values a policy's Principal/NotPrincipal may name.
const POLICY_AWS_PRINCIPALS = [
  KEY_ACCOUNT,
  root(KEY_ACCOUNT),
  root(KEY_ACCOUNT),
  OTHER_ACCOUNT,
  root(OTHER_ACCOUNT),
  iamUser(KEY_ACCOUNT, 'alice'),
  iamUser(KEY_ACCOUNT, 'bob'),
  iamUser(OTHER_ACCOUNT, 'carol'),
  iamRole(KEY_ACCOUNT, 'App'),
  iamRole(KEY_ACCOUNT, 'Admin'),
  iamRole(OTHER_ACCOUNT, 'Partner'),
  session(KEY_ACCOUNT, 'App', 's1'),
  session(KEY_ACCOUNT, 'Admin', 'ops'),
  session(OTHER_ACCOUNT, 'Partner', 'p1')
]
const SERVICE_PRINCIPALS = ['cloudtrail.amazonaws.com', `logs.${REGION}.amazonaws.com`]

// Actions on a KMS key (resource type "key" only; actions that also take an
// alias resource, and actions whose resource is "*", are left out).
const CRYPTO_ACTIONS = [
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GenerateMac',
  'GetPublicKey',
  'DescribeKey',
  'CreateGrant',
  'ListGrants',
  'RevokeGrant',
  'RetireGrant',
  'GetKeyRotationStatus'
]
const MANAGEMENT_ACTIONS = [
  'GetKeyPolicy',
  'PutKeyPolicy',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'EnableKey',
  'DisableKey',
  'TagResource',
  'UntagResource',
  'EnableKeyRotation',
  'UpdateKeyDescription'
]
const REQUEST_ACTIONS = [...CRYPTO_ACTIONS, ...CRYPTO_ACTIONS, ...MANAGEMENT_ACTIONS].map((a) => `kms:${a}`)

// KMS Developer Guide, "Allowing users in other accounts to use a KMS key":
// the operations whose permission is effective across accounts.
const CROSS_ACCOUNT_OPERATIONS = new Set(
  [
    'CreateGrant',
    'Decrypt',
    'DeriveSharedSecret',
    'DescribeKey',
    'Encrypt',
    'GenerateDataKey',
    'GenerateDataKeyPair',
    'GenerateDataKeyPairWithoutPlaintext',
    'GenerateDataKeyWithoutPlaintext',
    'GenerateMac',
    'GetKeyRotationStatus',
    'GetPublicKey',
    'ListGrants',
    'ReEncryptFrom',
    'ReEncryptTo',
    'RetireGrant',
    'RevokeGrant',
    'Sign',
    'Verify',
    'VerifyMac'
  ].map((a) => `kms:${a}`.toLowerCase())
)

const ACTION_PATTERNS = [
  'kms:*',
  'kms:*',
  'kms:Get*',
  'kms:Describe*',
  'kms:Generate*',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
  'kms:*Grant*',
  'kms:*Key*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Create*',
  '*',
  'kms:decrypt',
  'KMS:Encrypt'
]

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

async function genCase(rng, index, now) {
  const request = await genRequest(rng, now)
  FOCUS = { principal: request.principal, action: request.action }
  const keyPolicy = genKeyPolicy(rng)
  const kind = callerKind(request.principal)
  const identityPolicy = kind === 'user' || kind === 'session' ? genIdentityPolicy(rng) : undefined
  FOCUS = { principal: undefined, action: undefined }
  return { index, keyPolicy, identityPolicy, request }
}

// ---------------------------------------------------------------- callers

function callerKind(p) {
  if (/^arn:aws:iam::\d{12}:root$/.test(p)) return 'root'
  if (/^arn:aws:iam::\d{12}:user\//.test(p)) return 'user'
  if (/^arn:aws:sts::\d{12}:assumed-role\//.test(p)) return 'session'
  if (/\.amazonaws\.com$/.test(p)) return 'service'
  return 'unknown'
}

function callerAccount(p) {
  const m = /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(p)
  return m ? m[1] : undefined
}

// The request context the simulator gets, derived here from the IAM User
// Guide ("AWS global condition context keys") and the KMS Developer Guide
// ("AWS KMS condition keys"), independently of keyward's own derivation.
function simulatorContext(req) {
  const ctx = {}
  const kind = callerKind(req.principal)
  const acct = callerAccount(req.principal)
  if (kind === 'user') {
    ctx['aws:PrincipalArn'] = req.principal
    ctx['aws:username'] = req.principal.split('/').pop()
    ctx['aws:PrincipalType'] = 'User'
  } else if (kind === 'session') {
    const [, role] = req.principal.split(':').pop().split('/')
    // "For IAM roles, the request context returns the ARN of the role, not
    // the ARN of the user that assumed the role."
    ctx['aws:PrincipalArn'] = iamRole(acct, role)
    ctx['aws:PrincipalType'] = 'AssumedRole'
  } else if (kind === 'root') {
    ctx['aws:PrincipalArn'] = req.principal
    ctx['aws:PrincipalType'] = 'Account'
  } else if (kind === 'service') {
    // A service principal is not an IAM identity: no principal ARN or
    // account, but aws:PrincipalServiceName / aws:PrincipalIsAWSService.
    ctx['aws:PrincipalServiceName'] = req.principal
    ctx['aws:PrincipalIsAWSService'] = 'true'
  }
  if (acct) {
    ctx['aws:PrincipalAccount'] = acct
    ctx['kms:CallerAccount'] = acct
  }
  if (kind !== 'service') ctx['aws:PrincipalIsAWSService'] = 'false'
  for (const [k, v] of Object.entries(req.principalTags ?? {})) ctx[`aws:PrincipalTag/${k}`] = v
  if (req.encryptionContext && Object.keys(req.encryptionContext).length) {
    for (const [k, v] of Object.entries(req.encryptionContext)) ctx[`kms:EncryptionContext:${k}`] = v
    ctx['kms:EncryptionContextKeys'] = Object.keys(req.encryptionContext)
  }
  if (req.viaService) ctx['kms:ViaService'] = req.viaService
  if (req.sourceIp) ctx['aws:SourceIp'] = req.sourceIp
  if (req.secureTransport) ctx['aws:SecureTransport'] = req.secureTransport
  if (req.mfaAge) ctx['aws:MultiFactorAuthAge'] = req.mfaAge
  if (req.grantIsForAWSResource) ctx['kms:GrantIsForAWSResource'] = req.grantIsForAWSResource
  if (req.pendingWindowInDays) ctx['kms:ScheduleKeyDeletionPendingWindowInDays'] = req.pendingWindowInDays
  ctx['aws:CurrentTime'] = req.now
  return ctx
}

// ---------------------------------------------------------------- the simulator

const SIM_VERSION = JSON.parse(
  readFileSync(join(HERE, 'node_modules/@cloud-copilot/iam-simulate/package.json'), 'utf8')
).version

function simDecision(result) {
  if (result === 'Allowed') return 'Allow'
  if (result === 'ExplicitlyDenied') return 'ExplicitDeny'
  return 'ImplicitDeny'
}

async function askSimulator(c) {
  const context = simulatorContext(c.request)
  const simulation = {
    request: {
      principal: c.request.principal,
      action: c.request.action,
      resource: { resource: c.request.resource, accountId: KEY_ACCOUNT },
      contextVariables: context
    },
    identityPolicies: c.identityPolicy ? [{ name: 'identity', policy: c.identityPolicy }] : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.keyPolicy
  }
  // runSimulation validates the policies, the action and the resource, but it
  // drops every `kms:EncryptionContext:<k>` request key (the Service
  // Authorization Reference lists the key as `kms:EncryptionContext:${EncryptionContextKey}`
  // and the simulator only matches such templated keys at a '/'). So it is used
  // to validate, and runUnsafeSimulation (same engine, no key filtering) to decide.
  const checked = await runSimulation(simulation, {})
  if (checked.resultType === 'error') return { error: checked.errors }
  // (runUnsafeSimulation loads the resource policy without a name, which its
  // analysis then reads; a pre-validated policy carries the name.)
  const result = runUnsafeSimulation(
    {
      ...simulation,
      resourcePolicy: { __validated: true, policyDocument: c.keyPolicy, metadata: { name: 'KeyPolicy' }, errors: [] }
    },
    {}
  )
  return { decision: simDecision(result), validatedDecision: simDecision(checked.overallResult) }
}

// ---------------------------------------------------------------- keyward

let workRoot
let fileCounter = 0

function keywardArgs(c, dir) {
  const r = c.request
  const kp = join(dir, 'key-policy.json')
  writeFileSync(kp, JSON.stringify(c.keyPolicy, null, 1))
  const args = ['explain', '--policy', kp, '--principal', r.principal, '--action', r.action, '--resource', r.resource]
  if (c.identityPolicy) {
    const ip = join(dir, 'iam-policy.json')
    writeFileSync(ip, JSON.stringify(c.identityPolicy, null, 1))
    args.push('--iam-policy', ip)
  }
  for (const [k, v] of Object.entries(r.encryptionContext ?? {})) args.push('--context', `${k}=${v}`)
  for (const [k, v] of Object.entries(r.principalTags ?? {})) args.push('--principal-tag', `${k}=${v}`)
  if (r.viaService) args.push('--via-service', r.viaService)
  if (r.sourceIp) args.push('--source-ip', r.sourceIp)
  if (r.secureTransport) args.push('--condition', `aws:SecureTransport=${r.secureTransport}`)
  if (r.mfaAge) args.push('--condition', `aws:MultiFactorAuthAge=${r.mfaAge}`)
  if (r.grantIsForAWSResource) args.push('--condition', `kms:GrantIsForAWSResource=${r.grantIsForAWSResource}`)
  if (r.pendingWindowInDays) args.push('--condition', `kms:ScheduleKeyDeletionPendingWindowInDays=${r.pendingWindowInDays}`)
  args.push('--condition', `aws:CurrentTime=${r.now}`)
  args.push('--format', 'json')
  return args
}

function parseKeyward(code, stdout, stderr) {
  if (code !== 0 && code !== 1) return { error: `exit ${code}: ${(stderr || stdout).trim().slice(0, 2000)}` }
  let out
  try {
    out = JSON.parse(stdout)
  } catch {
    return { error: `exit ${code}: unparsable output ${stdout.slice(0, 200)}` }
  }
  const decision = out.decision
  if ((decision === 'Allow') !== (code === 0)) return { error: `exit ${code} but decision ${decision}` }
  // Reasons name the temporary policy files; keep only the file name.
  const reason = out.reason?.replace(/[^\s(]*\/(key-policy|iam-policy)\.json/g, '$1.json')
  return { decision, reason, context: out.request?.context }
}

function askKeyward(bin, c) {
  const dir = join(workRoot, String(fileCounter++))
  mkdirSync(dir)
  const args = keywardArgs(c, dir)
  return new Promise((resolvePromise) => {
    execFile(bin, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true })
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      resolvePromise(parseKeyward(code, stdout, stderr))
    })
  })
}

// ---------------------------------------------------------------- comparing

const allowed = (d) => d === 'Allow'

async function compare(bin, c) {
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
const CLASSES = {
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

async function classify(bin, c, r, resolved = (x) => x.agree) {
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

async function shrink(bin, c, result, keep = (r) => !r.agree) {
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

// ---------------------------------------------------------------- main

function size(c) {
  return JSON.stringify([c.keyPolicy, c.identityPolicy ?? null, c.request]).length
}

async function pool(n, items, f) {
  let next = 0
  const out = new Array(items.length)
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await f(items[i], i)
      }
    })
  )
  return out
}

function exampleOf(c, r, originalIndex) {
  const req = { ...c.request }
  delete req.now
  return {
    case: originalIndex,
    keyPolicy: c.keyPolicy,
    ...(c.identityPolicy ? { identityPolicy: c.identityPolicy } : {}),
    request: req,
    keyward: r.kw,
    keywardReason: r.kwReason,
    simulator: r.sim
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  try {
    statSync(args.keyward)
  } catch {
    console.error(`keyward binary not found at ${args.keyward} (run: cargo build --bin keyward, in the repository root)`)
    process.exit(2)
  }
  workRoot = mkdtempSync(join(tmpdir(), 'keyward-diff-'))
  // Run a private copy, so that a rebuild of the binary during the run does
  // not mix two keywards (or fail cases while the file is being replaced).
  const kwStat = statSync(args.keyward)
  const bin = join(workRoot, 'keyward')
  copyFileSync(args.keyward, bin)
  chmodSync(bin, 0o755)
  const kwSha = createHash('sha256').update(readFileSync(bin)).digest('hex')
  const started = Date.now()
  // One fixed clock for both tools: aws:CurrentTime is passed explicitly.
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  const rng = new Rng(args.seed)
  const cases = []
  for (let i = 0; i < args.cases; i++) cases.push(await genCase(rng, i, now))

  let done = 0
  const results = await pool(args.jobs, cases, async (c) => {
    const r = await compare(bin, c)
    if (++done % 500 === 0 && args.verbose) console.error(`  ${done}/${cases.length}`)
    return r
  })

  const skipped = {}
  let compared = 0
  let agree = 0
  let sameKind = 0
  let simValidatedDiffers = 0
  let kwAllows = 0
  let simAllows = 0
  const disagreements = []
  const kindMismatches = []
  results.forEach((r, i) => {
    if (r.skipped) {
      skipped[r.skipped] ??= { count: 0, first: { case: i, detail: r.detail } }
      skipped[r.skipped].count++
      return
    }
    compared++
    if (r.agree) agree++
    if (r.sameKind) sameKind++
    if (allowed(r.kw)) kwAllows++
    if (allowed(r.sim)) simAllows++
    if (r.sim !== r.simValidated) simValidatedDiffers++
    if (!r.agree) disagreements.push(i)
    else if (!r.sameKind) kindMismatches.push(i)
  })

  // Shrink every disagreement and classify the minimal case.
  const classes = {}
  const shrunk = await pool(args.jobs, disagreements, async (i) => {
    if (!args.shrink) return { i, minimal: cases[i], result: results[i] }
    const { minimal, result } = await shrink(bin, cases[i], results[i])
    return { i, minimal, result }
  })
  for (const { i, minimal, result } of shrunk) {
    const cls = await classify(bin, minimal, result)
    const entry = (classes[cls] ??= {
      count: 0,
      keywardAllows: 0,
      simulatorAllows: 0,
      description: CLASSES[cls] ?? CLASSES.other,
      cases: [],
      example: undefined
    })
    entry.count++
    if (allowed(result.kw)) entry.keywardAllows++
    else entry.simulatorAllows++
    entry.cases.push(i)
    if (!entry.example || size(minimal) < entry._size) {
      entry.example = exampleOf(minimal, result, i)
      entry._size = size(minimal)
    }
  }
  for (const e of Object.values(classes)) delete e._size

  // Both deny, but one explicitly and the other implicitly: not counted as a
  // disagreement (the caller is refused either way), reported apart.
  const kinds = {}
  const shrunkKinds = await pool(args.jobs, kindMismatches, async (i) => {
    if (!args.shrink) return { i, minimal: cases[i], result: results[i] }
    const { minimal, result } = await shrink(bin, cases[i], results[i], (r) => r.agree && !r.sameKind)
    return { i, minimal, result }
  })
  for (const { i, minimal, result } of shrunkKinds) {
    const cls = await classify(bin, minimal, result, (r) => r.sameKind)
    const name = `${cls}: keyward ${result.kw}, simulator ${result.sim}`
    const entry = (kinds[name] ??= { count: 0, cases: [], example: undefined, _size: Infinity })
    entry.count++
    entry.cases.push(i)
    if (size(minimal) < entry._size) {
      entry.example = exampleOf(minimal, result, i)
      entry._size = size(minimal)
    }
  }
  for (const e of Object.values(kinds)) delete e._size
  const sortedClasses = Object.fromEntries(Object.entries(classes).sort((a, b) => b[1].count - a[1].count))

  const pct = (n, d) => (d ? ((100 * n) / d).toFixed(2) : '0.00')
  const report = {
    command: `node run.mjs --seed ${args.seed} --cases ${args.cases}`,
    seed: args.seed,
    cases: args.cases,
    simulator: `@cloud-copilot/iam-simulate@${SIM_VERSION}`,
    keyward: { path: args.keyward, modified: kwStat.mtime.toISOString(), sha256: kwSha },
    clock: now,
    compared,
    skipped,
    agreement: { count: agree, percent: Number(pct(agree, compared)) },
    sameDecisionKind: { count: sameKind, percent: Number(pct(sameKind, compared)) },
    allows: { keyward: kwAllows, simulator: simAllows },
    simulatorValidatedPathDiffers: simValidatedDiffers,
    disagreements: disagreements.length,
    shrunk: args.shrink,
    classes: sortedClasses,
    decisionKindMismatches: { count: kindMismatches.length, kinds }
  }
  writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n')
  rmSync(workRoot, { recursive: true, force: true })

  console.log(`keyward vs @cloud-copilot/iam-simulate@${SIM_VERSION}, seed ${args.seed}`)
  console.log(`cases:      ${args.cases} generated, ${compared} compared` +
    (Object.keys(skipped).length ? `, skipped: ${Object.entries(skipped).map(([k, v]) => `${v.count} ${k}`).join(', ')}` : ''))
  console.log(`allowed:    keyward ${kwAllows}, simulator ${simAllows}`)
  console.log(`agreement:  ${agree}/${compared} = ${pct(agree, compared)}% (allow vs deny)`)
  console.log(`same kind:  ${sameKind}/${compared} = ${pct(sameKind, compared)}% (Allow / ExplicitDeny / ImplicitDeny)`)
  console.log(`disagreements by class${args.shrink ? ' (each shrunk to a minimal case first)' : ''}:`)
  for (const [name, e] of Object.entries(sortedClasses))
    console.log(`  ${String(e.count).padStart(5)}  ${name}  (keyward allows ${e.keywardAllows}, simulator allows ${e.simulatorAllows})`)
  if (!disagreements.length) console.log('  none')
  console.log(`written:    ${args.out}`)
  console.log(`time:       ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

main().catch((e) => {
  console.error(e)
  if (workRoot) rmSync(workRoot, { recursive: true, force: true })
  process.exit(2)
})
