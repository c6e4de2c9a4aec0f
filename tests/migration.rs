//! A data directory written before scopes (schema v0, `tests/data/v0-datadir`,
//! made by that version's `keyward kms`) opens and keeps working: every
//! record takes the account and Region it was created in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::service::{DataDir, ErrorKind, KeyService};
use serde_json::{Value, json};

use crate::tenancy::{err, ok, principal};

const A_ROOT: &str = "arn:aws:iam::111122223333:root";
const B_ROOT: &str = "arn:aws:iam::444455556666:root";
const WORKER: &str = "arn:aws:iam::111122223333:role/Worker";

fn fixture() -> (tempdir::Dir, Value) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v0-datadir");
    let dir = tempdir::Dir::new("migration");
    for f in ["root.key", "keyward.db", "audit.jsonl"] {
        std::fs::copy(src.join(f), dir.path.join(f)).expect("copy fixture");
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(src.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    (dir, expected)
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "keyward-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn plaintext(out: &Value) -> String {
    String::from_utf8(
        B64.decode(out["Plaintext"].as_str().unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

#[test]
fn a_v0_data_directory_opens_and_keeps_working() {
    let (dir, expected) = fixture();
    let open = || KeyService::open(&DataDir::new(&dir.path), "us-east-1").expect("open v0");
    let svc = open();
    let a = principal(A_ROOT, "us-east-1");
    let b = principal(B_ROOT, "eu-west-1");
    let orders = expected["orders_key"].as_str().unwrap_or_default();

    // A's key, alias, tags, grant, rotation and ciphertext, in us-east-1.
    let out = ok(
        &svc,
        &a,
        "Decrypt",
        json!({"CiphertextBlob": expected["orders_blob"], "EncryptionContext": expected["orders_context"]}),
    );
    assert_eq!(plaintext(&out), expected["orders_plaintext"]);
    let d = ok(&svc, &a, "DescribeKey", json!({"KeyId": "alias/orders"}));
    assert_eq!(d["KeyMetadata"]["Arn"], orders);
    let tags = ok(&svc, &a, "ListResourceTags", json!({"KeyId": orders}));
    assert_eq!(
        tags["Tags"],
        json!([{"TagKey": "team", "TagValue": "payments"}])
    );
    let grants = ok(&svc, &a, "ListGrants", json!({"KeyId": orders}));
    let grant = grants["Grants"][0].clone();
    assert_eq!(grant["Name"], "worker");
    // A named grant created again with the same parameters is the same
    // grant: its name and parameters were carried over.
    let again = ok(
        &svc,
        &a,
        "CreateGrant",
        json!({"KeyId": orders, "GranteePrincipal": WORKER, "RetiringPrincipal": WORKER, "Operations": ["Decrypt"],
               "Name": "worker", "Constraints": {"EncryptionContextSubset": {"tenant": "acme"}}}),
    );
    assert_eq!(again["GrantId"], grant["GrantId"]);
    let retirable = ok(
        &svc,
        &a,
        "ListRetirableGrants",
        json!({"RetiringPrincipal": WORKER}),
    );
    assert_eq!(retirable["Grants"].as_array().map(Vec::len), Some(1));
    let rotations = ok(&svc, &a, "ListKeyRotations", json!({"KeyId": orders}));
    assert_eq!(rotations["Rotations"].as_array().map(Vec::len), Some(1));
    // The key made under a forged scope ('us-east-1:444455556666') is kept
    // but reachable from no request: ListKeys shows A's real key only.
    let keys = ok(&svc, &a, "ListKeys", json!({}));
    assert_eq!(keys["Keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(keys["Keys"][0]["KeyArn"], orders);

    // B's key and alias stayed in B's account and eu-west-1.
    let out = ok(
        &svc,
        &b,
        "Decrypt",
        json!({"CiphertextBlob": expected["partner_blob"]}),
    );
    assert_eq!(plaintext(&out), expected["partner_plaintext"]);
    let d = ok(&svc, &b, "DescribeKey", json!({"KeyId": "alias/partner"}));
    assert_eq!(d["KeyMetadata"]["Arn"], expected["partner_key"]);
    let a_west = principal(A_ROOT, "eu-west-1");
    assert_eq!(
        err(
            &svc,
            &a_west,
            "DescribeKey",
            json!({"KeyId": "alias/partner"})
        )
        .kind,
        ErrorKind::NotFound
    );
    // Aliases now live per account and Region: A may take B's name.
    let a_west_key = ok(&svc, &a_west, "CreateKey", json!({}))["KeyMetadata"]["Arn"].clone();
    ok(
        &svc,
        &a_west,
        "CreateAlias",
        json!({"AliasName": "alias/partner", "TargetKeyId": a_west_key}),
    );
    drop(svc);

    // Opening again migrates nothing twice and keeps what changed.
    let svc = open();
    let d = ok(
        &svc,
        &a_west,
        "DescribeKey",
        json!({"KeyId": "alias/partner"}),
    );
    assert_eq!(d["KeyMetadata"]["Arn"], a_west_key);
    let d = ok(&svc, &b, "DescribeKey", json!({"KeyId": "alias/partner"}));
    assert_eq!(d["KeyMetadata"]["Arn"], expected["partner_key"]);
}

#[test]
fn a_database_from_a_newer_keyward_is_refused() {
    let (dir, _) = fixture();
    {
        let conn = rusqlite::Connection::open(dir.path.join("keyward.db")).expect("db");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    let e = match KeyService::open(&DataDir::new(&dir.path), "us-east-1") {
        Ok(_) => panic!("a v99 database must not open"),
        Err(e) => e,
    };
    assert!(e.message.contains("schema version 99"), "{}", e.message);
}

/// A data directory of schema v2 (`tests/data/v2-datadir`, made by the
/// release before multi-Region keys and imported material, with its own
/// `keyward kms`) opens at v3 and keeps every record: both key versions
/// decrypt, the alias, tag and grant are there, the signing key verifies
/// its old signature, the audit chain still checks — and the new features
/// work in it.
#[test]
fn a_v2_data_directory_opens_at_v3_and_keeps_working() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v2-datadir");
    let dir = tempdir::Dir::new("migration-v2");
    for f in ["root.key", "keyward.db", "audit.jsonl"] {
        std::fs::copy(src.join(f), dir.path.join(f)).expect("copy fixture");
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(src.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let svc = KeyService::open(&DataDir::new(&dir.path), "us-east-1").expect("open");
    let admin = principal(A_ROOT, "us-east-1");
    for (blob, text) in [("before", "before rotation"), ("after", "after rotation")] {
        let out = ok(
            &svc,
            &admin,
            "Decrypt",
            json!({"CiphertextBlob": expected[blob], "EncryptionContext": {"tenant": "acme"}}),
        );
        assert_eq!(plaintext(&out), text);
    }
    let described = ok(
        &svc,
        &admin,
        "DescribeKey",
        json!({"KeyId": "alias/orders"}),
    );
    assert_eq!(described["KeyMetadata"]["Arn"], expected["orders_key"]);
    assert_eq!(described["KeyMetadata"]["Origin"], json!("AWS_KMS"));
    assert_eq!(described["KeyMetadata"]["MultiRegion"], json!(false));
    let tags = ok(
        &svc,
        &admin,
        "ListResourceTags",
        json!({"KeyId": expected["orders_key"]}),
    );
    assert_eq!(
        tags["Tags"],
        json!([{"TagKey": "team", "TagValue": "payments"}])
    );
    let grants = ok(
        &svc,
        &admin,
        "ListGrants",
        json!({"KeyId": expected["orders_key"]}),
    );
    assert_eq!(grants["Grants"][0]["GrantId"], expected["grant"]);
    let rotations = ok(
        &svc,
        &admin,
        "ListKeyRotations",
        json!({"KeyId": expected["orders_key"]}),
    );
    assert_eq!(rotations["Rotations"].as_array().map(Vec::len), Some(1));
    let verified = ok(
        &svc,
        &admin,
        "Verify",
        json!({"KeyId": expected["signer"], "Message": "aGk=",
        "Signature": expected["signature"], "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_eq!(verified["SignatureValid"], json!(true));
    // The new schema's features in the old directory.
    let mrk =
        ok(&svc, &admin, "CreateKey", json!({"MultiRegion": true}))["KeyMetadata"]["Arn"].clone();
    ok(
        &svc,
        &admin,
        "ReplicateKey",
        json!({"KeyId": mrk, "ReplicaRegion": "eu-west-1"}),
    );
    let _ = err(
        &svc,
        &admin,
        "ReplicateKey",
        json!({"KeyId": mrk, "ReplicaRegion": "eu-west-1"}),
    );
    svc.sync().expect("sync");
    drop(svc);
    crate::service::verify_audit(&dir.path).expect("the audit chain still checks");
}
