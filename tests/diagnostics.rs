//! What a user sees when a document is malformed: every problem, at its
//! exact span, collected in one pass, never a panic.

use keyward::compile::{CompiledPolicy, PolicyKind};
use keyward::policy::{ParseError, Source, parse_document, parse_grants, parse_policy};

use crate::support::render;

fn parse_report(name: &str, text: &str) -> String {
    match parse_policy(&Source::new(name, text)) {
        Ok(_) => "parsed without error".to_owned(),
        Err(e) => render(&e),
    }
}

fn compile_report(name: &str, text: &str, kind: PolicyKind) -> String {
    let source = Source::new(name, text);
    match parse_policy(&source) {
        Err(e) => render(&e),
        Ok(p) => match CompiledPolicy::compile(&p, kind, &source) {
            Ok(_) => "compiled without error".to_owned(),
            Err(e) => render(&e),
        },
    }
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn invalid_json() {
    snapshot!(
        "diag_invalid_json",
        parse_report(
            "bad.json",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}\n"
        )
    );
}

#[test]
fn duplicate_keys() {
    snapshot!(
        "diag_duplicate_keys",
        parse_report(
            "dup.json",
            r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": "*",
    "Action": "kms:Decrypt",
    "Action": "kms:Encrypt",
    "Resource": "*"
  }]
}"#
        )
    );
}

#[test]
fn many_problems_are_collected() {
    snapshot!(
        "diag_collected",
        parse_report(
            "many.json",
            r#"{
  "Version": "2012-10-17",
  "Statment": [],
  "Statement": [
    {
      "Effect": "allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"},
      "Action": ["kms:Decrypt", 7],
      "NotAction": "kms:Encrypt",
      "Resource": "*",
      "Condition": {"StringEqual": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}
    },
    {"Sid": "NoEffect", "Principal": "*", "Action": "kms:*", "Resource": "*", "Conditions": {}}
  ]
}"#
        )
    );
}

#[test]
fn wrong_types() {
    snapshot!(
        "diag_wrong_types",
        parse_report(
            "types.json",
            r#"{
  "Version": 2012,
  "Statement": {
    "Effect": "Deny",
    "Principal": ["*"],
    "Action": {"kms": "Decrypt"},
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": null}, "StringEquals": {"kms:ViaService": []}}
  }
}"#
        )
    );
}

#[test]
fn bad_version_and_unknown_operator() {
    snapshot!(
        "diag_version_operator",
        parse_report(
            "ops.json",
            r#"{
  "Version": "2012-10-18",
  "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringNotEqualsIfExist": {"kms:EncryptionContext:tenant": "a"}, "NullIfExists": {"a": "true"}}
  }]
}"#
        )
    );
}

#[test]
fn an_unknown_operator_in_a_deny_is_an_error_never_an_allow() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringNotEqualz": {"kms:EncryptionContext:tenant": "acme"}}}]}"#;
    let err = parse_policy(&Source::new("p.json", text)).err();
    assert!(matches!(
        err.as_ref().map(|e| e.errors()),
        Some([ParseError::UnknownOperator { .. }])
    ));
}

#[test]
fn compile_errors() {
    snapshot!(
        "diag_compile_key_policy",
        compile_report(
            "compile.json",
            r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
    {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {
       "IpAddress": {"aws:SourceIp": "10.0.0.300/8"},
       "NumericLessThan": {"kms:RotationPeriodInDays": "ninety"},
       "DateGreaterThan": {"aws:CurrentTime": "last tuesday"},
       "Bool": {"aws:SecureTransport": "yes"}
     }}
  ]
}"#,
            PolicyKind::KeyPolicy
        )
    );
    snapshot!(
        "diag_compile_iam_policy",
        compile_report(
            "iam.json",
            r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]
}"#,
            PolicyKind::IamPolicy
        )
    );
}

#[test]
fn grant_errors() {
    let text = r#"[
  {"GranteePrincipal": "arn:aws:iam::111122223333:role/App", "Operations": ["Decrpyt", "PutKeyPolicy"],
   "Constraints": {"EncryptionContextEqual": {"a": "b"}}},
  {"Operations": ["Encrypt"], "RetiringPrincipal": 5}
]"#;
    let report = match parse_grants(&Source::new("grants.json", text)) {
        Ok(_) => "parsed".to_owned(),
        Err(e) => render(&e),
    };
    snapshot!("diag_grants", report);
}

#[test]
fn unknown_document() {
    let report = match parse_document(&Source::new("what.json", r#"{"Hello": "world"}"#)) {
        Ok(_) => "parsed".to_owned(),
        Err(e) => render(&e),
    };
    snapshot!("diag_unknown_document", report);
}

#[test]
fn hostile_input_never_panics() {
    let deep = "[".repeat(100_000);
    let inputs = [
        "",
        " ",
        "\"",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00x\"}",
        "{\"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"\"}}]}",
        "\u{feff}{}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"k\":\"[\"}}}]}",
        "1e999999",
        deep.as_str(),
    ];
    for text in inputs {
        let source = Source::new("x.json", text);
        let _ = parse_document(&source);
        if let Ok(p) = parse_policy(&source) {
            let _ = CompiledPolicy::compile(&p, PolicyKind::KeyPolicy, &source);
        }
    }
}

#[test]
fn spans_point_at_the_exact_bytes() {
    let text = r#"{"Statement": [{"Effect": "Allow", "Effect": "Deny"}]}"#;
    let err = parse_policy(&Source::new("s.json", text)).err();
    let Some([ParseError::DuplicateKey { span, first, .. }, ..]) = err.as_ref().map(|e| e.errors())
    else {
        panic!("expected a duplicate key, got {err:?}");
    };
    assert_eq!(
        &text[span.offset()..span.offset() + span.len()],
        "\"Effect\""
    );
    assert_eq!(first.offset(), text.find("\"Effect\"").unwrap_or_default());
    assert!(span.offset() > first.offset());
}

/// A one-line policy of 70 KB: the frame shows a window of the line around
/// the problem, and the location is the real line and column.
#[test]
fn a_problem_far_along_one_long_line() {
    let pad = "x".repeat(70_000);
    snapshot!(
        "diag_long_line",
        parse_report(
            "minified.json",
            &format!(
                r#"{{"Version": "2012-10-17", "Id": "{pad}", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Bogus": 1}}]}}"#
            )
        )
    );
}
