//! Accounts and Regions are hard boundaries: two accounts in one key
//! service, each point of the tenancy review as a test (aliases, the key's
//! owner, Regions, listings, racing CreateAlias, empty grant constraints).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::compile::{CompiledPolicy, PolicyKind};
use keyward::eval::Caller;
use keyward::policy::{Source, parse_policy};
use keyward::scope::Region;
use keyward::service::{ErrorKind, Identity, KeyService, KmsError};
use serde_json::{Value, json};

use crate::service::env;

pub const A: &str = "111122223333";
pub const B: &str = "444455556666";

pub fn iam_allow_all() -> CompiledPolicy {
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#;
    let source = Source::new("iam.json", text);
    let p = parse_policy(&source).expect("parse");
    CompiledPolicy::compile(&p, PolicyKind::IamPolicy, &source).expect("compile")
}

/// A principal of `account` calling in `region`, with no IAM policy.
pub fn principal(arn: &str, region: &str) -> Identity {
    let mut id = Identity::new(Caller::parse(arn).expect("caller"));
    id.region = Region::parse(region);
    id
}

/// An administrator of `account` (IAM `kms:*`) calling in `region`.
pub fn admin_of(account: &str, region: &str) -> Identity {
    principal(&format!("arn:aws:iam::{account}:user/admin"), region)
        .with_iam_policy(iam_allow_all())
}

pub fn ok(svc: &KeyService, id: &Identity, op: &str, input: Value) -> Value {
    svc.call(id, op, &input)
        .unwrap_or_else(|e| panic!("{op} {input}: {e}"))
}

pub fn err(svc: &KeyService, id: &Identity, op: &str, input: Value) -> KmsError {
    match svc.call(id, op, &input) {
        Ok(v) => panic!("{op} {input} should fail, returned {v}"),
        Err(e) => e,
    }
}

/// A key of `id`'s account whose policy adds `extra` statements to the
/// default one.
pub fn key_with(svc: &KeyService, id: &Identity, account: &str, extra: &[Value]) -> String {
    let mut statements = vec![json!({
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*", "Resource": "*"
    })];
    statements.extend(extra.iter().cloned());
    let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    ok(svc, id, "CreateKey", json!({"Policy": policy}))["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned()
}

pub fn key_id_of(arn: &str) -> &str {
    arn.rsplit_once("key/").map_or(arn, |(_, id)| id)
}

fn encrypt(svc: &KeyService, id: &Identity, key: &str) -> Result<Value, KmsError> {
    svc.call(
        id,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": B64.encode(b"tenant data")}),
    )
}

/// 1. Aliases are per account and Region: B taking `alias/orders` first
///    neither blocks A nor captures A's encryptions.
#[test]
fn aliases_are_unique_per_account_and_region_only() {
    let e = env();
    let (a, b) = (admin_of(A, "us-east-1"), admin_of(B, "us-east-1"));
    // B's key lets everyone encrypt: the trap the review set.
    let b_key = key_with(
        &e.svc,
        &b,
        B,
        &[json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"})],
    );
    ok(
        &e.svc,
        &b,
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": b_key}),
    );
    let a_key = key_with(&e.svc, &a, A, &[]);
    ok(
        &e.svc,
        &a,
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": a_key}),
    );
    for name in [
        "alias/orders".to_owned(),
        format!("arn:aws:kms:us-east-1:{A}:alias/orders"),
    ] {
        let out = encrypt(&e.svc, &a, &name).expect("A encrypts under its alias");
        assert_eq!(out["KeyId"], a_key.as_str(), "{name} is A's alias");
    }
    let out = encrypt(&e.svc, &b, "alias/orders").expect("B encrypts under its alias");
    assert_eq!(out["KeyId"], b_key.as_str());
    // The same name again in A's account and Region is taken; in another
    // Region it is free.
    let again = err(
        &e.svc,
        &a,
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": a_key}),
    );
    assert_eq!(again.kind, ErrorKind::AlreadyExists);
    assert_eq!(
        again.message,
        format!("An alias with the name arn:aws:kms:us-east-1:{A}:alias/orders already exists")
    );
    let a_west = admin_of(A, "eu-west-1");
    let west_key = key_with(&e.svc, &a_west, A, &[]);
    ok(
        &e.svc,
        &a_west,
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": west_key}),
    );
    // A cannot point its alias at B's key, nor touch B's alias.
    let cross = err(
        &e.svc,
        &a,
        "UpdateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": b_key}),
    );
    assert_eq!(cross.kind, ErrorKind::NotFound, "{}", cross.message);
    ok(
        &e.svc,
        &a,
        "DeleteAlias",
        json!({"AliasName": "alias/orders"}),
    );
    let out = encrypt(&e.svc, &b, "alias/orders").expect("B's alias survives A's delete");
    assert_eq!(out["KeyId"], b_key.as_str());
    let gone = err(&e.svc, &a, "DescribeKey", json!({"KeyId": "alias/orders"}));
    assert_eq!(gone.kind, ErrorKind::NotFound);
    assert_eq!(
        gone.message,
        format!("Alias arn:aws:kms:us-east-1:{A}:alias/orders is not found.")
    );
}

/// 2. The key's account comes from its record: a caller of B with no IAM
///    policy gets nothing from A's key, however it names the key, even when
///    A's key policy allows `"*"` (cross-account use needs B's IAM allow).
#[test]
fn the_key_owner_is_the_record_not_the_arn() {
    let e = env();
    let a = admin_of(A, "us-east-1");
    let key = key_with(
        &e.svc,
        &a,
        A,
        &[json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"})],
    );
    let mallory = principal(&format!("arn:aws:iam::{B}:user/mallory"), "us-east-1");
    let denied = encrypt(&e.svc, &mallory, &key).expect_err("no IAM allow in B");
    assert_eq!(denied.kind, ErrorKind::AccessDenied, "{}", denied.message);
    // Naming the key by a bare id or with B's account in the ARN finds
    // nothing: bare ids are the caller's own, and ARNs look only where they point.
    for name in [
        key_id_of(&key).to_owned(),
        format!("arn:aws:kms:us-east-1:{B}:key/{}", key_id_of(&key)),
    ] {
        let e2 = encrypt(&e.svc, &mallory, &name).expect_err("not B's key");
        assert_eq!(e2.kind, ErrorKind::NotFound, "{name}: {}", e2.message);
    }
    // With an IAM allow in B, the key policy's "*" lets B encrypt.
    let b_admin = admin_of(B, "us-east-1");
    assert!(encrypt(&e.svc, &b_admin, &key).is_ok());
    // The audit records the key under its owner's account.
    let out = ok(&e.svc, &a, "DescribeKey", json!({"KeyId": key}));
    assert_eq!(out["KeyMetadata"]["AWSAccountId"], A);
}

/// 3. Keys stay in their Region.
#[test]
fn keys_are_isolated_by_region() {
    let e = env();
    let singapore = admin_of(A, "ap-southeast-1");
    let virginia = admin_of(A, "us-east-1");
    let key = key_with(&e.svc, &singapore, A, &[]);
    assert!(key.starts_with(&format!("arn:aws:kms:ap-southeast-1:{A}:key/")));
    let blob = encrypt(&e.svc, &singapore, &key).expect("encrypt in its Region")["CiphertextBlob"]
        .as_str()
        .expect("blob")
        .to_owned();
    let by_arn = err(&e.svc, &virginia, "DescribeKey", json!({"KeyId": key}));
    assert_eq!(
        (by_arn.kind, by_arn.message.as_str()),
        (ErrorKind::NotFound, "Invalid arn ap-southeast-1")
    );
    let by_id = err(
        &e.svc,
        &virginia,
        "DescribeKey",
        json!({"KeyId": key_id_of(&key)}),
    );
    assert_eq!(by_id.kind, ErrorKind::NotFound);
    assert_eq!(
        by_id.message,
        format!(
            "Key 'arn:aws:kms:us-east-1:{A}:key/{}' does not exist",
            key_id_of(&key)
        )
    );
    let dec = err(
        &e.svc,
        &virginia,
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    );
    assert_eq!(dec.kind, ErrorKind::NotFound);
    let listed = ok(&e.svc, &virginia, "ListKeys", json!({}));
    assert_eq!(listed["Keys"], json!([]));
    assert!(
        e.svc
            .call(&singapore, "Decrypt", &json!({"CiphertextBlob": blob}))
            .is_ok()
    );
}

/// 4. Listings show the caller's account and Region only.
#[test]
fn listings_show_only_the_callers_account_and_region() {
    let e = env();
    let (a, b) = (admin_of(A, "us-east-1"), admin_of(B, "us-east-1"));
    let a_key = key_with(&e.svc, &a, A, &[]);
    let b_key = key_with(&e.svc, &b, B, &[]);
    let b_west = key_with(&e.svc, &admin_of(B, "eu-west-1"), B, &[]);
    ok(
        &e.svc,
        &a,
        "CreateAlias",
        json!({"AliasName": "alias/a", "TargetKeyId": a_key}),
    );
    ok(
        &e.svc,
        &b,
        "CreateAlias",
        json!({"AliasName": "alias/b", "TargetKeyId": b_key}),
    );
    let a_worker = format!("arn:aws:iam::{A}:role/worker");
    let b_worker = format!("arn:aws:iam::{B}:role/worker");
    for (who, key, retiring) in [(&a, &a_key, &a_worker), (&b, &b_key, &b_worker)] {
        ok(
            &e.svc,
            who,
            "CreateGrant",
            json!({"KeyId": key, "GranteePrincipal": retiring, "RetiringPrincipal": retiring, "Operations": ["Decrypt"]}),
        );
    }
    let keys = ok(&e.svc, &a, "ListKeys", json!({}));
    assert_eq!(
        keys["Keys"],
        json!([{"KeyId": key_id_of(&a_key), "KeyArn": a_key}])
    );
    let aliases = ok(&e.svc, &a, "ListAliases", json!({}));
    let names: Vec<&str> = aliases["Aliases"]
        .as_array()
        .expect("aliases")
        .iter()
        .filter_map(|x| x["AliasArn"].as_str())
        .collect();
    assert_eq!(names, [format!("arn:aws:kms:us-east-1:{A}:alias/a")]);
    let mine = ok(
        &e.svc,
        &a,
        "ListRetirableGrants",
        json!({"RetiringPrincipal": a_worker}),
    );
    let grants = mine["Grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["KeyId"], a_key.as_str());
    // A principal of another account is not A's to ask about.
    let theirs = err(
        &e.svc,
        &a,
        "ListRetirableGrants",
        json!({"RetiringPrincipal": b_worker}),
    );
    assert_eq!(theirs.kind, ErrorKind::AccessDenied);
    assert!(!theirs.message.contains(&b_key), "{}", theirs.message);
    // B in eu-west-1 sees its key there only.
    let west = ok(&e.svc, &admin_of(B, "eu-west-1"), "ListKeys", json!({}));
    assert_eq!(
        west["Keys"],
        json!([{"KeyId": key_id_of(&b_west), "KeyArn": b_west}])
    );
}

/// 5. Many threads creating one alias: exactly one succeeds, and the alias
///    ends on that caller's key.
#[test]
fn create_alias_cannot_race() {
    let e = env();
    let a = admin_of(A, "us-east-1");
    let keys: Vec<String> = (0..8).map(|_| key_with(&e.svc, &a, A, &[])).collect();
    for round in 0..25 {
        let name = format!("alias/race-{round}");
        let results: Vec<(String, Result<Value, KmsError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .iter()
                .map(|k| {
                    let (svc, a, name) = (&e.svc, &a, &name);
                    s.spawn(move || {
                        let r = svc.call(
                            a,
                            "CreateAlias",
                            &json!({"AliasName": name, "TargetKeyId": k}),
                        );
                        (k.clone(), r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let winners: Vec<&String> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (_, r) in &results {
            if let Err(e) = r {
                assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
            }
        }
        let now = ok(&e.svc, &a, "DescribeKey", json!({"KeyId": name}));
        assert_eq!(&now["KeyMetadata"]["Arn"], winners[0].as_str());
    }
}

/// 6. A grant constrained to `EncryptionContextEquals: {}` cannot hand out
///    a wider grant, and cannot decrypt data with a context.
#[test]
fn an_empty_equals_constraint_is_still_a_constraint() {
    let e = env();
    let a = admin_of(A, "us-east-1");
    let key = key_with(&e.svc, &a, A, &[]);
    let blob = ok(
        &e.svc,
        &a,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": B64.encode(b"acme secret"), "EncryptionContext": {"tenant": "acme"}}),
    )["CiphertextBlob"]
        .clone();
    let pipeline_role = format!("arn:aws:iam::{A}:role/Pipeline");
    ok(
        &e.svc,
        &a,
        "CreateGrant",
        json!({"KeyId": key, "GranteePrincipal": pipeline_role, "Operations": ["Decrypt", "CreateGrant"],
               "Constraints": {"EncryptionContextEquals": {}}}),
    );
    let pipeline = principal(
        &format!("arn:aws:sts::{A}:assumed-role/Pipeline/run-1"),
        "us-east-1",
    );
    let decrypt = |who: &Identity| {
        e.svc.call(
            who,
            "Decrypt",
            &json!({"CiphertextBlob": blob, "EncryptionContext": {"tenant": "acme"}}),
        )
    };
    assert_eq!(
        decrypt(&pipeline).expect_err("context not empty").kind,
        ErrorKind::AccessDenied
    );
    let child = |constraints: Value| json!({"KeyId": key, "GranteePrincipal": pipeline_role, "Operations": ["Decrypt"], "Constraints": constraints});
    for wider in [
        Value::Null,
        json!({"EncryptionContextSubset": {}}),
        json!({"EncryptionContextSubset": {"tenant": "acme"}}),
        json!({"EncryptionContextEquals": {"tenant": "acme"}}),
    ] {
        let e2 = err(&e.svc, &pipeline, "CreateGrant", child(wider.clone()));
        assert_eq!(e2.kind, ErrorKind::AccessDenied, "{wider}: {}", e2.message);
    }
    assert_eq!(
        decrypt(&pipeline).expect_err("still no access").kind,
        ErrorKind::AccessDenied
    );
    ok(
        &e.svc,
        &pipeline,
        "CreateGrant",
        child(json!({"EncryptionContextEquals": {}})),
    );
}

/// Grant tokens and RetireGrant reach a grant in the caller's Region only.
#[test]
fn grant_tokens_do_not_cross_regions() {
    let e = env();
    let west = admin_of(A, "eu-west-1");
    let key = key_with(&e.svc, &west, A, &[]);
    let worker = format!("arn:aws:iam::{A}:role/worker");
    let g = ok(
        &e.svc,
        &west,
        "CreateGrant",
        json!({"KeyId": key, "GranteePrincipal": worker, "RetiringPrincipal": format!("arn:aws:iam::{A}:root"), "Operations": ["Decrypt"]}),
    );
    let token = g["GrantToken"].as_str().expect("token");
    let root_east = principal(&format!("arn:aws:iam::{A}:root"), "us-east-1");
    let e2 = err(
        &e.svc,
        &root_east,
        "RetireGrant",
        json!({"GrantToken": token}),
    );
    assert_eq!(e2.kind, ErrorKind::InvalidGrantToken);
    let root_west = principal(&format!("arn:aws:iam::{A}:root"), "eu-west-1");
    ok(
        &e.svc,
        &root_west,
        "RetireGrant",
        json!({"GrantToken": token}),
    );
}

/// The evaluator takes the key's account from the service (the record),
/// not from the resource ARN: a same-account reading of a cross-account
/// request would skip the caller's IAM requirement.
#[test]
fn the_evaluator_takes_the_key_account_it_is_given() {
    use crate::support::{action, caller, key_policy};
    use keyward::compile::DecisionTable;
    use keyward::eval::{Request, decide};
    use keyward::policy::ast::AccountId;
    let table = DecisionTable::new(key_policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}]}"#,
    ));
    let mallory = format!("arn:aws:iam::{B}:user/mallory");
    let arn_naming_b = format!("arn:aws:kms:us-east-1:{B}:key/k");
    let request = || {
        Request::builder(caller(&mallory), action("kms:Encrypt")).resource(arn_naming_b.as_str())
    };
    assert!(
        decide(&table, &request().build()).is_allow(),
        "the ARN alone says same-account"
    );
    let a = AccountId(A.into());
    let owned_by_a = request().key_account(&a).build();
    assert!(
        !decide(&table, &owned_by_a).is_allow(),
        "A's key: B needs an IAM allow"
    );
}

/// A multi-Region key stays in its account: another account's
/// administrator, even with a key policy that lets it use the key, cannot
/// replicate it, move its primary, or import into or hand out wrapping keys
/// for the owner's imported key; a replica serves only its owner's calls.
#[test]
fn multi_region_and_imported_keys_stay_in_their_account() {
    let e = env();
    let a = admin_of(A, "us-east-1");
    let b = admin_of(B, "us-east-1");
    let shared = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{A}:root"), format!("arn:aws:iam::{B}:root")]},
                       "Action": "kms:*", "Resource": "*"}]
    })
    .to_string();
    let mrk = ok(
        &e.svc,
        &a,
        "CreateKey",
        json!({"MultiRegion": true, "Policy": shared}),
    )["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let byok = ok(
        &e.svc,
        &a,
        "CreateKey",
        json!({"Origin": "EXTERNAL", "Policy": shared}),
    )["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    for (op, input) in [
        (
            "ReplicateKey",
            json!({"KeyId": mrk, "ReplicaRegion": "us-west-2"}),
        ),
        (
            "UpdatePrimaryRegion",
            json!({"KeyId": mrk, "PrimaryRegion": "us-west-2"}),
        ),
        (
            "GetParametersForImport",
            json!({"KeyId": byok, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        ),
        ("DeleteImportedKeyMaterial", json!({"KeyId": byok})),
    ] {
        let err = e.svc.call(&b, op, &input).expect_err(op);
        assert_eq!(err.kind, ErrorKind::NotFound, "{op}: {}", err.message);
    }
    // The owner's replica is the owner's: B's caller scope in us-west-2 has
    // no key of that id, though B may use the primary by its ARN.
    ok(
        &e.svc,
        &a,
        "ReplicateKey",
        json!({"KeyId": mrk, "ReplicaRegion": "us-west-2"}),
    );
    let key_id = mrk.rsplit('/').next().expect("id");
    let err = e
        .svc
        .call(
            &admin_of(B, "us-west-2"),
            "DescribeKey",
            &json!({"KeyId": key_id}),
        )
        .expect_err("B has no such key");
    assert_eq!(err.kind, ErrorKind::NotFound);
    let listed = ok(&e.svc, &admin_of(B, "us-west-2"), "ListKeys", json!({}));
    assert_eq!(listed["Keys"], json!([]));
}
