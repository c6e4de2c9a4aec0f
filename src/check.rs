//! `keyward check`: offline access analysis with proof by example.
//!
//! A decision depends on the caller, the action, the key and the condition
//! context. For each caller class and each class of actions that the
//! policies treat alike, the analysis enumerates the condition context over
//! values built from the constants the relevant statements mention (each
//! literal, a sample of each wildcard pattern, each number and date and its
//! neighbours, each CIDR and an address outside it, both booleans, a fresh
//! "other" value, and absence) — enough to reach every combination of
//! condition outcomes those statements can have. IAM enters a KMS decision
//! only as "an IAM policy of the caller allows or denies this request", so
//! every request is decided in two worlds: no IAM policy, and an IAM policy
//! that allows everything. A slice whose grid would be too large is not
//! sampled: it is reported as undecided and the check fails with "may",
//! never passes.

mod rules;
pub use rules::RULES;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::catalog::{Action, KeyType, ResourceKind, condition_key};
use crate::compile::matcher::{Part, Pattern, Template, ValueMatcher};
use crate::compile::{
    CompiledPolicy, DecisionTable, GrantIndex, PolicyKind, PrincipalMatcher, Row,
};
use crate::eval::{Caller, ContextValue, DecisionKind, Request, decide, explain, principal_match};
use crate::policy::Source;
use crate::policy::ast::{AccountId, PrincipalId};

/// The largest context grid one (caller, action class) slice may have.
pub const MAX_GRID: usize = 20_000;

/// A request that shows a finding, with the decisions it gets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Witness {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// The request's encryption context, exactly as sent.
    pub encryption_context: BTreeMap<String, String>,
    /// Other condition keys the request carries (not those that follow
    /// from the caller or the encryption context).
    pub context: BTreeMap<String, ContextValue<'static>>,
    /// Whether the caller's IAM policies were taken to allow everything.
    pub iam_allows_everything: bool,
    /// The decision the checked policy gives (and, for no-new-access, the
    /// old policy's).
    pub decision: DecisionKind,
    pub baseline_decision: Option<DecisionKind>,
    /// Why the old policy denies it (no-new-access).
    pub baseline_reason: Option<String>,
    /// The statements or grants that allowed it.
    pub allowed_by: Vec<crate::eval::explain::Decider>,
}

/// The outcome of one check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    pub check: &'static str,
    pub pass: bool,
    /// Slices too large to decide exactly: the check fails with "may".
    pub undecided: Vec<String>,
    pub witnesses: Vec<Witness>,
}

impl CheckReport {
    pub fn result(&self) -> &'static str {
        match (self.pass, self.witnesses.is_empty()) {
            (true, _) => "PASS",
            (false, true) => "FAIL (may)",
            (false, false) => "FAIL",
        }
    }
}

fn allow_all() -> Arc<CompiledPolicy> {
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
    let source = Source::new("IAM: allow everything", text);
    // INVARIANT: a constant, valid identity policy.
    let policy =
        crate::policy::parse_policy(&source).unwrap_or_else(|_| unreachable!("constant policy"));
    Arc::new(
        CompiledPolicy::compile(&policy, PolicyKind::IamPolicy, &source)
            .unwrap_or_else(|_| unreachable!("constant policy")),
    )
}

/// A key policy with its grants, in the two IAM worlds.
pub struct Subject {
    none: DecisionTable,
    all: DecisionTable,
}

impl Subject {
    pub fn new(policy: CompiledPolicy, grants: GrantIndex) -> Subject {
        let policy = Arc::new(policy);
        let grants = Arc::new(grants);
        Subject {
            none: DecisionTable::from_parts(policy.clone(), Vec::new(), grants.clone()),
            all: DecisionTable::from_parts(policy, vec![allow_all()], grants),
        }
    }

    fn world(&self, iam: bool) -> &DecisionTable {
        if iam { &self.all } else { &self.none }
    }

    /// Decides a request with no IAM policy (`iam` false) or with an IAM
    /// policy that allows everything (`iam` true).
    pub fn decide(&self, iam: bool, req: &Request) -> DecisionKind {
        decide(self.world(iam), req)
    }

    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.none.key_policy.rows.iter()
    }
}

/// The key's account: the one named in a key ARN resource, else the one
/// the policy names first.
pub fn home_account(subjects: &[&Subject]) -> AccountId {
    for s in subjects {
        for r in s.rows() {
            for (text, _) in r.resource.iter().flat_map(|r| r.patterns.iter()) {
                if let Some(["arn", _, "kms", _, acct, _]) = crate::policy::ast::arn_parts(text)
                    && let Some(a) = AccountId::parse(acct)
                {
                    return a;
                }
            }
        }
    }
    for s in subjects {
        for r in s.rows() {
            if let PrincipalMatcher::Named { ids, .. } = &r.principal {
                for p in ids {
                    if let Some(a) = account_of(&p.id) {
                        return a;
                    }
                }
            }
        }
    }
    AccountId("111122223333".into())
}

fn account_of(p: &PrincipalId) -> Option<AccountId> {
    match p {
        PrincipalId::Account(a) => Some(a.clone()),
        PrincipalId::Arn(arn) => {
            crate::policy::ast::arn_parts(arn).and_then(|p| AccountId::parse(p[4]))
        }
        _ => None,
    }
}

/// An account that no policy names: "anyone else".
const STRANGER: &str = "999999999999";

/// Caller classes: every principal the policies, grants and principal
/// conditions name, a root and a fresh user of every account they name, the
/// home account's, and a stranger's.
fn callers(subjects: &[&Subject], home: &AccountId) -> Vec<Caller> {
    let mut arns: BTreeSet<String> = BTreeSet::new();
    let mut accounts: BTreeSet<String> = BTreeSet::from([home.0.clone(), STRANGER.to_owned()]);
    for s in subjects {
        for r in s.rows() {
            if let PrincipalMatcher::Named { ids, .. } = &r.principal {
                for p in ids {
                    match &p.id {
                        PrincipalId::Account(a) => {
                            accounts.insert(a.0.clone());
                        }
                        PrincipalId::Arn(arn) => {
                            arns.insert(arn.clone());
                            if let Some(a) = account_of(&p.id) {
                                accounts.insert(a.0);
                            }
                        }
                        PrincipalId::Service(svc) if svc != "*" => {
                            arns.insert(svc.clone());
                        }
                        _ => {}
                    }
                }
            }
            for c in &r.conditions {
                let key = c.key.to_ascii_lowercase();
                for v in &c.values_text {
                    let sample = v.replace(['*', '?'], "x");
                    match key.as_str() {
                        "aws:principalarn" => {
                            arns.insert(sample);
                        }
                        "aws:principalaccount" | "kms:calleraccount" => {
                            accounts.insert(sample);
                        }
                        _ => {}
                    }
                }
            }
        }
        for g in s.none.grants.iter() {
            arns.insert(g.grantee.clone());
        }
    }
    let mut out: Vec<Caller> = Vec::new();
    for arn in arns {
        let arn = match crate::policy::ast::arn_parts(&arn) {
            Some(["arn", part, "iam", "", acct, rest]) if rest.starts_with("role/") => {
                let name = rest.rsplit('/').next().unwrap_or("role");
                format!("arn:{part}:sts::{acct}:assumed-role/{name}/keyward-check")
            }
            _ => arn,
        };
        if let Ok(c) = Caller::parse(&arn) {
            out.push(c);
        }
    }
    for a in accounts {
        for arn in [
            format!("arn:aws:iam::{a}:root"),
            format!("arn:aws:iam::{a}:user/keyward-check-other"),
        ] {
            if let Ok(c) = Caller::parse(&arn) {
                out.push(c);
            }
        }
    }
    out.push(Caller {
        arn: "keyward-check.amazonaws.com".into(),
        account: None,
        kind: crate::eval::CallerKind::Service("keyward-check.amazonaws.com".into()),
        role: None,
    });
    out.dedup_by(|a, b| a.arn == b.arn);
    out
}

/// One dimension of the grid: a condition key and the values it takes.
#[derive(Debug, Clone)]
struct Dim {
    /// The key as a request builder takes it.
    key: String,
    /// For `kms:EncryptionContext:<k>`: `<k>`, set as encryption context.
    context_key: Option<String>,
    values: Vec<Option<ContextValue<'static>>>,
}

const OTHER: &str = "keyward-other";
const SHARED: &str = "keyward-v1";

/// Keys whose value follows from the caller: set by the request builder.
const DERIVED: &[&str] = &[
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:username",
    "kms:calleraccount",
];

fn samples(m: &ValueMatcher, text: &str) -> Vec<String> {
    let literal = |t: &Template| match t {
        Template::Literal(s) => vec![s.clone()],
        Template::Dynamic(parts) => vec![
            parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => s.clone(),
                    Part::Var { .. } => SHARED.to_owned(),
                    Part::Star => String::new(),
                    Part::Question => "x".into(),
                })
                .collect(),
        ],
    };
    match m {
        ValueMatcher::Text(t) | ValueMatcher::Bool(t) => literal(t),
        ValueMatcher::TextIgnoreCase(t) => literal(t)
            .into_iter()
            .flat_map(|s| [s.to_uppercase(), s])
            .collect(),
        ValueMatcher::Like(Pattern::Dynamic(_)) | ValueMatcher::Like(_) | ValueMatcher::Arn(_) => {
            let with = |star: &str| {
                text.replace("${*}", "\u{1}")
                    .replace("${?}", "\u{2}")
                    .replace('*', star)
                    .replace('?', "x")
                    .replace('\u{1}', "*")
                    .replace('\u{2}', "?")
            };
            let mut v = vec![with(""), with("k")];
            v.iter_mut().for_each(|s| {
                while let (Some(a), Some(b)) = (s.find("${"), s.find('}')) {
                    if b < a {
                        break;
                    }
                    s.replace_range(a..=b, SHARED);
                }
            });
            v
        }
        ValueMatcher::Number(n) => [n - 1.0, *n, n + 1.0]
            .iter()
            .map(|x| x.to_string())
            .collect(),
        ValueMatcher::Date(ns) => {
            let s = ns / 1_000_000_000;
            [s - 1, s, s + 1].iter().map(|x| x.to_string()).collect()
        }
        ValueMatcher::Cidr(net) => {
            let outside = match net {
                ipnet::IpNet::V4(n) => n
                    .broadcast()
                    .to_bits()
                    .checked_add(1)
                    .map(|b| std::net::Ipv4Addr::from_bits(b).to_string()),
                ipnet::IpNet::V6(n) => n
                    .broadcast()
                    .to_bits()
                    .checked_add(1)
                    .map(|b| std::net::Ipv6Addr::from_bits(b).to_string()),
            };
            let mut v = vec![net.network().to_string()];
            v.extend(outside);
            v
        }
        ValueMatcher::Binary(b) => vec![b.clone()],
        ValueMatcher::Null(_) => vec![OTHER.to_owned()],
    }
}

/// Keys that two different wildcard patterns test in one slice: sampling
/// cannot decide every overlap of two patterns, so such a slice is reported
/// as undecided.
fn overlapping_patterns(rows: &[&Row]) -> Vec<String> {
    let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        for c in &r.conditions {
            for (m, text) in c.values.iter().zip(&c.values_text) {
                let wildcard = matches!(m, ValueMatcher::Like(_) | ValueMatcher::Arn(_))
                    && text != "*"
                    && text
                        .replace("${*}", "")
                        .replace("${?}", "")
                        .contains(['*', '?']);
                if wildcard {
                    by_key
                        .entry(c.key.to_ascii_lowercase())
                        .or_default()
                        .insert(text.clone());
                }
            }
        }
    }
    by_key
        .into_iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(k, p)| {
            format!(
                "`{k}` is tested by the overlapping patterns {}",
                p.into_iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// The grid dimensions for the rows relevant to one slice.
fn dims(rows: &[&Row], grants: &[&crate::compile::CompiledGrant], action: Action) -> Vec<Dim> {
    let mut by_key: BTreeMap<String, (String, BTreeSet<String>, bool)> = BTreeMap::new();
    // (variable key, compared key): a variable must be able to take every
    // value the key it is compared with can.
    let mut related: Vec<(String, String)> = Vec::new();
    // Keys some wildcard pattern tests: they need a value no pattern matches.
    let mut wild: BTreeSet<String> = BTreeSet::new();
    for r in rows {
        for c in &r.conditions {
            if c.values
                .iter()
                .any(|m| matches!(m, ValueMatcher::Like(_) | ValueMatcher::Arn(_)))
            {
                wild.insert(c.key.to_ascii_lowercase());
            }
        }
    }
    let mut add = |key: &str, values: Vec<String>, multi: bool| {
        let e = by_key
            .entry(key.to_ascii_lowercase())
            .or_insert_with(|| (key.to_owned(), BTreeSet::new(), multi));
        e.1.extend(values);
    };
    for r in rows {
        for c in &r.conditions {
            let lower = c.key.to_ascii_lowercase();
            if DERIVED.contains(&lower.as_str()) {
                continue;
            }
            let info = condition_key(&c.key);
            // Unknown keys are never in a KMS request, nor keys this
            // action never carries.
            if info.is_none() || !action.populates(&c.key) {
                continue;
            }
            if lower == "kms:encryptioncontextkeys" {
                for v in &c.values_text {
                    add(
                        &format!("kms:EncryptionContext:{}", v.replace(['*', '?'], "x")),
                        vec![],
                        false,
                    );
                }
                continue;
            }
            let multi = info.is_some_and(|i| i.ty == KeyType::ArrayOfString);
            let mut values: Vec<String> = c
                .values
                .iter()
                .zip(&c.values_text)
                .flat_map(|(m, t)| samples(m, t))
                .collect();
            values.extend(
                c.values
                    .iter()
                    .flat_map(|m| match m {
                        ValueMatcher::Text(Template::Dynamic(parts))
                        | ValueMatcher::TextIgnoreCase(Template::Dynamic(parts))
                        | ValueMatcher::Like(Pattern::Dynamic(parts)) => parts
                            .iter()
                            .filter_map(|p| match p {
                                Part::Var { key, .. } => Some(key.name().to_owned()),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })
                    .map(|_| SHARED.to_owned()),
            );
            add(&c.key, values, multi);
            // Keys that variables read get the shared value too.
            for m in &c.values {
                if let ValueMatcher::Text(Template::Dynamic(parts))
                | ValueMatcher::TextIgnoreCase(Template::Dynamic(parts))
                | ValueMatcher::Like(Pattern::Dynamic(parts))
                | ValueMatcher::Bool(Template::Dynamic(parts)) = m
                {
                    for p in parts {
                        if let Part::Var { key, .. } = p
                            && !DERIVED.contains(&key.name().to_ascii_lowercase().as_str())
                        {
                            add(key.name(), vec![SHARED.to_owned()], false);
                            related.push((key.name().to_ascii_lowercase(), lower.clone()));
                        }
                    }
                }
            }
        }
    }
    if action.info().takes_encryption_context {
        for g in grants {
            if let Some(c) = &g.constraints {
                for m in [&c.encryption_context_equals, &c.encryption_context_subset]
                    .into_iter()
                    .flatten()
                {
                    for (k, v) in m {
                        add(
                            &format!("kms:EncryptionContext:{k}"),
                            vec![v.clone()],
                            false,
                        );
                    }
                }
            }
        }
    }
    for (var, compared) in related {
        let pool = by_key
            .get(&compared)
            .map(|e| e.1.clone())
            .unwrap_or_default();
        if let Some(e) = by_key.get_mut(&var) {
            e.1.extend(pool);
        }
    }
    by_key
        .into_iter()
        .map(|(lower, (key, values, multi))| {
            let context_key = lower
                .starts_with("kms:encryptioncontext:")
                .then(|| key["kms:EncryptionContext:".len()..].to_owned());
            let mut vals: Vec<Option<ContextValue<'static>>> = vec![None];
            let mut pool: Vec<String> = values.into_iter().collect();
            // Between any two thresholds a key compares with, a value.
            let mut numbers: Vec<f64> = pool.iter().filter_map(|v| v.parse::<f64>().ok()).collect();
            if !numbers.is_empty() && numbers.len() == pool.len() {
                numbers.sort_by(f64::total_cmp);
                numbers.dedup();
                pool.extend(
                    numbers
                        .windows(2)
                        .map(|w| ((w[0] + w[1]) / 2.0).to_string()),
                );
            }
            pool.push(OTHER.into());
            if wild.contains(&lower) {
                // A value no pattern but `*` matches: the empty string, or
                // one character that no policy writes.
                pool.push(String::new());
                pool.push("\u{7f}".into());
            }
            if multi {
                vals.push(Some(ContextValue::Many(Vec::new())));
                vals.extend(pool.iter().map(|v| Some(ContextValue::many([v.clone()]))));
                vals.push(Some(ContextValue::many(pool.clone())));
            } else {
                let bool_key = condition_key(&key).is_some_and(|i| i.ty == KeyType::Bool);
                if bool_key {
                    pool = vec!["true".into(), "false".into()];
                }
                vals.extend(pool.into_iter().map(|v| Some(ContextValue::one(v))));
            }
            Dim {
                key,
                context_key,
                values: vals,
            }
        })
        .collect()
}

/// Action classes: actions the subjects treat alike share a class.
fn action_classes(subjects: &[&Subject], wanted: Option<&[Action]>) -> Vec<Action> {
    let mut seen: BTreeMap<Vec<u64>, Action> = BTreeMap::new();
    for a in Action::all() {
        // Actions on no key (CreateKey, ListKeys, ...) are IAM's alone: a
        // key policy neither grants nor denies them.
        if wanted.is_some_and(|w| !w.contains(&a)) || a.info().resource != ResourceKind::Key {
            continue;
        }
        let mut sig = vec![
            u64::from(a.info().resource == ResourceKind::Key),
            u64::from(a.info().takes_encryption_context),
        ];
        for s in subjects {
            for (i, r) in s.rows().enumerate() {
                if r.action.as_ref().is_some_and(|m| m.covers.contains(a)) {
                    sig.push(i as u64 + 1);
                }
            }
            sig.push(0);
            for (i, g) in s.none.grants.iter().enumerate() {
                if g.operations.contains(a) {
                    sig.push(i as u64 + 1);
                }
            }
            sig.push(u64::MAX);
        }
        // Keys an action carries change which conditions can hold.
        for s in subjects {
            for r in s.rows() {
                for c in &r.conditions {
                    sig.push(u64::from(a.populates(&c.key)));
                }
            }
        }
        seen.entry(sig).or_insert(a);
    }
    seen.into_values().collect()
}

/// Enumerates one slice; calls `visit` with each request until it returns
/// `true`. `Err` when the grid is larger than [`MAX_GRID`].
fn for_each_request(
    caller: &Caller,
    action: Action,
    resource: &str,
    dims: &[Dim],
    mut visit: impl FnMut(&Request) -> bool,
) -> Result<(), usize> {
    let size = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(d.values.len()))
        .unwrap_or(usize::MAX);
    if size > MAX_GRID {
        return Err(size);
    }
    let mut idx = vec![0usize; dims.len()];
    loop {
        let mut b = Request::builder(caller, action).resource(resource);
        for (d, &i) in dims.iter().zip(&idx) {
            match (&d.values[i], &d.context_key) {
                (None, _) => {}
                (Some(ContextValue::One(v)), Some(k)) => {
                    b = b.encryption_context(k.clone(), v.to_string())
                }
                (Some(v), _) => b = b.context_value(&d.key, v.borrowed()),
            }
        }
        if visit(&b.build()) {
            return Ok(());
        }
        let mut k = 0;
        loop {
            if k == dims.len() {
                return Ok(());
            }
            idx[k] += 1;
            if idx[k] < dims[k].values.len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

fn relevant<'a>(
    subjects: &[&'a Subject],
    caller: &Caller,
    action: Action,
) -> (Vec<&'a Row>, Vec<&'a crate::compile::CompiledGrant>) {
    let probe = Request::builder(caller, action).build();
    let rows = subjects
        .iter()
        .flat_map(|s| s.rows())
        .filter(|r| r.action.as_ref().is_some_and(|m| m.covers.contains(action)))
        .filter(|r| principal_match(&r.principal, &probe).is_some())
        .collect();
    let grants = subjects
        .iter()
        .flat_map(|s| s.none.grants.iter())
        .filter(|g| caller.arns().any(|a| a == g.grantee))
        .collect();
    (rows, grants)
}

fn witness(subject: &Subject, iam: bool, req: &Request, baseline: Option<DecisionKind>) -> Witness {
    let e = explain(subject.world(iam), req);
    Witness {
        principal: req.caller.arn.clone(),
        action: req.action.to_string(),
        resource: req.resource.to_string(),
        encryption_context: req.encryption_context.clone().into_owned(),
        context: req
            .context()
            .into_iter()
            .filter(|(k, _)| {
                !k.starts_with("kms:EncryptionContext")
                    && !matches!(
                        k.as_str(),
                        "aws:PrincipalArn"
                            | "aws:PrincipalAccount"
                            | "aws:PrincipalType"
                            | "aws:PrincipalIsAWSService"
                            | "aws:PrincipalServiceName"
                            | "aws:PrincipalServiceNamesList"
                            | "kms:CallerAccount"
                            | "aws:username"
                    )
            })
            .collect(),
        iam_allows_everything: iam,
        decision: e.decision,
        baseline_decision: baseline,
        baseline_reason: None,
        allowed_by: e.decided_by,
    }
}

/// Runs one analysis: `bad` says whether a request (in an IAM world) is a
/// finding, and returns the checked subject's decision and the baseline's.
fn analyse(
    check: &'static str,
    subjects: &[&Subject],
    checked: &Subject,
    callers: Vec<Caller>,
    resources: &Keys,
    actions: Option<&[Action]>,
    bad: impl Fn(&Request, bool) -> Option<Option<DecisionKind>>,
) -> CheckReport {
    let mut witnesses = Vec::new();
    let mut undecided = Vec::new();
    for caller in callers {
        for action in action_classes(subjects, actions) {
            for resource in &resources.for_caller(&caller) {
                let (rows, grants) = relevant(subjects, &caller, action);
                // Only a key-policy Allow or a grant can allow an action on a key:
                // without one for this caller and action, nothing to find.
                let can_allow = grants
                    .iter()
                    .any(|g| checked.none.grants.iter().any(|x| std::ptr::eq(x, *g)))
                    || checked.rows().any(|r| {
                        r.effect == crate::policy::ast::Effect::Allow
                            && rows.iter().any(|x| std::ptr::eq(*x, r))
                    });
                if !can_allow {
                    continue;
                }
                let dims = dims(&rows, &grants, action);
                for why in overlapping_patterns(&rows) {
                    let note = format!("{} {}: {why}", caller.arn, action);
                    if !undecided.contains(&note) {
                        undecided.push(note);
                    }
                }
                let mut found = None;
                let res = for_each_request(&caller, action, resource, &dims, |req| {
                    for iam in [false, true] {
                        if let Some(baseline) = bad(req, iam) {
                            found = Some(witness(checked, iam, req, baseline));
                            return true;
                        }
                    }
                    false
                });
                if let Err(size) = res {
                    let note = format!("{} {} ({size} context combinations)", caller.arn, action);
                    if !undecided.contains(&note) {
                        undecided.push(note);
                    }
                }
                let hit = found.is_some();
                witnesses.extend(found);
                if hit {
                    break;
                }
            }
        }
    }
    CheckReport {
        check,
        pass: witnesses.is_empty() && undecided.is_empty(),
        undecided,
        witnesses,
    }
}

/// The key's possible ARNs: a key policy does not say which account holds
/// its key, so every account it names (and a stranger's) is tried, with the
/// key ARNs its `Resource` elements name.
fn key_arns(subjects: &[&Subject]) -> Keys {
    let mut arns: BTreeSet<String> = BTreeSet::new();
    for s in subjects {
        for r in s.rows() {
            for (text, _) in r.resource.iter().flat_map(|r| r.patterns.iter()) {
                let sample = text.replace(['*', '?'], "x");
                if let Some(["arn", _, "kms", _, acct, _]) = crate::policy::ast::arn_parts(&sample)
                    && AccountId::parse(acct).is_some()
                {
                    arns.insert(sample.clone());
                }
            }
        }
    }
    Keys::PerCaller(arns.into_iter().collect())
}

/// Which key ARNs a slice is decided for.
enum Keys {
    /// Exactly these.
    Fixed(Vec<String>),
    /// The key's account matters only as the caller's own or another's, and
    /// to `Resource` patterns: a key in the caller's account, one in a
    /// stranger's, and these ARNs that the policies name.
    PerCaller(Vec<String>),
}

impl Keys {
    fn for_caller(&self, caller: &Caller) -> Vec<String> {
        match self {
            Keys::Fixed(v) => v.clone(),
            Keys::PerCaller(named) => {
                let mut v = named.clone();
                if let Some(a) = &caller.account {
                    v.push(format!("arn:aws:kms:us-east-1:{}:key/keyward-check", a.0));
                }
                v.push(format!(
                    "arn:aws:kms:us-east-1:{STRANGER}:key/keyward-check"
                ));
                v
            }
        }
    }
}

/// PASS when every request `new` allows, `old` allows too.
pub fn no_new_access(old: &Subject, new: &Subject) -> CheckReport {
    let home = home_account(&[old, new]);
    let all = callers(&[old, new], &home);
    let resources = key_arns(&[old, new]);
    let mut report = analyse(
        "no-new-access",
        &[old, new],
        new,
        all,
        &resources,
        None,
        |req, iam| {
            let n = decide(new.world(iam), req);
            let o = decide(old.world(iam), req);
            (n.is_allow() && !o.is_allow()).then_some(Some(o))
        },
    );
    // The old policy's side of each witness: why it denies.
    for w in &mut report.witnesses {
        if let Some(caller) = w.caller()
            && let Some(req) = w.request(&caller)
        {
            w.baseline_reason = Some(explain(old.world(w.iam_allows_everything), &req).reason);
        }
    }
    report
}

/// PASS when no request for `actions` (by `principals`, if given) is allowed.
pub fn access_not_granted(
    subject: &Subject,
    actions: &[Action],
    principals: &[Caller],
) -> CheckReport {
    let who = if principals.is_empty() {
        callers(&[subject], &home_account(&[subject]))
    } else {
        principals.to_vec()
    };
    let resources = key_arns(&[subject]);
    analyse(
        "access-not-granted",
        &[subject],
        subject,
        who,
        &resources,
        Some(actions),
        |req, iam| decide(subject.world(iam), req).is_allow().then_some(None),
    )
}

/// PASS when no principal outside the key's account can reach any action.
/// The key's account is `account` when given, else [`home_account`].
pub fn no_public_access(subject: &Subject, account: Option<&AccountId>) -> CheckReport {
    let home = account.cloned().unwrap_or_else(|| home_account(&[subject]));
    let outside = callers(&[subject], &home)
        .into_iter()
        .filter(|c| c.account.is_some() && c.account.as_ref() != Some(&home))
        .collect();
    let resource = Keys::Fixed(vec![format!(
        "arn:aws:kms:us-east-1:{}:key/keyward-check",
        home.0
    )]);
    analyse(
        "no-public-access",
        &[subject],
        subject,
        outside,
        &resource,
        None,
        |req, iam| decide(subject.world(iam), req).is_allow().then_some(None),
    )
}

use crate::lint::Finding;

impl Witness {
    /// The caller of the request this witness stands for.
    pub fn caller(&self) -> Option<Caller> {
        Caller::parse(&self.principal).ok()
    }

    /// The request this witness stands for, by `caller` (see
    /// [`Witness::caller`]), ready to decide again.
    pub fn request<'a>(&'a self, caller: &'a Caller) -> Option<Request<'a>> {
        let mut b = Request::builder(caller, Action::parse(&self.action)?)
            .resource(self.resource.as_str())
            .encryption_context_map(&self.encryption_context);
        for (k, v) in &self.context {
            b = b.context_value(k, v.borrowed());
        }
        Some(b.build())
    }
}

impl CheckReport {
    /// The report as findings on the checked document, for the linter's
    /// output formats.
    pub fn findings(&self, checked_document: &str) -> Vec<Finding> {
        let code = match self.check {
            "no-new-access" => &RULES[1],
            "access-not-granted" => &RULES[2],
            _ => &RULES[3],
        };
        let mut out = Vec::new();
        for w in &self.witnesses {
            let origin = w
                .allowed_by
                .iter()
                .find(|d| d.origin.document == checked_document);
            let span = origin.map_or(crate::policy::Span::new(0, 1), |d| d.origin.span);
            let ctx: Vec<String> = w
                .encryption_context
                .iter()
                .map(|(k, v)| format!("encryption context {k}={v}"))
                .chain(w.context.iter().map(|(k, v)| {
                    format!(
                        "{k}={}",
                        match v {
                            ContextValue::One(s) => s.to_string(),
                            ContextValue::Many(vs) => format!("{vs:?}"),
                        }
                    )
                }))
                .collect();
            let iam = if w.iam_allows_everything {
                " with an IAM policy that allows it"
            } else {
                ""
            };
            out.push(
                Finding::new(
                    code,
                    span,
                    format!(
                        "{} may call {} on {}{iam}{}",
                        w.principal,
                        w.action,
                        w.resource,
                        if ctx.is_empty() {
                            String::new()
                        } else {
                            format!(" with {}", ctx.join(", "))
                        }
                    ),
                )
                .label("allows it"),
            );
        }
        for u in &self.undecided {
            out.push(
                Finding::new(
                    &RULES[0],
                    crate::policy::Span::new(0, 1),
                    format!("not decided: {u}"),
                )
                .label("may"),
            );
        }
        out
    }

    /// The report for people.
    pub fn render_text(&self) -> String {
        let mut out = format!("{}: {}\n", self.check, self.result());
        for w in &self.witnesses {
            out.push_str(&format!(
                "\n  {} {} on {}\n",
                w.principal, w.action, w.resource
            ));
            for (k, v) in &w.encryption_context {
                out.push_str(&format!("    encryption context {k} = {v:?}\n"));
            }
            for (k, v) in &w.context {
                out.push_str(&format!(
                    "    {k} = {}\n",
                    serde_json::to_string(v).unwrap_or_default()
                ));
            }
            out.push_str(&format!(
                "    IAM: {}\n    decision: {}{}\n",
                if w.iam_allows_everything {
                    "an IAM policy of the caller allows it"
                } else {
                    "no IAM policy"
                },
                w.decision,
                w.baseline_decision
                    .map(|b| format!(" (before: {b})"))
                    .unwrap_or_default()
            ));
            if let Some(r) = &w.baseline_reason {
                out.push_str(&format!("    before: {r}\n"));
            }
            for d in &w.allowed_by {
                out.push_str(&format!("    allowed by {} {}\n", d.source, d.origin));
            }
        }
        for u in &self.undecided {
            out.push_str(&format!("\n  may: not decided exactly: {u}\n"));
        }
        out
    }
}
