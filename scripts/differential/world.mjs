// The fixed world both tools are asked about: the key and its account, the
// callers, the KMS actions and the ARN helpers, plus callerKind/callerAccount,
// which tell what kind of principal a caller is and which account it is in.

// ---------------------------------------------------------------- the world

export const KEY_ACCOUNT = '111122223333'
export const OTHER_ACCOUNT = '444455556666'
export const REGION = 'us-east-1'
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
export const KEY_ARN = `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/${KEY_ID}`
export const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${KEY_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`

export const iamUser = (acct, name) => `arn:aws:iam::${acct}:user/${name}`
export const iamRole = (acct, name) => `arn:aws:iam::${acct}:role/${name}`
export const session = (acct, role, name) => `arn:aws:sts::${acct}:assumed-role/${role}/${name}`
export const root = (acct) => `arn:aws:iam::${acct}:root`

// Callers (the request's principal), weighted.
export const CALLERS = [
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
export const POLICY_AWS_PRINCIPALS = [
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
export const SERVICE_PRINCIPALS = ['cloudtrail.amazonaws.com', `logs.${REGION}.amazonaws.com`]

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
export const REQUEST_ACTIONS = [...CRYPTO_ACTIONS, ...CRYPTO_ACTIONS, ...MANAGEMENT_ACTIONS].map((a) => `kms:${a}`)

// KMS Developer Guide, "Allowing users in other accounts to use a KMS key":
// the operations whose permission is effective across accounts.
export const CROSS_ACCOUNT_OPERATIONS = new Set(
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

export const ACTION_PATTERNS = [
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

export function callerKind(p) {
  if (/^arn:aws:iam::\d{12}:root$/.test(p)) return 'root'
  if (/^arn:aws:iam::\d{12}:user\//.test(p)) return 'user'
  if (/^arn:aws:sts::\d{12}:assumed-role\//.test(p)) return 'session'
  if (/\.amazonaws\.com$/.test(p)) return 'service'
  return 'unknown'
}

export function callerAccount(p) {
  const m = /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(p)
  return m ? m[1] : undefined
}

