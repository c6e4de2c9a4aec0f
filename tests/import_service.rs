//! Imported key material through the service API: what the audit log
//! keeps of an import, expiry as a service event, the import condition
//! keys, and import tokens that do not open when damaged.

use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::crypto::{RootKey, wrapping};
use keyward::service::{ErrorKind, KeyService, KmsError};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::audit_service::records;
use crate::service::{admin, env};

const NOW: i64 = 1_700_000_000;

fn external_key(svc: &KeyService, policy: Option<&str>) -> String {
    let mut req = json!({"Origin": "EXTERNAL"});
    if let Some(p) = policy {
        req["Policy"] = json!(p);
    }
    svc.call(&admin(), "CreateKey", &req).expect("create")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned()
}

/// Wraps `material` as a client does (RSA-OAEP SHA-256 under the wrapping
/// public key) and imports it with `extra` members.
fn import(svc: &KeyService, arn: &str, material: &[u8], extra: Value) -> Result<Value, KmsError> {
    let params = svc.call(
        &admin(),
        "GetParametersForImport",
        &json!({"KeyId": arn, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    )?;
    let public = B64
        .decode(params["PublicKey"].as_str().expect("public key"))
        .expect("base64");
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&public).expect("spki"))
        .expect("oaep");
    let mut wrapped = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut wrapped, None)
        .expect("wrap")
        .len();
    wrapped.truncate(n);
    let mut req = json!({
        "KeyId": arn,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": B64.encode(&wrapped),
    });
    if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    svc.call(&admin(), "ImportKeyMaterial", &req)
}

fn state(svc: &KeyService, arn: &str) -> String {
    svc.call(&admin(), "DescribeKey", &json!({"KeyId": arn}))
        .expect("describe")["KeyMetadata"]["KeyState"]
        .as_str()
        .expect("state")
        .to_owned()
}

#[test]
fn the_audit_log_keeps_no_wrapped_material_nor_token() {
    let e = env();
    let arn = external_key(&e.svc, None);
    let material = [7u8; 32];
    import(&e.svc, &arn, &material, json!({"ValidTo": NOW + 3600})).expect("import");
    let log = std::fs::read_to_string(e.dir.join("audit.jsonl")).expect("audit");
    let imported = records(&e.dir)
        .into_iter()
        .find(|r| r["eventName"] == "ImportKeyMaterial")
        .expect("an ImportKeyMaterial record");
    let params = &imported["requestParameters"];
    assert_eq!(params["KeyId"], json!(arn));
    // The default expiration model is recorded as the one used.
    assert_eq!(params["ExpirationModel"], json!("KEY_MATERIAL_EXPIRES"));
    assert!(params.get("ImportToken").is_none());
    assert!(params.get("EncryptedKeyMaterial").is_none());
    assert!(!log.contains(&B64.encode(material)));
}

#[test]
fn expired_material_is_erased_as_a_service_event() {
    let e = env();
    let arn = external_key(&e.svc, None);
    import(&e.svc, &arn, &[1u8; 32], json!({"ValidTo": NOW + 3600})).expect("import");
    let ct = e
        .svc
        .call(
            &admin(),
            "Encrypt",
            &json!({"KeyId": arn, "Plaintext": "aGk="}),
        )
        .expect("encrypt");
    e.advance_days(1);
    assert_eq!(state(&e.svc, &arn), "PendingImport");
    let expired = records(&e.dir)
        .into_iter()
        .find(|r| r["eventName"] == "DeleteExpiredKeyMaterial")
        .expect("a DeleteExpiredKeyMaterial record");
    assert_eq!(expired["eventType"], json!("AwsServiceEvent"));
    let err = e
        .svc
        .call(
            &admin(),
            "Decrypt",
            &json!({"CiphertextBlob": ct["CiphertextBlob"]}),
        )
        .expect_err("no material");
    assert_eq!(err.kind, ErrorKind::KmsInvalidState);
}

#[test]
fn the_material_survives_a_restart_and_expiry_is_kept() {
    let mut e = env();
    let arn = external_key(&e.svc, None);
    import(&e.svc, &arn, &[3u8; 32], json!({"ValidTo": NOW + 7200})).expect("import");
    e.reopen();
    let meta = e
        .svc
        .call(&admin(), "DescribeKey", &json!({"KeyId": arn}))
        .expect("describe")["KeyMetadata"]
        .clone();
    assert_eq!(meta["KeyState"], json!("Enabled"));
    assert_eq!(meta["ValidTo"], json!(NOW + 7200));
    e.svc
        .call(
            &admin(),
            "Encrypt",
            &json!({"KeyId": arn, "Plaintext": "aGk="}),
        )
        .expect("encrypt after a restart");
}

/// kms:ValidTo and kms:ExpirationModel as AWS documents them: a key policy
/// that lets material be imported only with an expiry before a date.
#[test]
fn import_condition_keys_decide() {
    let deadline = NOW + 30 * 86_400;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
             "Condition": {"NumericGreaterThan": {"kms:ValidTo": deadline.to_string()}}},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}},
        ]
    })
    .to_string();
    let cases: &[(&str, Value, Result<(), ErrorKind>)] = &[
        (
            "expires before the deadline",
            json!({"ValidTo": deadline - 60}),
            Ok(()),
        ),
        (
            "expires after the deadline",
            json!({"ValidTo": deadline + 60}),
            Err(ErrorKind::AccessDenied),
        ),
        (
            "never expires",
            json!({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
            Err(ErrorKind::AccessDenied),
        ),
        (
            "expires, without a date",
            json!({"ExpirationModel": "KEY_MATERIAL_EXPIRES"}),
            Err(ErrorKind::Validation),
        ),
        (
            "expires in the past",
            json!({"ValidTo": NOW - 60}),
            Err(ErrorKind::Validation),
        ),
    ];
    let e = env();
    for (name, extra, expected) in cases {
        let arn = external_key(&e.svc, Some(&policy));
        let got = import(&e.svc, &arn, &[9u8; 32], extra.clone())
            .map(|_| ())
            .map_err(|e| e.kind);
        assert_eq!(&got, expected, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A token with any byte changed, or any bytes at all, does not open.
    #[test]
    fn damaged_tokens_do_not_open(flip in 0usize..4096, bit in 0u8..8, junk in proptest::collection::vec(any::<u8>(), 0..256)) {
        let root = RootKey::generate();
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        let (token, _) = wrapping::issue(&root, arn, "RSA_2048", "RSAES_OAEP_SHA_256", NOW).expect("issue");
        prop_assert!(wrapping::open_token(&root, arn, &token).is_ok());
        prop_assert!(wrapping::open_token(&root, "arn:aws:kms:us-east-1:111122223333:key/other", &token).is_err());
        let mut damaged = token.clone();
        let i = flip % damaged.len();
        damaged[i] ^= 1 << bit;
        prop_assert!(wrapping::open_token(&root, arn, &damaged).is_err());
        prop_assert!(wrapping::open_token(&root, arn, &junk).is_err());
    }
}
