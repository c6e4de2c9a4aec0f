//! Explanations as people and machines read them.

use keyward::compile::{DecisionTable, PolicyKind};
use keyward::eval::{DecisionKind, explain};

use crate::support::*;

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn ebs() -> DecisionTable {
    DecisionTable::new(example("ebs.json", PolicyKind::KeyPolicy))
}

const APP_SERVER: &str = "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc";
const VOLUME: &str = "arn:aws:ec2:us-east-1:111122223333:volume/vol-1";

#[test]
fn allow_through_ec2() {
    let req = request(APP_SERVER, "kms:Decrypt")
        .via_service("ec2.us-east-1.amazonaws.com")
        .encryption_context("aws:ec2:arn", VOLUME)
        .build();
    let e = explain(&ebs(), &req);
    assert_eq!(e.decision, DecisionKind::Allow);
    snapshot!("explain_ebs_allow", e.render_text());
}

#[test]
fn implicit_deny_names_the_failing_condition() {
    let req = request(APP_SERVER, "kms:Decrypt")
        .encryption_context("aws:ec2:arn", VOLUME)
        .build();
    let e = explain(&ebs(), &req);
    assert_eq!(e.decision, DecisionKind::ImplicitDeny);
    snapshot!("explain_ebs_implicit_deny", e.render_text());
    let json = serde_json::to_value(&e).unwrap_or_default();
    assert_eq!(json["decision"], "ImplicitDeny");
    let failed = &json["statements"][2]["failed"];
    assert_eq!(failed["element"], "condition");
    assert_eq!(failed["key"], "kms:ViaService");
    assert_eq!(failed["actual"], serde_json::Value::Null);
    assert_eq!(failed["expected"][0], "ec2.us-east-1.amazonaws.com");
}

#[test]
fn explicit_deny_names_every_deny_that_applied() {
    let table = DecisionTable::new(example("tenant-binding.json", PolicyKind::KeyPolicy));
    let req = request(
        "arn:aws:sts::111122223333:assumed-role/TenantService/s",
        "kms:Decrypt",
    )
    .build();
    let e = explain(&table, &req);
    assert_eq!(e.decision, DecisionKind::ExplicitDeny);
    // No tenant in the context, no tenant tag: all three denies apply (the
    // negated one holds on its absent key without resolving its variable).
    assert_eq!(e.decided_by.len(), 3);
    snapshot!("explain_tenant_explicit_deny", e.render_text());
}

#[test]
fn allow_through_iam_and_grants() {
    let table = DecisionTable::new(example("default-key-policy.json", PolicyKind::KeyPolicy))
        .with_iam_policy(example("iam-app-decrypt.json", PolicyKind::IamPolicy));
    let req = request(APP_SESSION, "kms:Decrypt").build();
    let e = explain(&table, &req);
    assert_eq!(e.decision, DecisionKind::Allow);
    assert_eq!(e.decided_by.len(), 2);
    snapshot!("explain_iam_allow", e.render_text());

    let table = DecisionTable::new(example("default-key-policy.json", PolicyKind::KeyPolicy))
        .with_grants(grants_named(
            "policies/grants.json",
            include_str!("../policies/grants.json"),
        ));
    let req = request("arn:aws:iam::444455556666:role/Reporting", "kms:Decrypt")
        .encryption_context("dept", "finance")
        .build();
    let e = explain(&table, &req);
    assert_eq!(e.decision, DecisionKind::ImplicitDeny);
    snapshot!("explain_grant_constraint", e.render_text());
}

#[test]
fn json_shape() {
    let req = request(APP_SERVER, "kms:Decrypt")
        .via_service("ec2.us-east-1.amazonaws.com")
        .encryption_context("aws:ec2:arn", VOLUME)
        .build();
    let e = explain(&ebs(), &req);
    let json = serde_json::to_string_pretty(&e).unwrap_or_default();
    snapshot!("explain_ebs_allow_json", json);
}

/// The same decisions as Mermaid flowcharts (`keyward explain --format
/// mermaid`): the deciding statements marked and linked to the decision.
#[test]
fn mermaid_flowcharts() {
    let allow = request(APP_SERVER, "kms:Decrypt")
        .via_service("ec2.us-east-1.amazonaws.com")
        .encryption_context("aws:ec2:arn", VOLUME)
        .build();
    let e = explain(&ebs(), &allow);
    let chart = e.render_mermaid();
    assert!(chart.starts_with("flowchart TD\n"));
    assert!(
        chart.contains("==> decision"),
        "the deciding statement is linked"
    );
    snapshot!("explain_ebs_allow_mermaid", chart);

    let table = DecisionTable::new(example("tenant-binding.json", PolicyKind::KeyPolicy));
    let deny = request(
        "arn:aws:sts::111122223333:assumed-role/TenantService/s",
        "kms:Decrypt",
    )
    .build();
    let e = explain(&table, &deny);
    let chart = e.render_mermaid();
    assert_eq!(
        chart.matches("==> decision").count(),
        3,
        "every deny that applied"
    );
    snapshot!("explain_tenant_explicit_deny_mermaid", chart);

    let table = DecisionTable::new(example("default-key-policy.json", PolicyKind::KeyPolicy))
        .with_grants(grants_named(
            "policies/grants.json",
            include_str!("../policies/grants.json"),
        ));
    let req = request("arn:aws:iam::444455556666:role/Reporting", "kms:Decrypt")
        .encryption_context("dept", "finance")
        .build();
    snapshot!(
        "explain_grant_constraint_mermaid",
        explain(&table, &req).render_mermaid()
    );
}

/// Policy text cannot break out of a Mermaid label.
#[test]
fn mermaid_labels_are_escaped() {
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "a\"]-->x[\"<b>", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}"#;
    let table = DecisionTable::new(key_policy(policy));
    let e = explain(&table, &request(APP_SERVER, "kms:Decrypt").build());
    let chart = e.render_mermaid();
    assert!(!chart.contains("\"]-->x"), "{chart}");
    assert!(!chart.contains("<b>"), "{chart}");
    assert!(chart.contains("#quot;"));
}
