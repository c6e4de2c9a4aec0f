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
//
// This file is the CLI entry: arguments, the worker pool, totals and the report.
// The work is done by generate.mjs (PRNG and random cases), simulator.mjs and
// keyward.mjs (the two tools), classify.mjs (comparing, shrinking, classes)
// and world.mjs (the key, callers and actions).

import { statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SIM_VERSION } from './simulator.mjs'
import { Rng, genCase } from './generate.mjs'
import { prepareKeyward, removeWorkRoot } from './keyward.mjs'
import { CLASSES, allowed, classify, compare, shrink } from './classify.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))

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
  // Run a private copy, so that a rebuild of the binary during the run does
  // not mix two keywards (or fail cases while the file is being replaced).
  const { bin, stat: kwStat, sha256: kwSha } = prepareKeyward(args.keyward)
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
  removeWorkRoot()

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
  removeWorkRoot()
  process.exit(2)
})
