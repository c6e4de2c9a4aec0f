//! Decision latency on compiled tables, and compile time.
//!
//! Run: `cargo bench --bench decide`. Each group also measures a baseline
//! in the same run where one exists (a linear grant scan, or the explained
//! decision), so figures can be reported as ratios.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

/// The allocator the `keyward` binary ships with, so figures are the
/// product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::catalog::Action;
use keyward::compile::{CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use keyward::eval::{Caller, ContextValue, DecisionKind, Request, decide, explain, grant_allows};
use keyward::policy::{Source, parse_grants, parse_policy};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn key_policy(name: &str, text: &str) -> CompiledPolicy {
    let source = Source::new(name, text);
    let policy = parse_policy(&source).expect("parses");
    CompiledPolicy::compile(&policy, PolicyKind::KeyPolicy, &source).expect("compiles")
}

/// A caller for the whole run (a request borrows its caller).
fn caller(arn: &str) -> &'static Caller {
    Box::leak(Box::new(Caller::parse(arn).expect("caller")))
}

fn req(who: &str, action: &str) -> keyward::eval::RequestBuilder<'static> {
    Request::builder(caller(who), Action::parse(action).expect("action"))
        .resource(KEY)
        .source_ip("10.1.2.3".parse().expect("ip"))
        .secure_transport(true)
        .current_time(time::OffsetDateTime::now_utc())
}

fn ebs(c: &mut Criterion) {
    let table = DecisionTable::new(key_policy("ebs.json", include_str!("../policies/ebs.json")));
    let allow = req(
        "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc",
        "kms:Decrypt",
    )
    .via_service("ec2.us-east-1.amazonaws.com")
    .encryption_context(
        "aws:ec2:arn",
        "arn:aws:ec2:us-east-1:111122223333:volume/vol-1",
    )
    .build();
    let deny = req(
        "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc",
        "kms:Decrypt",
    )
    .encryption_context(
        "aws:ec2:arn",
        "arn:aws:ec2:us-east-1:111122223333:volume/vol-1",
    )
    .build();
    assert_eq!(decide(&table, &allow), DecisionKind::Allow);
    assert_eq!(decide(&table, &deny), DecisionKind::ImplicitDeny);
    let mut g = c.benchmark_group("ebs");
    g.bench_function("decide_allow_via_ec2", |b| {
        b.iter(|| decide(black_box(&table), black_box(&allow)))
    });
    g.bench_function("decide_implicit_deny", |b| {
        b.iter(|| decide(black_box(&table), black_box(&deny)))
    });
    g.bench_function("explain_allow_via_ec2", |b| {
        b.iter(|| explain(black_box(&table), black_box(&allow)))
    });
    // What the service does per request (service/access.rs,
    // `build_request`): from the authenticated caller (parsed once, when
    // the identities were loaded), the operation's name, the key's record
    // and the decoded input to the decision. The request borrows them all.
    let caller =
        Caller::parse("arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc").expect("caller");
    let now = time::OffsetDateTime::now_utc();
    let ip: std::net::IpAddr = "10.1.2.3".parse().expect("ip");
    let account = keyward::policy::ast::AccountId("111122223333".into());
    let (spec, usage, origin) = (
        "SYMMETRIC_DEFAULT".to_owned(),
        "ENCRYPT_DECRYPT".to_owned(),
        "AWS_KMS".to_owned(),
    );
    let via = "ec2.us-east-1.amazonaws.com".to_owned();
    let context: std::collections::BTreeMap<String, String> = [(
        "aws:ec2:arn".to_owned(),
        "arn:aws:ec2:us-east-1:111122223333:volume/vol-1".to_owned(),
    )]
    .into();
    let algorithm = ContextValue::one("SYMMETRIC_DEFAULT".to_owned());
    let tags = std::collections::BTreeMap::new();
    // The keys the service sets on every request, resolved once as
    // service/access.rs resolves them.
    let key = keyward::catalog::ContextKey::new;
    let (k_spec, k_usage, k_origin, k_multi) = (
        key("kms:KeySpec"),
        key("kms:KeyUsage"),
        key("kms:KeyOrigin"),
        key("kms:MultiRegion"),
    );
    g.bench_function("build_request_and_decide_allow_via_ec2", |b| {
        b.iter(|| {
            let action = Action::from_operation(black_box("Decrypt")).expect("action");
            let req = Request::builder(&caller, action)
                .secure_transport(true)
                .current_time(now)
                .resource(KEY)
                .key_account(&account)
                .context_key(&k_spec, spec.as_str())
                .context_key(&k_usage, usage.as_str())
                .context_key(&k_origin, origin.as_str())
                .context_key(&k_multi, "false")
                .source_ip(ip)
                .via_service(via.as_str())
                .context_value("kms:EncryptionAlgorithm", algorithm.borrowed())
                .principal_tags(&tags)
                .encryption_context_map(&context)
                .build();
            decide(black_box(&table), &req)
        })
    });
    g.finish();
}

fn twenty(c: &mut Criterion) {
    let table = DecisionTable::new(key_policy(
        "large-20.json",
        include_str!("../policies/large-20.json"),
    ));
    // The last statement allows; three denies with conditions run first.
    let allow = req(
        "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc",
        "kms:Decrypt",
    )
    .via_service("ec2.us-east-1.amazonaws.com")
    .encryption_context(
        "aws:ec2:arn",
        "arn:aws:ec2:us-east-1:111122223333:volume/vol-1",
    )
    .build();
    let analytics = req(
        "arn:aws:sts::111122223333:assumed-role/Analytics/q",
        "kms:Decrypt",
    )
    .principal_tag("team", "growth")
    .encryption_context("team", "growth")
    .encryption_context("dataset", "events")
    .build();
    assert_eq!(decide(&table, &allow), DecisionKind::Allow);
    assert_eq!(decide(&table, &analytics), DecisionKind::Allow);
    let mut g = c.benchmark_group("twenty_statements");
    g.bench_function("decide_allow_last_statement", |b| {
        b.iter(|| decide(black_box(&table), black_box(&allow)))
    });
    g.bench_function("decide_allow_policy_variable", |b| {
        b.iter(|| decide(black_box(&table), black_box(&analytics)))
    });
    g.finish();
}

fn grants(c: &mut Criterion) {
    let mut list = Vec::new();
    for i in 0..10_000 {
        list.push(format!(
            r#"{{"GrantId": "g{i}", "GranteePrincipal": "arn:aws:iam::111122223333:role/Worker{i}", "Operations": ["Decrypt", "GenerateDataKey"], "Constraints": {{"EncryptionContextSubset": {{"tenant": "t{i}"}}}}}}"#
        ));
    }
    let text = format!("[{}]", list.join(","));
    let source = Source::new("grants.json", text.as_str());
    let parsed = parse_grants(&source).expect("grants parse");
    let index = GrantIndex::compile(&parsed, &source).expect("grants compile");
    let one_source = Source::new("one.json", format!("[{}]", list[7_777]));
    let one = GrantIndex::compile(&parse_grants(&one_source).expect("parse"), &one_source)
        .expect("compile");
    let policy = key_policy(
        "default.json",
        include_str!("../policies/default-key-policy.json"),
    );
    let many = DecisionTable::new(policy.clone()).with_grants(index.clone());
    let single = DecisionTable::new(policy).with_grants(one);
    let request = req(
        "arn:aws:sts::111122223333:assumed-role/Worker7777/run",
        "kms:Decrypt",
    )
    .encryption_context("tenant", "t7777")
    .build();
    assert_eq!(decide(&many, &request), DecisionKind::Allow);
    assert_eq!(decide(&single, &request), DecisionKind::Allow);
    let mut g = c.benchmark_group("grants");
    g.bench_function("decide_10000_grants", |b| {
        b.iter(|| decide(black_box(&many), black_box(&request)))
    });
    g.bench_function("decide_1_grant", |b| {
        b.iter(|| decide(black_box(&single), black_box(&request)))
    });
    // Baseline: what the index saves, a scan of every grant on the key.
    g.bench_function("baseline_linear_scan_10000", |b| {
        b.iter(|| {
            index.iter().any(|gr| {
                request.caller.arns().any(|a| a == gr.grantee)
                    && grant_allows(gr, black_box(&request))
            })
        })
    });
    g.finish();
}

/// A key policy of about 32 KB (the KMS limit) built from the 20-statement
/// example's statements, renamed so every Sid stays unique.
fn policy_32k() -> String {
    let base: serde_json::Value =
        serde_json::from_str(include_str!("../policies/large-20.json")).expect("json");
    let stmts = base["Statement"].as_array().expect("statements").clone();
    let mut out = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < 31_000 {
        let mut s = stmts[i % stmts.len()].clone();
        s["Sid"] = serde_json::Value::String(format!("S{i}"));
        let text = serde_json::to_string(&s).expect("ser");
        size += text.len() + 1;
        out.push(text);
        i += 1;
    }
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        out.join(",")
    )
}

fn compile(c: &mut Criterion) {
    let text = policy_32k();
    assert!(text.len() <= 32 * 1024, "{}", text.len());
    let source = Source::new("32k.json", text.as_str());
    let mut g = c.benchmark_group("compile");
    g.bench_function("parse_and_compile_32KB", |b| {
        b.iter(|| {
            let p = parse_policy(black_box(&source)).expect("parse");
            CompiledPolicy::compile(&p, PolicyKind::KeyPolicy, &source).expect("compile")
        })
    });
    g.bench_function("parse_only_32KB", |b| {
        b.iter(|| parse_policy(black_box(&source)).expect("parse"))
    });
    // Baseline: serde_json reading the same text into an untyped value.
    g.bench_function("baseline_serde_json_value_32KB", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&text)).expect("json"))
    });
    g.finish();
}

fn check(c: &mut Criterion) {
    use keyward::check::{self, Subject};
    let old_text = include_str!("../policies/large-20.json");
    // The same policy with one condition relaxed: a real widening.
    let new_text = old_text
        .replace(
            r#""kms:EncryptionContext:team": "${aws:PrincipalTag/team}""#,
            r#""kms:EncryptionContext:team": "*""#,
        )
        .replace(
            r#""StringEquals": {
          "kms:EncryptionContext:team""#,
            r#""StringLike": {
          "kms:EncryptionContext:team""#,
        );
    let old = Subject::new(key_policy("old.json", old_text), GrantIndex::default());
    let new = Subject::new(key_policy("new.json", &new_text), GrantIndex::default());
    assert!(check::no_new_access(&old, &old).pass);
    assert!(!check::no_new_access(&old, &new).pass);
    let decrypt = [Action::parse("kms:Decrypt").expect("action")];
    let mut g = c.benchmark_group("check_twenty_statements");
    g.sample_size(20);
    g.bench_function("no_new_access_pass", |b| {
        b.iter(|| check::no_new_access(black_box(&old), black_box(&old)))
    });
    g.bench_function("no_new_access_fail", |b| {
        b.iter(|| check::no_new_access(black_box(&old), black_box(&new)))
    });
    g.bench_function("no_public_access", |b| {
        b.iter(|| check::no_public_access(black_box(&old), None))
    });
    g.bench_function("access_not_granted_decrypt", |b| {
        b.iter(|| check::access_not_granted(black_box(&old), &decrypt, &[]))
    });
    g.finish();
}

criterion_group!(benches, ebs, twenty, grants, compile, check);
criterion_main!(benches);
