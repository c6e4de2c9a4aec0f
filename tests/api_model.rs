//! Requests checked against the KMS API model before any operation runs:
//! AWS's validation and serialization errors, member by member.

use serde_json::{Value, json};

use keyward::service::ErrorKind;

use crate::service::{admin, env};

/// (operation, request, error type, message) — AWS's texts.
fn refused() -> Vec<(&'static str, Value, ErrorKind, &'static str)> {
    vec![
        (
            "DescribeKey",
            json!({}),
            ErrorKind::Validation,
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        ),
        (
            "CreateKey",
            json!({"KeySpec": "HMAC_random", "KeyUsage": "RANDOM"}),
            ErrorKind::Validation,
            "2 validation errors detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]; Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]",
        ),
        (
            "CreateKey",
            json!({"Tags": [{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "", "TagValue": "v"}]}),
            ErrorKind::Validation,
            "1 validation error detected: Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "CreateKey",
            json!({"Tags": [{"TagKey": "k"}]}),
            ErrorKind::Validation,
            "1 validation error detected: Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null",
        ),
        (
            "GenerateRandom",
            json!({"NumberOfBytes": 1025}),
            ErrorKind::Validation,
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
        ),
        (
            "GenerateRandom",
            json!({}),
            ErrorKind::Validation,
            "NumberOfBytes is required.",
        ),
        (
            "GetKeyPolicy",
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "PolicyName": "two words"}),
            ErrorKind::Validation,
            "1 validation error detected: Value 'two words' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+",
        ),
        (
            "Decrypt",
            json!({"GrantTokens": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"], "CiphertextBlob": "AAAA"}),
            ErrorKind::Validation,
            "1 validation error detected: Value '[a, b, c, d, e, f, g, h, i, j, k]' at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
        ),
        (
            "Encrypt",
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Plaintext": ""}),
            ErrorKind::Validation,
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "CreateGrant",
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "GranteePrincipal": "a b", "Operations": ["Decrypt"]}),
            ErrorKind::Validation,
            "1 validation error detected: Value 'a b' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
        ),
        (
            "ListKeys",
            json!({"ResourceOwners": []}),
            ErrorKind::Validation,
            "1 validation error detected: Value '[]' at 'resourceOwners' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "GenerateRandom",
            json!({"NumberOfBytes": "8"}),
            ErrorKind::Serialization,
            "STRING_VALUE can not be converted to an Integer",
        ),
        (
            "CreateKey",
            json!({"Description": ["x"]}),
            ErrorKind::Serialization,
            "Start of list found where not expected",
        ),
        (
            "CreateKey",
            json!({"MultiRegion": "true"}),
            ErrorKind::Serialization,
            "STRING_VALUE can not be converted to a Boolean",
        ),
        (
            "Encrypt",
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Plaintext": "not base64!"}),
            ErrorKind::Serialization,
            "Value at 'plaintext' is not valid base64",
        ),
        (
            "Encrypt",
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Plaintext": "AA==", "EncryptionContext": {"a": 1}}),
            ErrorKind::Serialization,
            "NUMBER_VALUE can not be converted to a String",
        ),
        (
            "DescribeKey",
            json!({"KeyId": "fake-key-id"}),
            ErrorKind::NotFound,
            "Invalid keyId 'fake-key-id'",
        ),
    ]
}

#[test]
fn requests_that_break_the_model_get_aws_errors() {
    let e = env();
    for (operation, request, kind, message) in refused() {
        let err = e
            .svc
            .call(&admin(), operation, &request)
            .expect_err(operation);
        assert_eq!(
            (err.kind, err.message.as_str()),
            (kind, message),
            "{operation} {request}"
        );
    }
}

/// A refused request is still recorded, with AWS's error.
#[test]
fn a_refused_request_is_recorded() {
    let e = env();
    let err = e
        .svc
        .call(&admin(), "GenerateRandom", &json!({"NumberOfBytes": 0}))
        .expect_err("range");
    assert_eq!(err.kind, ErrorKind::Validation);
    let log = std::fs::read_to_string(e.dir.join("audit.jsonl")).expect("log");
    let last: Value = serde_json::from_str(log.lines().last().expect("a record")).expect("json");
    assert_eq!(last["eventName"], "GenerateRandom");
    assert_eq!(last["errorCode"], "ValidationException");
    assert!(last["eventID"].as_str().is_some_and(|s| s.len() == 36));
}
