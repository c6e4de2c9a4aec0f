//! Asymmetric and HMAC keys through the key service: the decision table
//! honours the condition keys these operations carry, each request is
//! recorded with its algorithm and message type, and the keys are used only
//! as their usage allows.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use keyward::crypto::asymmetric::{self, Message};
use keyward::service::{ErrorKind, KeyService};

use crate::service::{admin, env};

const ROOT: &str = "arn:aws:iam::111122223333:root";

/// A key policy: the account root may do everything but what `deny` (one
/// statement's Action and Condition) forbids.
fn policy_denying(action: &str, condition: Value) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": ROOT}, "Action": action, "Resource": "*",
             "Condition": condition}
        ]
    })
    .to_string()
}

fn create(svc: &KeyService, spec: &str, usage: &str, policy: Option<String>) -> String {
    let mut req = json!({"KeySpec": spec, "KeyUsage": usage});
    if let Some(p) = policy {
        req["Policy"] = json!(p);
    }
    svc.call(&admin(), "CreateKey", &req).expect("create")["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// (key spec, usage, operation, request, denying condition, a request the
/// condition lets through).
#[test]
fn condition_keys_of_asymmetric_operations_decide() {
    let e = env();
    let digest = b64(&[7u8; 32]);
    let cases: Vec<(&str, &str, &str, &str, Value, Value, Value)> = vec![
        (
            "ECC_NIST_P256",
            "SIGN_VERIFY",
            "Sign",
            "kms:Sign",
            json!({"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}),
            json!({"Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
            json!(null),
        ),
        (
            "ECC_NIST_P256",
            "SIGN_VERIFY",
            "Sign",
            "kms:Sign",
            json!({"StringNotEquals": {"kms:MessageType": "DIGEST"}}),
            json!({"Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
            json!({"Message": digest, "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256"}),
        ),
        (
            "RSA_2048",
            "SIGN_VERIFY",
            "Sign",
            "kms:Sign",
            json!({"StringLike": {"kms:SigningAlgorithm": "RSASSA_PKCS1*"}}),
            json!({"Message": b64(b"m"), "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"}),
            json!({"Message": b64(b"m"), "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
        ),
        (
            "HMAC_256",
            "GENERATE_VERIFY_MAC",
            "GenerateMac",
            "kms:GenerateMac",
            json!({"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}),
            json!({"Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
            json!(null),
        ),
        (
            "RSA_2048",
            "ENCRYPT_DECRYPT",
            "Encrypt",
            "kms:Encrypt",
            json!({"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}}),
            json!({"Plaintext": b64(b"m"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
            json!({"Plaintext": b64(b"m"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
        ),
        (
            "ECC_NIST_P384",
            "SIGN_VERIFY",
            "GetPublicKey",
            "kms:GetPublicKey",
            json!({"StringEquals": {"kms:KeySpec": "ECC_NIST_P384"}}),
            json!({}),
            json!(null),
        ),
        (
            "ECC_NIST_EDWARDS25519",
            "SIGN_VERIFY",
            "Sign",
            "kms:Sign",
            json!({"StringEquals": {"kms:KeyUsage": "SIGN_VERIFY"}}),
            json!({"Message": b64(b"m"), "SigningAlgorithm": "ED25519_SHA_512"}),
            json!(null),
        ),
    ];
    for (spec, usage, op, action, condition, denied, allowed) in cases {
        let key = create(
            &e.svc,
            spec,
            usage,
            Some(policy_denying(action, condition.clone())),
        );
        let with_key = |mut r: Value| {
            r["KeyId"] = json!(key);
            r
        };
        let err = e
            .svc
            .call(&admin(), op, &with_key(denied))
            .expect_err(&format!("{op} on {spec} under {condition}"));
        assert_eq!(
            err.kind,
            ErrorKind::AccessDenied,
            "{op} {spec} {condition}: {err}"
        );
        if !allowed.is_null() {
            e.svc
                .call(&admin(), op, &with_key(allowed))
                .unwrap_or_else(|e| panic!("{op} {spec} {condition}: {e}"));
        }
    }
}

#[test]
fn every_signing_algorithm_signs_what_the_public_key_verifies() {
    let e = env();
    for (spec, algorithms) in [
        (
            "RSA_2048",
            &[
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ][..],
        ),
        ("ECC_NIST_P256", &["ECDSA_SHA_256"][..]),
        ("ECC_NIST_P384", &["ECDSA_SHA_384"][..]),
        ("ECC_NIST_P521", &["ECDSA_SHA_512"][..]),
        ("ECC_SECG_P256K1", &["ECDSA_SHA_256"][..]),
        (
            "ECC_NIST_EDWARDS25519",
            &["ED25519_SHA_512", "ED25519_PH_SHA_512"][..],
        ),
        ("ML_DSA_44", &["ML_DSA_SHAKE_256"][..]),
        ("ML_DSA_65", &["ML_DSA_SHAKE_256"][..]),
        ("ML_DSA_87", &["ML_DSA_SHAKE_256"][..]),
    ] {
        let key = create(&e.svc, spec, "SIGN_VERIFY", None);
        let public = e
            .svc
            .call(&admin(), "GetPublicKey", &json!({"KeyId": key}))
            .expect("public key");
        assert_eq!(
            public["SigningAlgorithms"].as_array().map(Vec::len),
            Some(algorithms.len().max(if spec == "ECC_NIST_EDWARDS25519" {
                2
            } else {
                1
            }))
        );
        let der = B64
            .decode(public["PublicKey"].as_str().expect("der"))
            .expect("b64");
        for algorithm in algorithms {
            if *algorithm == "ED25519_PH_SHA_512" {
                // Signs a digest only: checked in its own test.
                continue;
            }
            let message = format!("release {spec} {algorithm}");
            let out = e
                .svc
                .call(
                    &admin(),
                    "Sign",
                    &json!({"KeyId": key, "Message": b64(message.as_bytes()), "SigningAlgorithm": algorithm}),
                )
                .unwrap_or_else(|e| panic!("{spec} {algorithm}: {e}"));
            let sig = B64
                .decode(out["Signature"].as_str().expect("sig"))
                .expect("b64");
            assert!(
                asymmetric::verify_public(
                    spec,
                    algorithm,
                    &der,
                    message.as_bytes(),
                    Message::Raw,
                    &sig
                )
                .expect("verify"),
                "{spec} {algorithm}: the public key does not verify keyward's signature"
            );
            assert!(
                !asymmetric::verify_public(
                    spec,
                    algorithm,
                    &der,
                    b"another message",
                    Message::Raw,
                    &sig
                )
                .expect("verify"),
                "{spec} {algorithm}: a signature verified another message"
            );
            let verified = e.svc.call(
                &admin(),
                "Verify",
                &json!({"KeyId": key, "Message": b64(b"another message"), "Signature": b64(&sig), "SigningAlgorithm": algorithm}),
            );
            assert_eq!(
                verified.map_err(|e| e.kind).err(),
                Some(ErrorKind::InvalidSignature)
            );
        }
    }
}

#[test]
fn ed25519ph_signs_digests_the_public_key_verifies() {
    let e = env();
    let key = create(&e.svc, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY", None);
    let der = B64
        .decode(
            e.svc
                .call(&admin(), "GetPublicKey", &json!({"KeyId": key}))
                .expect("public")["PublicKey"]
                .as_str()
                .expect("der"),
        )
        .expect("b64");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, b"firmware image");
    let sign = |message_type: &str, message: &[u8]| {
        e.svc.call(
            &admin(),
            "Sign",
            &json!({"KeyId": key, "Message": b64(message), "MessageType": message_type, "SigningAlgorithm": "ED25519_PH_SHA_512"}),
        )
    };
    let out = sign("DIGEST", digest.as_ref()).expect("sign");
    let sig = B64
        .decode(out["Signature"].as_str().expect("sig"))
        .expect("b64");
    assert_eq!(sig.len(), 64);
    assert!(
        asymmetric::verify_public(
            "ECC_NIST_EDWARDS25519",
            "ED25519_PH_SHA_512",
            &der,
            digest.as_ref(),
            Message::Digest,
            &sig
        )
        .expect("verify")
    );
    e.svc
        .call(
            &admin(),
            "Verify",
            &json!({"KeyId": key, "Message": b64(digest.as_ref()), "MessageType": "DIGEST", "Signature": b64(&sig), "SigningAlgorithm": "ED25519_PH_SHA_512"}),
        )
        .expect("keyward verifies its Ed25519ph signature");
    // AWS: ED25519_PH_SHA_512 takes DIGEST only, and a SHA-512 digest.
    let raw = sign("RAW", b"firmware image").expect_err("raw");
    assert_eq!(
        (raw.kind, raw.message.as_str()),
        (
            ErrorKind::Validation,
            "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512."
        )
    );
    let short = sign("DIGEST", &[0u8; 32]).expect_err("short digest");
    assert_eq!(
        (short.kind, short.message.as_str()),
        (
            ErrorKind::Validation,
            "Digest is invalid length for algorithm ED25519_PH_SHA_512."
        )
    );
}

#[test]
fn sign_records_its_algorithm_and_message_type_but_never_the_message() {
    let e = env();
    let key = create(&e.svc, "ECC_NIST_P256", "SIGN_VERIFY", None);
    e.svc
        .call(
            &admin(),
            "Sign",
            &json!({"KeyId": key, "Message": b64(b"top secret release"), "SigningAlgorithm": "ECDSA_SHA_256"}),
        )
        .expect("sign");
    let log = std::fs::read_to_string(e.dir.join("audit.jsonl")).expect("log");
    let last: Value = serde_json::from_str(log.lines().last().expect("record")).expect("json");
    assert_eq!(last["eventName"], "Sign");
    assert_eq!(
        last["requestParameters"]["SigningAlgorithm"],
        "ECDSA_SHA_256"
    );
    assert_eq!(last["requestParameters"]["MessageType"], "RAW");
    assert!(last["requestParameters"].get("Message").is_none());
    assert!(!log.contains(&b64(b"top secret release")));
}

#[test]
fn keys_are_used_only_as_their_usage_allows() {
    let e = env();
    let signer = create(&e.svc, "RSA_2048", "SIGN_VERIFY", None);
    let mac = create(&e.svc, "HMAC_224", "GENERATE_VERIFY_MAC", None);
    let symmetric =
        e.svc.call(&admin(), "CreateKey", &json!({})).expect("key")["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("id")
            .to_owned();
    let arn = |k: &str| format!("arn:aws:kms:us-east-1:111122223333:key/{k}");
    let cases: Vec<(&str, Value, ErrorKind, String)> = vec![
        ("Encrypt", json!({"KeyId": signer, "Plaintext": b64(b"x")}), ErrorKind::InvalidKeyUsage,
         format!("{} key usage is SIGN_VERIFY which is not valid for Encrypt.", arn(&signer))),
        ("GenerateMac", json!({"KeyId": signer, "Message": b64(b"x"), "MacAlgorithm": "HMAC_SHA_256"}), ErrorKind::InvalidKeyUsage,
         format!("{} key usage is SIGN_VERIFY which is not valid for GenerateMac.", arn(&signer))),
        ("GenerateMac", json!({"KeyId": mac, "Message": b64(b"x"), "MacAlgorithm": "HMAC_SHA_256"}), ErrorKind::InvalidKeyUsage,
         "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.".into()),
        ("Sign", json!({"KeyId": signer, "Message": b64(b"x"), "SigningAlgorithm": "ECDSA_SHA_256"}), ErrorKind::InvalidKeyUsage,
         "Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048.".into()),
        ("Sign", json!({"KeyId": signer, "Message": b64(&[1u8; 31]), "MessageType": "DIGEST", "SigningAlgorithm": "RSASSA_PSS_SHA_256"}), ErrorKind::Validation,
         "Digest is invalid length for algorithm RSASSA_PSS_SHA_256.".into()),
        ("GetPublicKey", json!({"KeyId": symmetric}), ErrorKind::UnsupportedOperation, String::new()),
        ("RotateKeyOnDemand", json!({"KeyId": signer}), ErrorKind::UnsupportedOperation, String::new()),
        ("EnableKeyRotation", json!({"KeyId": mac}), ErrorKind::UnsupportedOperation, String::new()),
        ("GenerateDataKey", json!({"KeyId": signer, "KeySpec": "AES_256"}), ErrorKind::InvalidKeyUsage,
         format!("{} key usage is SIGN_VERIFY which is not valid for GenerateDataKey.", arn(&signer))),
        ("CreateKey", json!({"KeySpec": "HMAC_256"}), ErrorKind::Validation,
         "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into()),
        ("CreateKey", json!({"KeySpec": "RSA_2048", "KeyUsage": "GENERATE_VERIFY_MAC"}), ErrorKind::Validation,
         "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec RSA_2048".into()),
    ];
    for (op, request, kind, message) in cases {
        let err = e.svc.call(&admin(), op, &request).expect_err(op);
        assert_eq!(
            (err.kind, err.message.as_str()),
            (kind, message.as_str()),
            "{op} {request}"
        );
    }
}

fn call(svc: &KeyService, op: &str, request: Value) -> Value {
    svc.call(&admin(), op, &request)
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn blob(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().expect("a blob")).expect("base64")
}

#[test]
fn ecdh_secrets_agree_with_a_local_computation() {
    use aws_lc_rs::agreement;
    let e = env();
    for (spec, alg) in [
        ("ECC_NIST_P256", &agreement::ECDH_P256),
        ("ECC_NIST_P384", &agreement::ECDH_P384),
        ("ECC_NIST_P521", &agreement::ECDH_P521),
    ] {
        let a = create(&e.svc, spec, "KEY_AGREEMENT", None);
        let b = create(&e.svc, spec, "KEY_AGREEMENT", None);
        let meta = call(&e.svc, "DescribeKey", json!({"KeyId": a}));
        assert_eq!(
            meta["KeyMetadata"]["KeyAgreementAlgorithms"],
            json!(["ECDH"])
        );
        let public =
            |k: &str| blob(&call(&e.svc, "GetPublicKey", json!({"KeyId": k}))["PublicKey"]);
        let derive = |k: &str, peer: &[u8]| {
            blob(
                &call(
                    &e.svc,
                    "DeriveSharedSecret",
                    json!({"KeyId": k, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(peer)}),
                )["SharedSecret"],
            )
        };
        assert_eq!(derive(&a, &public(&b)), derive(&b, &public(&a)), "{spec}");
        // A local key agrees with keyward on the same secret.
        let local = agreement::PrivateKey::generate(alg).expect("local key");
        let local_public =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
                &local.compute_public_key().expect("public"),
            )
            .expect("der");
        let ours = agreement::agree(
            &local,
            agreement::UnparsedPublicKey::new(alg, public(&a)),
            (),
            |z| Ok(z.to_vec()),
        )
        .expect("agree");
        assert_eq!(derive(&a, local_public.as_ref()), ours, "{spec}");
        // A point of another curve is refused as AWS refuses it.
        let err = e
            .svc
            .call(
                &admin(),
                "DeriveSharedSecret",
                &json!({"KeyId": a, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(b"not a public key")}),
            )
            .expect_err("bad public key");
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::Validation, "")
        );
    }
}

#[test]
fn ml_kem_encapsulates_to_its_published_public_key() {
    use aws_lc_rs::kem;
    let e = env();
    for (spec, alg, ct_len) in [
        ("ML_KEM_512", &kem::ML_KEM_512, 768),
        ("ML_KEM_768", &kem::ML_KEM_768, 1088),
        ("ML_KEM_1024", &kem::ML_KEM_1024, 1568),
    ] {
        let key = create(&e.svc, spec, "ENCAPSULATE_DECAPSULATE", None);
        let out = call(
            &e.svc,
            "Encapsulate",
            json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM"}),
        );
        let ct = blob(&out["SharedSecretCiphertextBlob"]);
        assert_eq!(ct.len(), ct_len, "{spec}");
        let back = call(
            &e.svc,
            "Decapsulate",
            json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(&ct)}),
        );
        assert_eq!(
            blob(&back["SharedSecret"]),
            blob(&out["SharedSecret"]),
            "{spec}"
        );
        // The SubjectPublicKeyInfo carries the raw encapsulation key last:
        // encapsulating to it locally gives a secret keyward decapsulates.
        let spki = blob(&call(&e.svc, "GetPublicKey", json!({"KeyId": key}))["PublicKey"]);
        let raw_len = match spec {
            "ML_KEM_512" => 800,
            "ML_KEM_768" => 1184,
            _ => 1568,
        };
        let local =
            kem::EncapsulationKey::new(alg, &spki[spki.len() - raw_len..]).expect("public key");
        let (local_ct, local_secret) = local.encapsulate().expect("encapsulate");
        let theirs = call(
            &e.svc,
            "Decapsulate",
            json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(local_ct.as_ref())}),
        );
        assert_eq!(
            blob(&theirs["SharedSecret"]),
            local_secret.as_ref(),
            "{spec}"
        );
        let err = e
            .svc
            .call(
                &admin(),
                "Decapsulate",
                &json!({"KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(&ct[1..])}),
            )
            .expect_err("short ciphertext");
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::InvalidCiphertext, "")
        );
    }
}

#[test]
fn data_key_pairs_decrypt_to_the_private_key_of_their_public_key() {
    let e = env();
    let wrapping = call(&e.svc, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("id")
        .to_owned();
    for spec in [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    ] {
        let out = call(
            &e.svc,
            "GenerateDataKeyPair",
            json!({"KeyId": wrapping, "KeyPairSpec": spec, "EncryptionContext": {"app": "signer"}}),
        );
        assert_eq!(out["KeyPairSpec"], spec);
        let private = blob(&out["PrivateKeyPlaintext"]);
        let public = blob(&out["PublicKey"]);
        assert_eq!(
            asymmetric::public_key_of(spec, &private).expect("public"),
            public,
            "{spec}"
        );
        let opened = call(
            &e.svc,
            "Decrypt",
            json!({"CiphertextBlob": out["PrivateKeyCiphertextBlob"], "EncryptionContext": {"app": "signer"}}),
        );
        assert_eq!(blob(&opened["Plaintext"]), private, "{spec}");
        let without = call(
            &e.svc,
            "GenerateDataKeyPairWithoutPlaintext",
            json!({"KeyId": wrapping, "KeyPairSpec": spec}),
        );
        assert!(without.get("PrivateKeyPlaintext").is_none());
    }
    let signer = create(&e.svc, "ECC_NIST_P256", "SIGN_VERIFY", None);
    let err = e
        .svc
        .call(
            &admin(),
            "GenerateDataKeyPair",
            &json!({"KeyId": signer, "KeyPairSpec": "RSA_2048"}),
        )
        .expect_err("a signing key wraps nothing");
    assert_eq!(err.kind, ErrorKind::InvalidKeyUsage);
}

#[test]
fn re_encrypt_moves_data_between_symmetric_and_rsa_keys() {
    let e = env();
    let symmetric = call(&e.svc, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("id")
        .to_owned();
    let rsa = create(&e.svc, "RSA_3072", "ENCRYPT_DECRYPT", None);
    let secret = b"a record key, 32 bytes long....!";
    // Symmetric -> RSA: the result opens with the RSA key.
    let blob_sym = call(
        &e.svc,
        "Encrypt",
        json!({"KeyId": symmetric, "Plaintext": b64(secret), "EncryptionContext": {"t": "a"}}),
    )["CiphertextBlob"]
        .clone();
    let to_rsa = call(
        &e.svc,
        "ReEncrypt",
        json!({"CiphertextBlob": blob_sym, "SourceEncryptionContext": {"t": "a"},
               "DestinationKeyId": rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(
        to_rsa["DestinationEncryptionAlgorithm"],
        "RSAES_OAEP_SHA_256"
    );
    assert_eq!(to_rsa["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert!(to_rsa.get("DestinationKeyMaterialId").is_none());
    let opened = call(
        &e.svc,
        "Decrypt",
        json!({"CiphertextBlob": to_rsa["CiphertextBlob"], "KeyId": rsa, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(blob(&opened["Plaintext"]), secret);
    // RSA -> symmetric: the source names its key and algorithm.
    let back = call(
        &e.svc,
        "ReEncrypt",
        json!({"CiphertextBlob": to_rsa["CiphertextBlob"], "SourceKeyId": rsa,
               "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": symmetric,
               "DestinationEncryptionContext": {"t": "b"}}),
    );
    let opened = call(
        &e.svc,
        "Decrypt",
        json!({"CiphertextBlob": back["CiphertextBlob"], "EncryptionContext": {"t": "b"}}),
    );
    assert_eq!(blob(&opened["Plaintext"]), secret);
    // An RSA destination takes only what fits.
    let big = call(
        &e.svc,
        "Encrypt",
        json!({"KeyId": symmetric, "Plaintext": b64(&[1u8; 400])}),
    )["CiphertextBlob"]
        .clone();
    let err = e
        .svc
        .call(
            &admin(),
            "ReEncrypt",
            &json!({"CiphertextBlob": big, "DestinationKeyId": rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
        )
        .expect_err("too large");
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::Validation,
            "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_3072 cannot encrypt data larger than 342 bytes."
        )
    );
}
