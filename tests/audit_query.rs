//! `keyward audit query` and `keyward audit explain` over a data directory
//! the key service wrote: the questions an on-call engineer asks of the
//! log, and a recorded decision set beside today's.

use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::{Value, json};

use crate::cli::keyward;

const APP: &str = "arn:aws:iam::111122223333:role/App";
const INTRUDER: &str = "arn:aws:iam::111122223333:role/Intruder";

fn iam_decrypt() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
}

fn identity(arn: &str) -> Identity {
    let text = iam_decrypt().to_string();
    let policy = keyward::compile::compile_policy(
        &keyward::policy::Source::new("iam.json", text.as_str()),
        keyward::compile::PolicyKind::IamPolicy,
    )
    .expect("iam");
    Identity::new(Caller::parse(arn).expect("caller")).with_iam_policy(policy)
}

/// A data directory where the app encrypts and decrypts under a key whose
/// policy names only the app, and an intruder with the same IAM policy is
/// refused; the identities file holds both, as `keyward serve` reads it.
fn scene() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("keyward-auditq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let ids: Vec<Value> = [("AKIAAPP0000000000001", APP), ("AKIAINTRUDER00000001", INTRUDER)]
        .iter()
        .map(|(k, p)| json!({"access_key_id": k, "secret_access_key": format!("s-{k}"), "principal": p, "iam_policies": [iam_decrypt()]}))
        .collect();
    std::fs::write(
        dir.join("identities.json"),
        json!({"identities": ids}).to_string(),
    )
    .expect("ids");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("admin"));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": ["kms:PutKeyPolicy", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "App", "Effect": "Allow", "Principal": {"AWS": APP},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]});
    let key = svc
        .call(&admin, "CreateKey", &json!({"Policy": policy.to_string()}))
        .expect("key")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let ct = svc
        .call(
            &identity(APP),
            "Encrypt",
            &json!({"KeyId": key, "Plaintext": "aGk=", "EncryptionContext": {"tenant": "acme"}}),
        )
        .expect("encrypt")["CiphertextBlob"]
        .clone();
    let dec = json!({"CiphertextBlob": ct, "EncryptionContext": {"tenant": "acme"}});
    svc.call(&identity(APP), "Decrypt", &dec)
        .expect("app decrypts");
    svc.call(&identity(INTRUDER), "Decrypt", &dec)
        .expect_err("the intruder is refused");
    svc.sync().expect("sync");
    (dir, key)
}

fn run(args: &[&str]) -> String {
    let (code, out, err) = keyward(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

#[test]
fn queries_and_explanations() {
    let (dir, key) = scene();
    let d = dir.to_str().expect("path");
    // Every unwrap of the key: two, one of them refused.
    let out = run(&[
        "audit",
        "query",
        "--data",
        d,
        "--key",
        &key,
        "--operation",
        "Decrypt",
    ]);
    assert!(out.ends_with("2 records\n"), "{out}");
    let refused = run(&[
        "audit",
        "query",
        "--data",
        d,
        "--decision",
        "deny",
        "--format",
        "json",
    ]);
    let refused: Vec<Value> = serde_json::from_str(&refused).expect("json");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["userIdentity"]["arn"], json!(INTRUDER));
    let by_context = run(&[
        "audit",
        "query",
        "--data",
        d,
        "--context",
        "tenant=acme",
        "--principal",
        APP,
    ]);
    assert!(
        by_context.ends_with("2 records\n"),
        "Encrypt and Decrypt: {by_context}"
    );
    let none = run(&["audit", "query", "--data", d, "--context", "tenant=other"]);
    assert!(none.ends_with("0 records\n"), "{none}");
    let later = run(&[
        "audit",
        "query",
        "--data",
        d,
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(later.ends_with("0 records\n"), "{later}");

    // The refusal, explained as recorded and as today's policy decides.
    let request_id = refused[0]["requestID"].as_str().expect("id").to_owned();
    let out = run(&["audit", "explain", &request_id, "--data", d]);
    assert!(out.contains("recorded: ImplicitDeny kms:Decrypt"), "{out}");
    assert!(
        out.contains("today:    ImplicitDeny (the same as recorded)"),
        "{out}"
    );

    // The key policy changes to let the intruder in: the record still says
    // what happened, today's decision says what would happen now.
    let data = DataDir::new(&dir);
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("admin"));
    let open = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": ["kms:PutKeyPolicy", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": [APP, INTRUDER]},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]});
    svc.call(
        &admin,
        "PutKeyPolicy",
        &json!({"KeyId": key, "Policy": open.to_string()}),
    )
    .expect("put");
    svc.sync().expect("sync");
    drop(svc);
    let out = run(&["audit", "explain", &request_id, "--data", d]);
    assert!(
        out.contains("today:    Allow (CHANGED since the call"),
        "{out}"
    );
    let json_out = run(&[
        "audit",
        "explain",
        &request_id,
        "--data",
        d,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&json_out).expect("json");
    assert_eq!(v["today"]["decision"], json!("Allow"));
    assert_eq!(v["recorded"][0]["decision"], json!("ImplicitDeny"));

    // A log whose chain does not check is not read.
    let log = dir.join("audit.jsonl");
    let text = std::fs::read_to_string(&log).expect("log");
    std::fs::write(&log, text.replacen("tenant", "tenanT", 1)).expect("tamper");
    let (code, _, err) = keyward(&["audit", "query", "--data", d]);
    assert_ne!(code, 0);
    assert!(err.contains("does not verify"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
