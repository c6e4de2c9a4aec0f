//! Random input never makes a parser panic: the policy and grant parsers
//! (and the compiler behind them), the ciphertext blob header, and the
//! service's request decoding, each fed arbitrary bytes and arbitrary
//! JSON-shaped text.

use std::sync::LazyLock;

use keyward::crypto::blob;
use keyward::fuzzing::Harness;
use proptest::prelude::*;
use serde_json::Value;

/// Text that is often nearly a policy: fragments of the grammar glued at
/// random, so the parser gets past its first byte.
fn policyish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"Version\"",
        "\"2012-10-17\"",
        "\"Statement\"",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Principal\"",
        "\"*\"",
        "\"AWS\"",
        "\"Action\"",
        "\"kms:Decrypt\"",
        "\"Resource\"",
        "\"Condition\"",
        "\"StringEquals\"",
        "\"kms:EncryptionContext:k\"",
        "\"${aws:username}\"",
        "\"GranteePrincipal\"",
        "\"Operations\"",
        "\"Constraints\"",
        "\"EncryptionContextEquals\"",
        "1",
        "true",
        "null",
        "\\u00e9",
        "\u{1F600}",
        " ",
        "\n",
        "\"x",
        "\\",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|p| p.concat())
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("fuzz harness"));

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn policy_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        keyward::fuzzing::policy(&bytes);
    }

    #[test]
    fn policy_parser_never_panics_on_policy_fragments(text in policyish()) {
        keyward::fuzzing::policy(text.as_bytes());
    }

    #[test]
    fn blob_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = blob::header(&bytes);
        let mut framed = b"KWB\x01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = blob::header(&framed);
        // Through the service's Decrypt, also aimed at a real key.
        HARNESS.blob(&bytes);
        let mut aimed = b"KWB\x01\x01@".to_vec();
        aimed.extend_from_slice(&bytes);
        HARNESS.blob(&aimed);
    }

    #[test]
    fn request_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), op in 0..34usize) {
        let mut framed = vec![u8::try_from(op).unwrap_or(0)];
        framed.extend_from_slice(&bytes);
        HARNESS.request(&framed);
        let e = crate::service::env();
        let operation = keyward::service::OPERATIONS[op];
        let input: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let _ = e.svc.call(&crate::service::admin(), operation, &input);
        let text = String::from_utf8_lossy(&bytes);
        let input = serde_json::json!({"KeyId": text, "AliasName": text, "GranteePrincipal": text,
            "Operations": [text], "EncryptionContext": {text.to_string(): text}, "Limit": bytes.len(),
            "Marker": text, "CiphertextBlob": base64_of(&bytes), "Policy": text});
        let _ = e.svc.call(&crate::service::admin(), operation, &input);
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
