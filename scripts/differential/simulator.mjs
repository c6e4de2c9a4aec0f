// The @cloud-copilot/iam-simulate adapter: loads the package (exit 2 when it
// is missing), derives the simulator's request context from a case's request
// and decides a case with it.

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KEY_ACCOUNT, callerAccount, callerKind, iamRole } from './world.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))

let simulator
try {
  simulator = await import('@cloud-copilot/iam-simulate')
} catch (e) {
  console.error(`cannot load @cloud-copilot/iam-simulate (${e.code ?? e.message}): run \`npm ci\` in ${HERE}`)
  process.exit(2)
}
const { allowedContextKeysForRequest, runSimulation, runUnsafeSimulation } = simulator
export { allowedContextKeysForRequest }

// The request context the simulator gets, derived here from the IAM User
// Guide ("AWS global condition context keys") and the KMS Developer Guide
// ("AWS KMS condition keys"), independently of keyward's own derivation.
export function simulatorContext(req) {
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

export const SIM_VERSION = JSON.parse(
  readFileSync(join(HERE, 'node_modules/@cloud-copilot/iam-simulate/package.json'), 'utf8')
).version

function simDecision(result) {
  if (result === 'Allowed') return 'Allow'
  if (result === 'ExplicitlyDenied') return 'ExplicitDeny'
  return 'ImplicitDeny'
}

export async function askSimulator(c) {
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
