//! Invariants over random policies, grants and requests drawn from a small
//! vocabulary: monotonicity of deny and allow, and agreement between the
//! fast path and the explained path.

use keyward::compile::DecisionTable;
use keyward::eval::{DecisionKind, Request, decide, explain};
use proptest::prelude::*;

use crate::support::*;

const PRINCIPALS: &[&str] = &[
    r#""Principal": "*""#,
    r#""Principal": {"AWS": "111122223333"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:root"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:role/A"}"#,
    r#""Principal": {"AWS": ["arn:aws:iam::111122223333:role/B", "arn:aws:iam::111122223333:user/bob"]}"#,
    r#""Principal": {"AWS": "444455556666"}"#,
    r#""NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/A"}"#,
];

const ACTIONS: &[&str] = &[
    r#""Action": "kms:Decrypt""#,
    r#""Action": "kms:Encrypt""#,
    r#""Action": "kms:*""#,
    r#""Action": ["kms:Decrypt", "kms:GenerateDataKey*"]"#,
    r#""NotAction": "kms:Decrypt""#,
];

const CONDITIONS: &[&str] = &[
    "",
    r#", "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}}"#,
    r#", "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}}"#,
    r#", "Condition": {"Null": {"kms:EncryptionContext:tenant": "true"}}"#,
    r#", "Condition": {"StringEqualsIfExists": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
    r#", "Condition": {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "t*"}}"#,
    r#", "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}"#,
    r#", "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
];

const CALLERS: &[&str] = &[
    "arn:aws:sts::111122223333:assumed-role/A/s",
    "arn:aws:sts::111122223333:assumed-role/B/s",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::444455556666:role/E",
];

const REQUEST_ACTIONS: &[&str] = &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];

#[derive(Debug, Clone)]
struct Stmt {
    allow: bool,
    principal: usize,
    action: usize,
    condition: usize,
}

impl Stmt {
    fn json(&self, with_principal: bool) -> String {
        let effect = if self.allow { "Allow" } else { "Deny" };
        let principal = if with_principal {
            format!("{}, ", PRINCIPALS[self.principal])
        } else {
            String::new()
        };
        format!(
            r#"{{"Effect": "{effect}", {principal}{}, "Resource": "*"{}}}"#,
            ACTIONS[self.action], CONDITIONS[self.condition]
        )
    }
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        0..PRINCIPALS.len(),
        0..ACTIONS.len(),
        0..CONDITIONS.len(),
    )
        .prop_map(|(allow, principal, action, condition)| Stmt {
            allow,
            principal,
            action,
            condition,
        })
}

#[derive(Debug, Clone)]
struct World {
    key: Vec<Stmt>,
    iam: Vec<Stmt>,
    grants: Vec<(usize, bool, Option<&'static str>)>,
}

impl World {
    fn key_json(&self) -> String {
        let key: Vec<String> = self.key.iter().map(|s| s.json(true)).collect();
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            key.join(",")
        )
    }

    fn table(&self) -> DecisionTable {
        let key: Vec<String> = self.key.iter().map(|s| s.json(true)).collect();
        let mut table = DecisionTable::new(key_policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            key.join(",")
        )));
        if !self.iam.is_empty() {
            let iam: Vec<String> = self.iam.iter().map(|s| s.json(false)).collect();
            table = table.with_iam_policy(iam_policy(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
                iam.join(",")
            )));
        }
        let grants: Vec<String> = self
            .grants
            .iter()
            .map(|(who, decrypt, tenant)| {
                let who = ["A", "B"][*who];
                let op = if *decrypt { "Decrypt" } else { "Encrypt" };
                let c = tenant
                    .map(|t| format!(r#", "Constraints": {{"EncryptionContextSubset": {{"tenant": "{t}"}}}}"#))
                    .unwrap_or_default();
                format!(
                    r#"{{"GranteePrincipal": "arn:aws:iam::111122223333:role/{who}", "Operations": ["{op}"]{c}}}"#
                )
            })
            .collect();
        table.with_grants(crate::support::grants(&format!("[{}]", grants.join(","))))
    }

    /// The key policy and grants as a `keyward check` subject.
    fn subject(&self, grants_of: &World) -> keyward::check::Subject {
        let t = grants_of.table();
        keyward::check::Subject::new(key_policy(&self.key_json()), (*t.grants).clone())
    }
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(stmt(), 0..5),
        prop::collection::vec(stmt(), 0..3),
        prop::collection::vec(
            (
                0..2usize,
                any::<bool>(),
                prop::option::of(prop::sample::select(vec!["a", "b"])),
            ),
            0..2,
        ),
    )
        .prop_map(|(key, iam, grants)| World { key, iam, grants })
}

fn requests() -> Vec<Request<'static>> {
    let mut out = Vec::new();
    for c in CALLERS {
        for a in REQUEST_ACTIONS {
            for tenant in [None, Some("a"), Some("b")] {
                for via in [false, true] {
                    for tag in [None, Some("a")] {
                        let mut r = request(c, a);
                        if let Some(t) = tenant {
                            r = r.encryption_context("tenant", t);
                        }
                        if via {
                            r = r.via_service("ec2.us-east-1.amazonaws.com");
                        }
                        if let Some(t) = tag {
                            r = r.principal_tag("tenant", t);
                        }
                        out.push(r.build());
                    }
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn adding_a_deny_never_allows_more(w in world(), extra in stmt(), in_iam in any::<bool>()) {
        let before = w.table();
        let mut more = w.clone();
        let deny = Stmt { allow: false, ..extra };
        if in_iam { more.iam.push(deny) } else { more.key.push(deny) }
        let after = more.table();
        for r in requests() {
            let (b, a) = (decide(&before, &r), decide(&after, &r));
            prop_assert!(!(a == DecisionKind::Allow && b != DecisionKind::Allow),
                "deny turned {b:?} into {a:?} for {:?} by {}", r.action, r.caller);
            prop_assert!(!(b == DecisionKind::ExplicitDeny && a != DecisionKind::ExplicitDeny));
        }
    }

    #[test]
    fn adding_an_allow_never_denies_more(w in world(), extra in stmt(), in_iam in any::<bool>()) {
        let before = w.table();
        let mut more = w.clone();
        let allow = Stmt { allow: true, ..extra };
        if in_iam { more.iam.push(allow) } else { more.key.push(allow) }
        let after = more.table();
        for r in requests() {
            let (b, a) = (decide(&before, &r), decide(&after, &r));
            prop_assert!(!(b == DecisionKind::Allow && a != DecisionKind::Allow),
                "allow turned {b:?} into {a:?} for {:?} by {}", r.action, r.caller);
        }
    }

    #[test]
    fn no_new_access_pass_is_a_proof(p in world(), q in world()) {
        let (sp, sq) = (p.subject(&p), q.subject(&p));
        let report = keyward::check::no_new_access(&sp, &sq);
        if report.pass {
            for r in requests() {
                for iam in [false, true] {
                    prop_assert!(!sq.decide(iam, &r).is_allow() || sp.decide(iam, &r).is_allow(),
                        "PASS, yet {:?} by {} is allowed only by the new policy (IAM allows: {iam})", r.action, r.caller);
                }
            }
        }
        for w in &report.witnesses {
            let caller = w.caller().expect("caller");
            let req = w.request(&caller).expect("request");
            prop_assert!(sq.decide(w.iam_allows_everything, &req).is_allow());
            prop_assert!(!sp.decide(w.iam_allows_everything, &req).is_allow());
        }
    }

    #[test]
    fn explanation_agrees_with_the_fast_path(w in world()) {
        let table = w.table();
        for r in requests() {
            let e = explain(&table, &r);
            prop_assert_eq!(e.decision, decide(&table, &r));
            prop_assert_eq!(e.decided_by.is_empty(), e.decision == DecisionKind::ImplicitDeny);
        }
    }
}
