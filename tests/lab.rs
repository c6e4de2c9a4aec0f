//! `keyward lab`, run as a user runs it, and the regression the lab's
//! lesson asks for: the unsafe path — one tenant unwrapping another's data
//! key by copying its encryption context — stays blocked.

use keyward::eval::Caller;
use keyward::service::{ErrorKind, Identity};
use serde_json::json;

use crate::cli::keyward;
use crate::service::env;

/// The walkthrough with what changes from run to run (ids, times) replaced.
fn normalised(text: &str) -> String {
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("regex");
    let time = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").expect("regex");
    let text = uuid.replace_all(text, "<id>");
    time.replace_all(&text, "<time>").into_owned()
}

#[test]
fn the_lab_runs_every_step_as_the_lesson_says() {
    let (code, out, err) = keyward(&["lab"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Every step behaved as the lesson says."),
        "{out}"
    );
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("lab_walkthrough", normalised(&out));
    });
}

#[test]
fn the_lab_report_marks_the_enforcing_component_and_the_visibility_gap() {
    let (code, out, err) = keyward(&["lab", "--format", "markdown"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# keyward lab"));
    assert_eq!(out.matches("```mermaid").count(), 2, "before and after");
    assert!(out.contains("(the enforcing component)"));
    assert!(out.contains("visibility gap"));
    assert!(out.contains("## 6. The stale assumption"));
}

fn worker(arn: &str, tenant: &str) -> Identity {
    let mut id = Identity::new(Caller::parse(arn).expect("caller"));
    id.tags.insert("tenant".into(), tenant.into());
    id
}

#[test]
fn tenant_b_cannot_unwrap_tenant_a_data_key_once_context_is_bound() {
    let e = env();
    let admin = Identity::new(Caller::parse("111122223333").expect("admin"));
    let a = worker("arn:aws:iam::111122223333:role/tenant-a-worker", "a");
    let b = worker("arn:aws:iam::111122223333:role/tenant-b-worker", "b");
    let statement = |cond: serde_json::Value| {
        let mut s = json!({"Sid": "Workers", "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:role/tenant-a-worker", "arn:aws:iam::111122223333:role/tenant-b-worker"]},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"});
        if !cond.is_null() {
            s["Condition"] = cond;
        }
        s
    };
    let admin_statement = json!({"Sid": "Admin", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:PutKeyPolicy", "Resource": "*"});
    let unsafe_policy =
        json!({"Version": "2012-10-17", "Statement": [admin_statement, statement(json!(null))]});
    let key = e
        .svc
        .call(
            &admin,
            "CreateKey",
            &json!({"Policy": unsafe_policy.to_string()}),
        )
        .expect("key")["KeyMetadata"]["Arn"]
        .clone();
    let context = json!({"tenant": "a", "record": "r-1"});
    let dk = e
        .svc
        .call(
            &a,
            "GenerateDataKey",
            &json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": context}),
        )
        .expect("data key");
    let stolen = json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": context});
    // The unsafe path, as the lab shows it.
    e.svc
        .call(&b, "Decrypt", &stolen)
        .expect("the unsafe policy lets B in");
    let bound = json!({"Version": "2012-10-17", "Statement": [admin_statement,
        statement(json!({"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}))]});
    e.svc
        .call(
            &admin,
            "PutKeyPolicy",
            &json!({"KeyId": key, "Policy": bound.to_string()}),
        )
        .expect("harden");
    let refused = e.svc.call(&b, "Decrypt", &stolen).expect_err("B stays out");
    assert_eq!(refused.kind, ErrorKind::AccessDenied);
    // Without a tenant tag, the variable does not resolve: still refused.
    let untagged =
        Identity::new(Caller::parse("arn:aws:iam::111122223333:role/tenant-b-worker").expect("c"));
    assert!(e.svc.call(&untagged, "Decrypt", &stolen).is_err());
    let plain = e
        .svc
        .call(&a, "Decrypt", &stolen)
        .expect("A still opens its own");
    assert_eq!(plain["Plaintext"], dk["Plaintext"]);
}
