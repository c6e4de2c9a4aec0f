//! `keyward check blast-radius` over a data directory the key service
//! wrote: a role named in one key policy, reaching another key through its
//! IAM policy only under a tenant context, holding a grant on a third, and
//! not reaching a fourth; every path found, every plan item justified.

use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::{Value, json};

use crate::cli::keyward;

const ROLE: &str = "arn:aws:iam::111122223333:role/Ingest";

fn root_statement() -> Value {
    json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"})
}

#[test]
fn every_path_of_a_compromised_role_and_the_plan() {
    let dir = std::env::temp_dir().join(format!("keyward-blast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let iam = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "TenantADecrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}}}]});
    std::fs::write(
        dir.join("identities.json"),
        json!({"identities": [{"access_key_id": "AKIAINGEST0000000001", "secret_access_key": "s",
                               "principal": ROLE, "iam_policies": [iam]}]})
        .to_string(),
    )
    .expect("identities");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("admin"));
    let create = |policy: Value| {
        svc.call(
            &admin,
            "CreateKey",
            &json!({"Policy": policy.to_string(), "BypassPolicyLockoutSafetyCheck": true}),
        )
        .expect("key")["KeyMetadata"]["Arn"]
            .as_str()
            .expect("arn")
            .to_owned()
    };
    let named = create(
        json!({"Version": "2012-10-17", "Statement": [root_statement(),
        {"Sid": "IngestWrites", "Effect": "Allow", "Principal": {"AWS": ROLE},
         "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*"}]}),
    );
    let delegated = create(json!({"Version": "2012-10-17", "Statement": [root_statement()]}));
    let granted = create(json!({"Version": "2012-10-17", "Statement": [root_statement()]}));
    let untouched = create(json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyTheAdmin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"},
         "Action": "kms:*", "Resource": "*"}]}));
    let grant = svc
        .call(
            &admin,
            "CreateGrant",
            &json!({"KeyId": granted, "GranteePrincipal": ROLE,
            "Operations": ["Decrypt", "CreateGrant"],
            "Constraints": {"EncryptionContextSubset": {"tenant": "b"}}}),
        )
        .expect("grant")["GrantId"]
        .as_str()
        .expect("id")
        .to_owned();
    drop(svc);

    let d = dir.to_str().expect("path");
    let (code, out, err) = keyward(&["check", "blast-radius", "--principal", ROLE, "--data", d]);
    assert_eq!(code, 1, "the role reaches keys: {err}");
    assert!(
        out.contains("blast radius of arn:aws:iam::111122223333:role/Ingest: 3 keys reached"),
        "{out}"
    );
    assert!(
        !out.contains(&untouched),
        "a key the role cannot reach is not listed: {out}"
    );
    // The plan (one line per item): every item traces to a path.
    let plan: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .collect();
    let has = |text: &str| plan.iter().any(|l| l.contains(text));
    assert!(
        has(&format!("revoke grant {grant} on {granted} (RevokeGrant)")),
        "{plan:?}"
    );
    assert!(
        has(&format!("lets {ROLE} create grants on {granted}")),
        "{plan:?}"
    );
    assert!(
        has(&format!(
            "remove {ROLE} from key policy statement #1 \"IngestWrites\""
        )),
        "{plan:?}"
    );
    assert!(
        has("remove or narrow IAM policy statement #0 \"TenantADecrypt\""),
        "{plan:?}"
    );
    assert!(
        has(&format!("rotate {named}")) && has("already unwrapped stay exposed"),
        "{plan:?}"
    );

    // The findings, in the linter's JSON.
    let (_, json_out, _) = keyward(&[
        "check",
        "blast-radius",
        "--principal",
        ROLE,
        "--data",
        d,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&json_out).expect("json");
    assert_eq!(v["principal"], json!(ROLE));
    let findings = v["findings"].as_array().expect("findings");
    let about = |key: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["file"].as_str().is_some_and(|p| p.starts_with(key)))
            .map(|f| {
                format!(
                    "{} {}",
                    f["code"].as_str().unwrap_or(""),
                    f["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    // The named key: its statement and operations.
    assert!(
        about(&named).iter().any(|m| m.starts_with("KC004")
            && m.contains("can call kms:Encrypt, kms:GenerateDataKey on this key")),
        "{:?}",
        about(&named)
    );
    // The delegated key: Decrypt only under tenant a, through the IAM policy.
    assert!(
        about(&delegated).iter().any(|m| m
            .contains("kms:Decrypt only with kms:EncryptionContext:tenant = \"a\"")
            && m.contains("through its IAM policy")),
        "{:?}",
        about(&delegated)
    );
    // The grant, with its operations and constraint.
    assert!(
        about(&granted).iter().any(|m| m.starts_with("KC005")
            && m.contains(&format!("holds grant {grant}: Decrypt, CreateGrant"))
            && m.contains("\"tenant\":\"b\"")),
        "{:?}",
        about(&granted)
    );
    assert!(about(&untouched).is_empty());

    // A principal with no path: nothing to contain, exit 0.
    let (code, out, _) = keyward(&[
        "check",
        "blast-radius",
        "--principal",
        "arn:aws:iam::444455556666:role/Other",
        "--data",
        d,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to contain"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
