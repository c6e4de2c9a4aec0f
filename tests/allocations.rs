//! How many heap allocations the hot path makes: building the request the
//! key service builds for a Decrypt through EC2 and deciding it. A count,
//! not a time, so it holds on any machine; a change that makes the request
//! copy again fails here before a benchmark notices.
//!
//! Its own test binary: it counts through the global allocator (the
//! `allocation-counter` crate's, which counts per thread).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

// The counting allocator: `allocation_counter` replaces the global
// allocator in the binary that links it, which is this one alone.
use allocation_counter::measure;
use keyward::catalog::{Action, ContextKey};
use keyward::compile::{CompiledPolicy, DecisionTable, PolicyKind};
use keyward::eval::{Caller, ContextValue, DecisionKind, Request, decide};
use keyward::policy::ast::AccountId;
use keyward::policy::{Source, parse_policy};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn building_and_deciding_the_service_request_allocates_twice_at_most() {
    let source = Source::new("ebs.json", include_str!("../policies/ebs.json"));
    let policy = parse_policy(&source).expect("parses");
    let table = DecisionTable::new(
        CompiledPolicy::compile(&policy, PolicyKind::KeyPolicy, &source).expect("compiles"),
    );
    // What the service holds before the request: the caller (parsed when
    // the identities were loaded), the key's record, the decoded input, and
    // the condition keys it sets, resolved once.
    let caller =
        Caller::parse("arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc").expect("caller");
    let account = AccountId("111122223333".into());
    let now = time::OffsetDateTime::now_utc();
    let context: BTreeMap<String, String> = [(
        "aws:ec2:arn".to_owned(),
        "arn:aws:ec2:us-east-1:111122223333:volume/vol-1".to_owned(),
    )]
    .into();
    let tags = BTreeMap::new();
    let algorithm = ContextValue::one("SYMMETRIC_DEFAULT".to_owned());
    let (spec, usage, origin, multi, algo) = (
        ContextKey::new("kms:KeySpec"),
        ContextKey::new("kms:KeyUsage"),
        ContextKey::new("kms:KeyOrigin"),
        ContextKey::new("kms:MultiRegion"),
        ContextKey::new("kms:EncryptionAlgorithm"),
    );
    let run = || {
        let action = Action::from_operation("Decrypt").expect("action");
        let req = Request::builder(&caller, action)
            .secure_transport(true)
            .current_time(now)
            .resource(KEY)
            .key_account(&account)
            .context_key(&spec, "SYMMETRIC_DEFAULT")
            .context_key(&usage, "ENCRYPT_DECRYPT")
            .context_key(&origin, "AWS_KMS")
            .context_key(&multi, "false")
            .context_key(&algo, algorithm.borrowed())
            .source_ip("10.1.2.3".parse().expect("ip"))
            .via_service("ec2.us-east-1.amazonaws.com")
            .principal_tags(&tags)
            .encryption_context_map(&context)
            .build();
        decide(&table, &req)
    };
    // The first run may initialise what is built once per process.
    assert_eq!(run(), DecisionKind::Allow);
    let mut decision = None;
    let n = measure(|| decision = Some(run())).count_total;
    assert_eq!(decision, Some(DecisionKind::Allow));
    // The request's parts (one box) and the keys the service set (one
    // vector): nothing is copied.
    assert!(n <= 2, "building and deciding allocated {n} times");
}
