//! The key service through its API: every operation and state transition,
//! the negative cases, persistence and the audit log.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::compile::{CompiledPolicy, PolicyKind};
use keyward::eval::Caller;
use keyward::policy::{Source, parse_policy};
use keyward::service::{DataDir, ErrorKind, Identity, KeyService, KmsError};
use serde_json::{Value, json};

pub struct Env {
    pub dir: std::path::PathBuf,
    pub svc: KeyService,
    pub clock: Arc<AtomicI64>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static COUNTER: AtomicI64 = AtomicI64::new(0);

pub fn env() -> Env {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("keyward-svc-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let clock = Arc::new(AtomicI64::new(1_700_000_000));
    let c = clock.clone();
    let svc = KeyService::open(&data, "us-east-1")
        .expect("open")
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    Env { dir, svc, clock }
}

impl Env {
    pub fn reopen(&mut self) {
        let c = self.clock.clone();
        self.svc = KeyService::open(&DataDir::new(&self.dir), "us-east-1")
            .expect("reopen")
            .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.fetch_add(days * 86_400, Ordering::SeqCst);
    }
}

/// Checks a data directory's audit log with its keys and anchor, as
/// `keyward audit verify` does.
pub fn verify_audit(
    dir: &std::path::Path,
) -> Result<keyward::audit::Report, keyward::audit::AuditError> {
    let data = DataDir::new(dir);
    let (keys, anchor) = keyward::service::AuditKeys::open(&data).expect("audit keys");
    keyward::audit::verify(
        &data.audit_log(),
        &keyward::audit::Checks {
            key: Some(&keys.chain),
            anchor: anchor.as_ref(),
            digest: None,
        },
    )
}

pub fn admin() -> Identity {
    Identity::new(Caller::parse("arn:aws:iam::111122223333:root").expect("caller"))
}

fn iam(json: &str) -> CompiledPolicy {
    let source = Source::new("iam.json", json);
    let p = parse_policy(&source).expect("parse");
    CompiledPolicy::compile(&p, PolicyKind::IamPolicy, &source).expect("compile")
}

/// A role session whose IAM policy allows `actions` on every key.
fn app(actions: &[&str]) -> Identity {
    let list: Vec<String> = actions.iter().map(|a| format!("\"kms:{a}\"")).collect();
    Identity::new(Caller::parse("arn:aws:sts::111122223333:assumed-role/App/s").expect("caller"))
        .with_iam_policy(iam(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}"#,
            list.join(",")
        )))
}

fn nobody() -> Identity {
    Identity::new(Caller::parse("arn:aws:sts::111122223333:assumed-role/Nobody/s").expect("caller"))
}

fn ok(svc: &KeyService, id: &Identity, op: &str, input: Value) -> Value {
    svc.call(id, op, &input)
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn err(svc: &KeyService, id: &Identity, op: &str, input: Value) -> KmsError {
    match svc.call(id, op, &input) {
        Ok(v) => panic!("{op} should fail, returned {v}"),
        Err(e) => e,
    }
}

fn create(svc: &KeyService) -> String {
    let out = ok(
        svc,
        &admin(),
        "CreateKey",
        json!({"Description": "test key"}),
    );
    out["KeyMetadata"]["Arn"].as_str().expect("arn").to_owned()
}

fn encrypt(svc: &KeyService, id: &Identity, key: &str, pt: &[u8], ctx: Value) -> String {
    let out = ok(
        svc,
        id,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": B64.encode(pt), "EncryptionContext": ctx}),
    );
    let arn = out["KeyId"].as_str().unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:kms:") && arn.contains(":key/"),
        "responses name keys by key ARN: {arn}"
    );
    if key.contains(":key/") {
        assert_eq!(arn, key);
    }
    out["CiphertextBlob"].as_str().expect("blob").to_owned()
}

fn decrypt(svc: &KeyService, id: &Identity, blob: &str, ctx: Value) -> Result<Vec<u8>, KmsError> {
    svc.call(
        id,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    )
    .map(|v| {
        B64.decode(v["Plaintext"].as_str().unwrap_or_default())
            .unwrap_or_default()
    })
}

#[test]
fn create_describe_list() {
    let e = env();
    let arn = create(&e.svc);
    assert!(arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    let d = ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": arn}));
    let m = &d["KeyMetadata"];
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["Description"], "test key");
    let id = m["KeyId"].as_str().expect("id");
    // By bare id too.
    ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": id}));
    let l = ok(&e.svc, &admin(), "ListKeys", json!({}));
    assert_eq!(l["Keys"][0]["KeyArn"], arn);
    assert_eq!(
        err(&e.svc, &admin(), "DescribeKey", json!({"KeyId": "nope"})).kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        err(&e.svc, &admin(), "DescribeKey", json!({})).kind,
        ErrorKind::Validation
    );
    assert_eq!(
        err(&e.svc, &admin(), "DescribeKey", json!({"KeyId": 7})).kind,
        ErrorKind::Serialization
    );
    assert_eq!(
        err(&e.svc, &admin(), "FlyToTheMoon", json!({})).kind,
        ErrorKind::UnknownOperation
    );
    let policy = ok(&e.svc, &admin(), "GetKeyPolicy", json!({"KeyId": arn}));
    assert!(
        policy["Policy"]
            .as_str()
            .is_some_and(|p| p.contains("arn:aws:iam::111122223333:root"))
    );
    assert_eq!(
        ok(&e.svc, &admin(), "ListKeyPolicies", json!({"KeyId": arn}))["PolicyNames"][0],
        "default"
    );
    ok(
        &e.svc,
        &admin(),
        "UpdateKeyDescription",
        json!({"KeyId": arn, "Description": "renamed"}),
    );
    assert_eq!(
        ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": arn}))["KeyMetadata"]["Description"],
        "renamed"
    );
    // SM2 is offered by AWS only in its China Regions.
    let unsupported = err(
        &e.svc,
        &admin(),
        "CreateKey",
        json!({"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}),
    );
    assert_eq!(unsupported.kind, ErrorKind::UnsupportedOperation);
    let rsa = ok(
        &e.svc,
        &admin(),
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    );
    assert_eq!(
        rsa["KeyMetadata"]["SigningAlgorithms"][0],
        "RSASSA_PKCS1_V1_5_SHA_256"
    );
}

#[test]
fn encrypt_decrypt_with_context() {
    let e = env();
    let key = create(&e.svc);
    let ctx = json!({"tenant": "acme", "record": "42"});
    let blob = encrypt(&e.svc, &admin(), &key, b"secret", ctx.clone());
    assert_eq!(
        decrypt(&e.svc, &admin(), &blob, ctx).expect("decrypt"),
        b"secret"
    );
    // Moved to another tenant's context: refused.
    let moved = decrypt(
        &e.svc,
        &admin(),
        &blob,
        json!({"tenant": "globex", "record": "42"}),
    );
    assert_eq!(moved.map_err(|e| e.kind), Err(ErrorKind::InvalidCiphertext));
    let missing = decrypt(&e.svc, &admin(), &blob, json!({}));
    assert_eq!(
        missing.map_err(|e| e.kind),
        Err(ErrorKind::InvalidCiphertext)
    );
    // Plaintext limits.
    let big = B64.encode(vec![0u8; 4097]);
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "Encrypt",
            json!({"KeyId": key, "Plaintext": big})
        )
        .kind,
        ErrorKind::Validation
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "Encrypt",
            json!({"KeyId": key, "Plaintext": "%%%"})
        )
        .kind,
        ErrorKind::Serialization
    );
}

#[test]
fn bad_blobs_each_get_their_own_error() {
    let e = env();
    let key = create(&e.svc);
    let blob = B64
        .decode(encrypt(&e.svc, &admin(), &key, b"secret", json!({})))
        .expect("b64");
    // Tampered: one bit of the ciphertext.
    let mut tampered = blob.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 1;
    let t = decrypt(&e.svc, &admin(), &B64.encode(&tampered), json!({})).expect_err("tampered");
    // AWS's message is empty; the audit record keeps keyward's detail.
    assert_eq!(t.kind, ErrorKind::InvalidCiphertext);
    assert_eq!(t.message, "");
    assert!(
        t.detail.as_deref().is_some_and(|d| d.contains("changed")),
        "{t:?}"
    );
    // Truncated.
    let short =
        decrypt(&e.svc, &admin(), &B64.encode(&blob[..40]), json!({})).expect_err("truncated");
    assert_eq!(short.kind, ErrorKind::InvalidCiphertext);
    assert!(
        short
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("truncated")),
        "{short:?}"
    );
    // Not a blob at all.
    let junk = decrypt(
        &e.svc,
        &admin(),
        &B64.encode(b"hello world, not a blob"),
        json!({}),
    )
    .expect_err("junk");
    assert_eq!(junk.kind, ErrorKind::InvalidCiphertext);
    // A blob for a key that does not exist.
    let mut unknown = blob.clone();
    unknown[5] = if unknown[5] == b'0' { b'1' } else { b'0' };
    let u = decrypt(&e.svc, &admin(), &B64.encode(&unknown), json!({})).expect_err("unknown key");
    assert_eq!(u.kind, ErrorKind::NotFound);
    // KeyId that does not match the blob's key.
    let other = create(&e.svc);
    let wrong = e.svc.call(
        &admin(),
        "Decrypt",
        &json!({"CiphertextBlob": B64.encode(&blob), "KeyId": other}),
    );
    assert_eq!(
        wrong.map_err(|e| e.kind).err(),
        Some(ErrorKind::IncorrectKey)
    );
}

#[test]
fn disable_enable_and_deletion() {
    let e = env();
    let key = create(&e.svc);
    let blob = encrypt(&e.svc, &admin(), &key, b"x", json!({}));
    ok(&e.svc, &admin(), "DisableKey", json!({"KeyId": key}));
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "Encrypt",
            json!({"KeyId": key, "Plaintext": "eA=="})
        )
        .kind,
        ErrorKind::Disabled
    );
    assert_eq!(
        decrypt(&e.svc, &admin(), &blob, json!({})).map_err(|e| e.kind),
        Err(ErrorKind::Disabled)
    );
    assert_eq!(
        ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"]["Enabled"],
        false
    );
    ok(&e.svc, &admin(), "EnableKey", json!({"KeyId": key}));
    assert!(decrypt(&e.svc, &admin(), &blob, json!({})).is_ok());

    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 6})
        )
        .kind,
        ErrorKind::Validation
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 31})
        )
        .kind,
        ErrorKind::Validation
    );
    let s = ok(
        &e.svc,
        &admin(),
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    );
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(
        decrypt(&e.svc, &admin(), &blob, json!({})).map_err(|e| e.kind),
        Err(ErrorKind::KmsInvalidState)
    );
    assert_eq!(
        err(&e.svc, &admin(), "EnableKey", json!({"KeyId": key})).kind,
        ErrorKind::KmsInvalidState
    );
    ok(&e.svc, &admin(), "CancelKeyDeletion", json!({"KeyId": key}));
    assert_eq!(
        ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    assert_eq!(
        err(&e.svc, &admin(), "CancelKeyDeletion", json!({"KeyId": key})).kind,
        ErrorKind::KmsInvalidState
    );

    ok(
        &e.svc,
        &admin(),
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    );
    e.advance_days(6);
    assert_eq!(
        ok(&e.svc, &admin(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"]["KeyState"],
        "PendingDeletion"
    );
    e.advance_days(2);
    assert_eq!(
        err(&e.svc, &admin(), "DescribeKey", json!({"KeyId": key})).kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        ok(&e.svc, &admin(), "ListKeys", json!({}))["Keys"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[test]
fn rotation_keeps_old_versions_decrypting() {
    let e = env();
    let key = create(&e.svc);
    let v1 = encrypt(&e.svc, &admin(), &key, b"one", json!({}));
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "EnableKeyRotation",
            json!({"KeyId": key, "RotationPeriodInDays": 89})
        )
        .kind,
        ErrorKind::Validation
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "EnableKeyRotation",
            json!({"KeyId": key, "RotationPeriodInDays": 2561})
        )
        .kind,
        ErrorKind::Validation
    );
    ok(
        &e.svc,
        &admin(),
        "EnableKeyRotation",
        json!({"KeyId": key, "RotationPeriodInDays": 90}),
    );
    let st = ok(
        &e.svc,
        &admin(),
        "GetKeyRotationStatus",
        json!({"KeyId": key}),
    );
    assert_eq!(
        (
            st["KeyRotationEnabled"].clone(),
            st["RotationPeriodInDays"].clone()
        ),
        (json!(true), json!(90))
    );
    ok(&e.svc, &admin(), "RotateKeyOnDemand", json!({"KeyId": key}));
    let v2 = encrypt(&e.svc, &admin(), &key, b"two", json!({}));
    let version = |b: &str| {
        let raw = B64.decode(b).expect("b64");
        let h = keyward::crypto::blob::header(&raw).expect("header");
        h.version
    };
    assert_eq!((version(&v1), version(&v2)), (1, 2));
    e.advance_days(91);
    let v3 = encrypt(&e.svc, &admin(), &key, b"three", json!({}));
    assert_eq!(version(&v3), 3, "automatic rotation after the period");
    for (b, pt) in [(&v1, b"one".as_slice()), (&v2, b"two"), (&v3, b"three")] {
        assert_eq!(
            decrypt(&e.svc, &admin(), b, json!({})).expect("old versions decrypt"),
            pt
        );
    }
    let r = ok(&e.svc, &admin(), "ListKeyRotations", json!({"KeyId": key}));
    let kinds: Vec<&str> = r["Rotations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["RotationType"].as_str())
        .collect();
    assert_eq!(kinds, ["ON_DEMAND", "AUTOMATIC"]);
    ok(
        &e.svc,
        &admin(),
        "DisableKeyRotation",
        json!({"KeyId": key}),
    );
    assert_eq!(
        ok(
            &e.svc,
            &admin(),
            "GetKeyRotationStatus",
            json!({"KeyId": key})
        )["KeyRotationEnabled"],
        false
    );
}

#[test]
fn data_keys_and_random() {
    let e = env();
    let key = create(&e.svc);
    let d = ok(
        &e.svc,
        &admin(),
        "GenerateDataKey",
        json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}}),
    );
    let pt = B64
        .decode(d["Plaintext"].as_str().expect("pt"))
        .expect("b64");
    assert_eq!(pt.len(), 32);
    let ct = d["CiphertextBlob"].as_str().expect("ct");
    assert_eq!(
        decrypt(&e.svc, &admin(), ct, json!({"a": "b"})).expect("unwrap"),
        pt
    );
    let w = ok(
        &e.svc,
        &admin(),
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": key, "NumberOfBytes": 64}),
    );
    assert!(w.get("Plaintext").is_none());
    assert_eq!(
        decrypt(
            &e.svc,
            &admin(),
            w["CiphertextBlob"].as_str().expect("ct"),
            json!({})
        )
        .expect("unwrap")
        .len(),
        64
    );
    assert_eq!(
        ok(
            &e.svc,
            &admin(),
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_128"})
        )["Plaintext"]
            .as_str()
            .map(|p| B64.decode(p).map(|v| v.len()).ok()),
        Some(Some(16))
    );
    for bad in [
        json!({"KeyId": key}),
        json!({"KeyId": key, "KeySpec": "AES_256", "NumberOfBytes": 8}),
        json!({"KeyId": key, "NumberOfBytes": 2000}),
        json!({"KeyId": key, "KeySpec": "AES_512"}),
    ] {
        assert_eq!(
            err(&e.svc, &admin(), "GenerateDataKey", bad).kind,
            ErrorKind::Validation
        );
    }
    let r = ok(
        &e.svc,
        &admin(),
        "GenerateRandom",
        json!({"NumberOfBytes": 48}),
    );
    assert_eq!(
        B64.decode(r["Plaintext"].as_str().expect("r"))
            .map(|v| v.len())
            .ok(),
        Some(48)
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "GenerateRandom",
            json!({"NumberOfBytes": 0})
        )
        .kind,
        ErrorKind::Validation
    );
}

#[test]
fn re_encrypt_between_keys() {
    let e = env();
    let (a, b) = (create(&e.svc), create(&e.svc));
    let blob = encrypt(&e.svc, &admin(), &a, b"move me", json!({"x": "1"}));
    let r = ok(
        &e.svc,
        &admin(),
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceEncryptionContext": {"x": "1"},
            "DestinationKeyId": b, "DestinationEncryptionContext": {"y": "2"}
        }),
    );
    assert_eq!(
        (r["SourceKeyId"].as_str(), r["KeyId"].as_str()),
        (Some(a.as_str()), Some(b.as_str()))
    );
    let moved = r["CiphertextBlob"].as_str().expect("ct");
    assert_eq!(
        decrypt(&e.svc, &admin(), moved, json!({"y": "2"})).expect("dec"),
        b"move me"
    );
    // ReEncrypt needs both ReEncryptFrom and ReEncryptTo.
    let only_from = app(&["ReEncryptFrom"]);
    let denied = err(
        &e.svc,
        &only_from,
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceEncryptionContext": {"x": "1"}, "DestinationKeyId": b}),
    );
    assert_eq!(denied.kind, ErrorKind::AccessDenied);
    assert!(denied.message.contains("kms:ReEncryptTo"), "{denied}");
}

#[test]
fn aliases() {
    let e = env();
    let (a, b) = (create(&e.svc), create(&e.svc));
    ok(
        &e.svc,
        &admin(),
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": a}),
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "CreateAlias",
            json!({"AliasName": "alias/orders", "TargetKeyId": b})
        )
        .kind,
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "CreateAlias",
            json!({"AliasName": "alias/aws/ebs", "TargetKeyId": b})
        )
        .kind,
        ErrorKind::InvalidAliasName
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "CreateAlias",
            json!({"AliasName": "orders", "TargetKeyId": b})
        )
        .kind,
        ErrorKind::Validation
    );
    let blob = encrypt(&e.svc, &admin(), "alias/orders", b"via alias", json!({}));
    let d = ok(
        &e.svc,
        &admin(),
        "DescribeKey",
        json!({"KeyId": "arn:aws:kms:us-east-1:111122223333:alias/orders"}),
    );
    assert_eq!(d["KeyMetadata"]["Arn"], a);
    let l = ok(&e.svc, &admin(), "ListAliases", json!({}));
    assert_eq!(
        l["Aliases"][0]["AliasArn"],
        "arn:aws:kms:us-east-1:111122223333:alias/orders"
    );
    ok(
        &e.svc,
        &admin(),
        "UpdateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": b}),
    );
    let out = ok(
        &e.svc,
        &admin(),
        "Encrypt",
        json!({"KeyId": "alias/orders", "Plaintext": "eA=="}),
    );
    assert_eq!(out["KeyId"], b);
    assert!(
        decrypt(&e.svc, &admin(), &blob, json!({})).is_ok(),
        "old ciphertext still names key a"
    );
    ok(
        &e.svc,
        &admin(),
        "DeleteAlias",
        json!({"AliasName": "alias/orders"}),
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "DescribeKey",
            json!({"KeyId": "alias/orders"})
        )
        .kind,
        ErrorKind::NotFound
    );
}

#[test]
fn key_policy_and_iam_authorize_every_call() {
    let e = env();
    let key = create(&e.svc);
    // The default policy delegates to IAM: no IAM policy, no access.
    let denied = err(
        &e.svc,
        &nobody(),
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "eA=="}),
    );
    assert_eq!(denied.kind, ErrorKind::AccessDenied);
    assert!(
        denied
            .message
            .contains("arn:aws:sts::111122223333:assumed-role/Nobody/s")
            && denied.message.contains("kms:Encrypt")
            && denied.message.contains(&key),
        "{denied}"
    );
    let user = app(&["Encrypt", "Decrypt"]);
    let blob = encrypt(&e.svc, &user, &key, b"ok", json!({}));
    assert_eq!(
        err(&e.svc, &user, "DisableKey", json!({"KeyId": key})).kind,
        ErrorKind::AccessDenied
    );
    // A policy change takes effect at the next request.
    let deny_decrypt = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoDecryptForApp", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]}).to_string();
    ok(
        &e.svc,
        &admin(),
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": deny_decrypt}),
    );
    assert_eq!(
        decrypt(&e.svc, &user, &blob, json!({})).map_err(|e| e.kind),
        Err(ErrorKind::AccessDenied)
    );
    assert!(decrypt(&e.svc, &admin(), &blob, json!({})).is_ok());
}

#[test]
fn lockout_safety_check() {
    let e = env();
    let key = create(&e.svc);
    let lockout = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]}).to_string();
    let m = err(
        &e.svc,
        &admin(),
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": lockout}),
    );
    assert_eq!(m.kind, ErrorKind::MalformedPolicyDocument);
    assert!(
        m.message
            .contains("will not allow you to update the key policy"),
        "{m}"
    );
    let bad = err(
        &e.svc,
        &admin(),
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": "{\"Statement\": [{\"Effect\": \"Alow\"}]}"}),
    );
    assert_eq!(bad.kind, ErrorKind::MalformedPolicyDocument);
    assert_eq!(
        err(&e.svc, &admin(), "CreateKey", json!({"Policy": lockout})).kind,
        ErrorKind::MalformedPolicyDocument
    );
    ok(
        &e.svc,
        &admin(),
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": lockout, "BypassPolicyLockoutSafetyCheck": true}),
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "PutKeyPolicy",
            json!({"KeyId": key, "Policy": lockout})
        )
        .kind,
        ErrorKind::AccessDenied
    );
}

#[test]
fn grants_with_constraints_revoke_and_retire() {
    let e = env();
    let key = create(&e.svc);
    let grantee = Identity::new(
        Caller::parse("arn:aws:sts::111122223333:assumed-role/Batch/run").expect("caller"),
    );
    let blob = encrypt(
        &e.svc,
        &admin(),
        &key,
        b"order 7",
        json!({"dept": "orders", "id": "7"}),
    );
    let other = encrypt(&e.svc, &admin(), &key, b"payroll", json!({"dept": "hr"}));
    assert_eq!(
        decrypt(
            &e.svc,
            &grantee,
            &blob,
            json!({"dept": "orders", "id": "7"})
        )
        .map_err(|e| e.kind),
        Err(ErrorKind::AccessDenied)
    );
    let g = ok(
        &e.svc,
        &admin(),
        "CreateGrant",
        json!({
            "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Batch",
            "RetiringPrincipal": "arn:aws:iam::111122223333:role/KeyAdmin",
            "Operations": ["Decrypt", "DescribeKey"],
            "Constraints": {"EncryptionContextSubset": {"dept": "orders"}}, "Name": "batch"
        }),
    );
    let grant_id = g["GrantId"].as_str().expect("id").to_owned();
    assert!(g["GrantToken"].as_str().is_some_and(|t| !t.is_empty()));
    // Same name and parameters: the same grant (idempotent).
    let again = ok(
        &e.svc,
        &admin(),
        "CreateGrant",
        json!({
            "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Batch",
            "RetiringPrincipal": "arn:aws:iam::111122223333:role/KeyAdmin",
            "Operations": ["Decrypt", "DescribeKey"],
            "Constraints": {"EncryptionContextSubset": {"dept": "orders"}}, "Name": "batch"
        }),
    );
    assert_eq!(again["GrantId"], grant_id.as_str());
    assert_eq!(
        decrypt(
            &e.svc,
            &grantee,
            &blob,
            json!({"dept": "orders", "id": "7"})
        )
        .expect("grant allows"),
        b"order 7"
    );
    assert_eq!(
        decrypt(&e.svc, &grantee, &other, json!({"dept": "hr"})).map_err(|e| e.kind),
        Err(ErrorKind::AccessDenied)
    );
    ok(&e.svc, &grantee, "DescribeKey", json!({"KeyId": key}));
    let l = ok(&e.svc, &admin(), "ListGrants", json!({"KeyId": key}));
    assert_eq!(l["Grants"][0]["GrantId"], grant_id.as_str());
    assert_eq!(
        l["Grants"][0]["Operations"],
        json!(["Decrypt", "DescribeKey"])
    );
    let retirable = ok(
        &e.svc,
        &admin(),
        "ListRetirableGrants",
        json!({"RetiringPrincipal": "arn:aws:iam::111122223333:role/KeyAdmin"}),
    );
    assert_eq!(retirable["Grants"].as_array().map(Vec::len), Some(1));
    // Revoked: stops working at once.
    ok(
        &e.svc,
        &admin(),
        "RevokeGrant",
        json!({"KeyId": key, "GrantId": grant_id}),
    );
    assert_eq!(
        decrypt(
            &e.svc,
            &grantee,
            &blob,
            json!({"dept": "orders", "id": "7"})
        )
        .map_err(|e| e.kind),
        Err(ErrorKind::AccessDenied)
    );
    assert_eq!(
        err(
            &e.svc,
            &admin(),
            "RevokeGrant",
            json!({"KeyId": key, "GrantId": grant_id})
        )
        .kind,
        ErrorKind::InvalidGrantId
    );
    // Retire: by the retiring principal, not by a stranger.
    let g = ok(
        &e.svc,
        &admin(),
        "CreateGrant",
        json!({
            "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Batch",
            "RetiringPrincipal": "arn:aws:iam::111122223333:role/KeyAdmin", "Operations": ["Encrypt"]
        }),
    );
    let token = g["GrantToken"].as_str().expect("token");
    let stranger = nobody();
    assert_eq!(
        err(
            &e.svc,
            &stranger,
            "RetireGrant",
            json!({"GrantToken": token})
        )
        .kind,
        ErrorKind::AccessDenied
    );
    let keyadmin = Identity::new(
        Caller::parse("arn:aws:sts::111122223333:assumed-role/KeyAdmin/x").expect("caller"),
    );
    ok(
        &e.svc,
        &keyadmin,
        "RetireGrant",
        json!({"GrantToken": token}),
    );
    assert_eq!(
        err(
            &e.svc,
            &keyadmin,
            "RetireGrant",
            json!({"GrantToken": token})
        )
        .kind,
        ErrorKind::InvalidGrantToken
    );
    // Invalid operations and constraint misuse.
    assert_eq!(err(&e.svc, &admin(), "CreateGrant", json!({"KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/B", "Operations": ["PutKeyPolicy"]})).kind, ErrorKind::Validation);
    assert_eq!(err(&e.svc, &admin(), "CreateGrant", json!({"KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/B", "Operations": ["GenerateMac"], "Constraints": {"EncryptionContextEquals": {"a": "b"}}})).kind, ErrorKind::Validation);
    assert_eq!(
        decrypt(
            &e.svc,
            &admin(),
            &blob,
            json!({"dept": "orders", "id": "7"})
        )
        .map(|_| ())
        .err(),
        None
    );
    assert_eq!(e.svc.call(&admin(), "Decrypt", &json!({"CiphertextBlob": blob, "EncryptionContext": {"dept": "orders", "id": "7"}, "GrantTokens": ["not base64!"]})).map_err(|e| e.kind).err(), Some(ErrorKind::InvalidGrantToken));
}

#[test]
fn tags() {
    let e = env();
    let key = create(&e.svc);
    ok(
        &e.svc,
        &admin(),
        "TagResource",
        json!({"KeyId": key, "Tags": [{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": "prod"}]}),
    );
    let t = ok(&e.svc, &admin(), "ListResourceTags", json!({"KeyId": key}));
    assert_eq!(
        t["Tags"],
        json!([{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "payments"}])
    );
    ok(
        &e.svc,
        &admin(),
        "UntagResource",
        json!({"KeyId": key, "TagKeys": ["env"]}),
    );
    assert_eq!(
        ok(&e.svc, &admin(), "ListResourceTags", json!({"KeyId": key}))["Tags"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn pagination() {
    let e = env();
    for _ in 0..3 {
        create(&e.svc);
    }
    let p1 = ok(&e.svc, &admin(), "ListKeys", json!({"Limit": 2}));
    assert_eq!(
        (p1["Keys"].as_array().map(Vec::len), p1["Truncated"].clone()),
        (Some(2), json!(true))
    );
    let p2 = ok(
        &e.svc,
        &admin(),
        "ListKeys",
        json!({"Limit": 2, "Marker": p1["NextMarker"]}),
    );
    assert_eq!(
        (p2["Keys"].as_array().map(Vec::len), p2["Truncated"].clone()),
        (Some(1), json!(false))
    );
    assert_eq!(
        err(&e.svc, &admin(), "ListKeys", json!({"Marker": "garbage"})).kind,
        ErrorKind::InvalidMarker
    );
}

#[test]
fn everything_survives_a_restart() {
    let mut e = env();
    let key = create(&e.svc);
    ok(
        &e.svc,
        &admin(),
        "CreateAlias",
        json!({"AliasName": "alias/keep", "TargetKeyId": key}),
    );
    ok(&e.svc, &admin(), "RotateKeyOnDemand", json!({"KeyId": key}));
    let blob = encrypt(
        &e.svc,
        &admin(),
        "alias/keep",
        b"durable",
        json!({"k": "v"}),
    );
    e.reopen();
    assert_eq!(
        decrypt(&e.svc, &admin(), &blob, json!({"k": "v"})).expect("after restart"),
        b"durable"
    );
    assert_eq!(
        ok(
            &e.svc,
            &admin(),
            "DescribeKey",
            json!({"KeyId": "alias/keep"})
        )["KeyMetadata"]["Arn"],
        key
    );
}

#[test]
fn audit_log_records_every_call_and_detects_tampering() {
    let e = env();
    let key = create(&e.svc);
    let blob = encrypt(
        &e.svc,
        &admin(),
        &key,
        b"TOP-SECRET-PLAINTEXT",
        json!({"tenant": "acme"}),
    );
    let _ = decrypt(&e.svc, &nobody(), &blob, json!({"tenant": "acme"}));
    e.svc.sync().expect("sync");
    let path = e.dir.join("audit.jsonl");
    let text = std::fs::read_to_string(&path).expect("audit");
    assert!(
        !text.contains(&B64.encode(b"TOP-SECRET-PLAINTEXT")) && !text.contains(&blob),
        "no plaintext or ciphertext in the audit log"
    );
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(records.len(), 3);
    let denied = &records[2];
    assert_eq!(denied["eventName"], "Decrypt");
    assert_eq!(denied["errorCode"], "AccessDeniedException");
    assert_eq!(
        denied["userIdentity"]["arn"],
        "arn:aws:sts::111122223333:assumed-role/Nobody/s"
    );
    assert_eq!(
        denied["requestParameters"]["EncryptionContext"]["tenant"],
        "acme"
    );
    assert_eq!(denied["resources"][0]["ARN"], key);
    assert_eq!(
        denied["keyward"]["decisions"][0]["decision"],
        "ImplicitDeny"
    );
    // A denial records the whole explanation: every statement, how it
    // matched or which element failed.
    let traced = &denied["keyward"]["decisions"][0]["statements"][0];
    assert_eq!(
        (traced["applies"].clone(), traced["via"].clone()),
        (json!(true), json!("account"))
    );
    assert!(
        denied["keyward"]["decisions"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no IAM policy of the caller allows kms:Decrypt"))
    );
    // An allowed call records what allowed it, not every statement.
    assert!(
        records[1]["keyward"]["decisions"][0]
            .get("statements")
            .is_none()
    );
    assert_eq!(
        records[1]["keyward"]["decisions"][0]["decidedBy"][0]["source"],
        "key_policy"
    );
    assert_eq!(verify_audit(&e.dir).expect("intact").records, 3);
    // Change one record: verification names it.
    let changed = text.replacen("\"Encrypt\"", "\"Decrypt\"", 1);
    std::fs::write(&path, changed).expect("write");
    match verify_audit(&e.dir) {
        Err(keyward::audit::AuditError::Broken { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a broken chain, got {other:?}"),
    }
    // Remove one record: verification names where the chain breaks.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).expect("write");
    assert!(matches!(
        verify_audit(&e.dir),
        Err(keyward::audit::AuditError::Broken { line: 2, .. })
    ));
}

#[test]
#[cfg(target_os = "linux")]
fn audit_failure_fails_the_request() {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("keyward-svc-full-{}-{n}", std::process::id()));
    let data = DataDir::new(&dir).with_audit_log("/dev/full");
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let e = svc
        .call(&admin(), "CreateKey", &json!({}))
        .expect_err("no audit, no answer");
    assert_eq!(e.kind, ErrorKind::KmsInternal);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn grants_through_grants_only_narrow() {
    let e = env();
    let key = create(&e.svc);
    ok(
        &e.svc,
        &admin(),
        "CreateGrant",
        json!({
            "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Pipeline",
            "Operations": ["Decrypt", "Encrypt", "CreateGrant"],
            "Constraints": {"EncryptionContextSubset": {"pipeline": "etl"}}
        }),
    );
    let pipeline = Identity::new(
        Caller::parse("arn:aws:sts::111122223333:assumed-role/Pipeline/p").expect("caller"),
    );
    let child = |ops: Value, constraints: Value| {
        json!({
            "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Worker", "Operations": ops, "Constraints": constraints
        })
    };
    ok(
        &e.svc,
        &pipeline,
        "CreateGrant",
        child(
            json!(["Decrypt"]),
            json!({"EncryptionContextSubset": {"pipeline": "etl", "stage": "load"}}),
        ),
    );
    ok(
        &e.svc,
        &pipeline,
        "CreateGrant",
        child(
            json!(["Encrypt"]),
            json!({"EncryptionContextEquals": {"pipeline": "etl"}}),
        ),
    );
    // More operations than its own grant.
    assert_eq!(
        err(
            &e.svc,
            &pipeline,
            "CreateGrant",
            child(
                json!(["Decrypt", "ReEncryptFrom"]),
                json!({"EncryptionContextSubset": {"pipeline": "etl"}})
            )
        )
        .kind,
        ErrorKind::AccessDenied
    );
    // Looser constraints.
    assert_eq!(
        err(
            &e.svc,
            &pipeline,
            "CreateGrant",
            child(
                json!(["Decrypt"]),
                json!({"EncryptionContextSubset": {"stage": "load"}})
            )
        )
        .kind,
        ErrorKind::AccessDenied
    );
    assert_eq!(
        err(
            &e.svc,
            &pipeline,
            "CreateGrant",
            child(json!(["Decrypt"]), Value::Null)
        )
        .kind,
        ErrorKind::AccessDenied
    );
}

#[test]
fn keys_take_the_region_the_caller_signed_for() {
    let e = env();
    let mut id = admin();
    id.region = keyward::scope::Region::parse("eu-west-1");
    let arn = ok(&e.svc, &id, "CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        arn.starts_with("arn:aws:kms:eu-west-1:111122223333:key/"),
        "{arn}"
    );
}
