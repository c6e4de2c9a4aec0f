// The keyward adapter: copies the binary into a private work directory, turns
// a case into `keyward explain` arguments and policy files, runs it and parses
// its JSON decision.

import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

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

export function askKeyward(bin, c) {
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

// Makes the work directory and runs a private copy of the binary from it, so
// that a rebuild of the binary during the run does not mix two keywards (or
// fail cases while the file is being replaced).
export function prepareKeyward(path) {
  workRoot = mkdtempSync(join(tmpdir(), 'keyward-diff-'))
  const stat = statSync(path)
  const bin = join(workRoot, 'keyward')
  copyFileSync(path, bin)
  chmodSync(bin, 0o755)
  const sha256 = createHash('sha256').update(readFileSync(bin)).digest('hex')
  return { bin, stat, sha256 }
}

export function removeWorkRoot() {
  if (workRoot) rmSync(workRoot, { recursive: true, force: true })
}
