//! Condition semantics, one table row per rule of the IAM policy language,
//! each rule with both outcomes. Expected values come from the IAM User
//! Guide ("IAM JSON policy elements: Condition operators", "Multivalued
//! context keys", "Policy variables") and the KMS Developer Guide.

use keyward::eval::DecisionKind;

use crate::support::*;

/// A request context value.
#[derive(Clone, Copy)]
enum V {
    One(&'static str),
    Many(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    version: Option<&'static str>,
    condition: &'static str,
    context: &'static [(&'static str, V)],
    tags: &'static [(&'static str, &'static str)],
    allowed: bool,
}

const V12: Option<&str> = Some("2012-10-17");
const V08: Option<&str> = Some("2008-10-17");

const fn case(
    name: &'static str,
    condition: &'static str,
    context: &'static [(&'static str, V)],
    allowed: bool,
) -> Case {
    Case {
        name,
        version: V12,
        condition,
        context,
        tags: &[],
        allowed,
    }
}

use V::{Many, One};

const CASES: &[Case] = &[
    // Several values under one key: OR.
    case(
        "values OR: second value matches",
        r#"{"StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]}}"#,
        &[("kms:ViaService", One("ec2.us-east-1.amazonaws.com"))],
        true,
    ),
    case(
        "values OR: no value matches",
        r#"{"StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]}}"#,
        &[("kms:ViaService", One("rds.us-east-1.amazonaws.com"))],
        false,
    ),
    // Several keys under one operator: AND (every key, not only the first).
    case(
        "keys AND: both hold",
        r#"{"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": "111122223333"}}"#,
        &[
            ("kms:ViaService", One("ec2.us-east-1.amazonaws.com")),
            ("kms:CallerAccount", One("111122223333")),
        ],
        true,
    ),
    case(
        "keys AND: second key fails",
        r#"{"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": "111122223333"}}"#,
        &[
            ("kms:ViaService", One("ec2.us-east-1.amazonaws.com")),
            ("kms:CallerAccount", One("999999999999")),
        ],
        false,
    ),
    // Several operators: AND.
    case(
        "operators AND: both hold",
        r#"{"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}, "StringLike": {"kms:EncryptionContext:dept": "fin*"}}"#,
        &[
            ("kms:ViaService", One("ec2.us-east-1.amazonaws.com")),
            ("kms:EncryptionContext:dept", One("finance")),
        ],
        true,
    ),
    case(
        "operators AND: second fails",
        r#"{"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}, "StringLike": {"kms:EncryptionContext:dept": "fin*"}}"#,
        &[
            ("kms:ViaService", One("ec2.us-east-1.amazonaws.com")),
            ("kms:EncryptionContext:dept", One("orders")),
        ],
        false,
    ),
    // Missing keys.
    case(
        "missing key: positive operator is false",
        r#"{"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
        &[],
        false,
    ),
    case(
        "missing key: StringNotEquals is true",
        r#"{"StringNotEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
        &[],
        true,
    ),
    case(
        "missing key: StringNotLike is true",
        r#"{"StringNotLike": {"kms:ViaService": "ec2.*"}}"#,
        &[],
        true,
    ),
    case(
        "missing key: ArnNotLike is true",
        r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::b"}}"#,
        &[],
        true,
    ),
    // IfExists.
    case(
        "IfExists: missing key is true",
        r#"{"StringEqualsIfExists": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
        &[],
        true,
    ),
    case(
        "IfExists: present key is compared",
        r#"{"StringEqualsIfExists": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
        &[("kms:ViaService", One("s3.us-east-1.amazonaws.com"))],
        false,
    ),
    case(
        "IfExists: present key matches",
        r#"{"StringEqualsIfExists": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}"#,
        &[("kms:ViaService", One("ec2.us-east-1.amazonaws.com"))],
        true,
    ),
    // Negated operator with several values: NOR.
    case(
        "negated values NOR: matches one",
        r#"{"StringNotEquals": {"kms:EncryptionContext:dept": ["hr", "legal"]}}"#,
        &[("kms:EncryptionContext:dept", One("legal"))],
        false,
    ),
    case(
        "negated values NOR: matches none",
        r#"{"StringNotEquals": {"kms:EncryptionContext:dept": ["hr", "legal"]}}"#,
        &[("kms:EncryptionContext:dept", One("finance"))],
        true,
    ),
    // ForAnyValue.
    case(
        "ForAnyValue: one value in set",
        r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}"#,
        &[("kms:EncryptionContextKeys", Many(&["tenant", "dept"]))],
        true,
    ),
    case(
        "ForAnyValue: no value in set",
        r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}"#,
        &[("kms:EncryptionContextKeys", Many(&["dept"]))],
        false,
    ),
    case(
        "ForAnyValue: missing key is false",
        r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}"#,
        &[],
        false,
    ),
    case(
        "ForAnyValue: empty set is false",
        r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}"#,
        &[("kms:EncryptionContextKeys", Many(&[]))],
        false,
    ),
    case(
        "ForAnyValue with negated operator: some value outside",
        r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}"#,
        &[("aws:TagKeys", Many(&["a", "b"]))],
        true,
    ),
    case(
        "ForAnyValue with negated operator: all values inside",
        r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}"#,
        &[("aws:TagKeys", Many(&["a"]))],
        false,
    ),
    // ForAllValues.
    case(
        "ForAllValues: every value in set",
        r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#,
        &[("aws:TagKeys", Many(&["a"]))],
        true,
    ),
    case(
        "ForAllValues: one value outside",
        r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#,
        &[("aws:TagKeys", Many(&["a", "c"]))],
        false,
    ),
    case(
        "ForAllValues: missing key is true",
        r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#,
        &[],
        true,
    ),
    case(
        "ForAllValues: empty set is true",
        r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#,
        &[("aws:TagKeys", Many(&[]))],
        true,
    ),
    // A bare operator against a multivalued key.
    case(
        "bare operator: one-element value",
        r#"{"StringEquals": {"aws:TagKeys": "a"}}"#,
        &[("aws:TagKeys", Many(&["a"]))],
        true,
    ),
    case(
        "bare operator: multi-element value never matches",
        r#"{"StringEquals": {"aws:TagKeys": "a"}}"#,
        &[("aws:TagKeys", Many(&["a", "b"]))],
        false,
    ),
    // Null.
    case(
        "Null true: key absent",
        r#"{"Null": {"kms:EncryptionContext:tenant": "true"}}"#,
        &[],
        true,
    ),
    case(
        "Null true: key present",
        r#"{"Null": {"kms:EncryptionContext:tenant": "true"}}"#,
        &[("kms:EncryptionContext:tenant", One("acme"))],
        false,
    ),
    case(
        "Null false: key present",
        r#"{"Null": {"kms:EncryptionContext:tenant": false}}"#,
        &[("kms:EncryptionContext:tenant", One("acme"))],
        true,
    ),
    case(
        "Null false: key absent",
        r#"{"Null": {"kms:EncryptionContext:tenant": false}}"#,
        &[],
        false,
    ),
    // Case: key names insensitive, values sensitive.
    case(
        "key names are case-insensitive",
        r#"{"StringEquals": {"KMS:encryptioncontext:TENANT": "acme"}}"#,
        &[("kms:EncryptionContext:tenant", One("acme"))],
        true,
    ),
    case(
        "values are case-sensitive",
        r#"{"StringEquals": {"kms:EncryptionContext:tenant": "Acme"}}"#,
        &[("kms:EncryptionContext:tenant", One("acme"))],
        false,
    ),
    case(
        "IgnoreCase compares lowercase",
        r#"{"StringEqualsIgnoreCase": {"kms:EncryptionContext:tenant": "Acme"}}"#,
        &[("kms:EncryptionContext:tenant", One("ACME"))],
        true,
    ),
    case(
        "IgnoreCase does not fold ß to ss",
        r#"{"StringEqualsIgnoreCase": {"kms:EncryptionContext:street": "straße"}}"#,
        &[("kms:EncryptionContext:street", One("STRASSE"))],
        false,
    ),
    case(
        "NotEqualsIgnoreCase on a different case",
        r#"{"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:tenant": "Acme"}}"#,
        &[("kms:EncryptionContext:tenant", One("aCME"))],
        false,
    ),
    // StringLike.
    case(
        "StringLike: * spans characters",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a*c"}}"#,
        &[("kms:EncryptionContext:path", One("a/b:bc"))],
        true,
    ),
    case(
        "StringLike: ? is one character",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a?c"}}"#,
        &[("kms:EncryptionContext:path", One("abbc"))],
        false,
    ),
    case(
        "StringLike: . is literal",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a.c"}}"#,
        &[("kms:EncryptionContext:path", One("abc"))],
        false,
    ),
    case(
        "StringLike: + and [ are literal",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a+[b]*"}}"#,
        &[("kms:EncryptionContext:path", One("a+[b]x"))],
        true,
    ),
    case(
        "StringEquals: * is literal",
        r#"{"StringEquals": {"kms:EncryptionContext:path": "a*"}}"#,
        &[("kms:EncryptionContext:path", One("abc"))],
        false,
    ),
    case(
        "StringNotLike: pattern matches",
        r#"{"StringNotLike": {"kms:EncryptionContext:path": "tmp/*"}}"#,
        &[("kms:EncryptionContext:path", One("tmp/x"))],
        false,
    ),
    // ArnLike vs StringLike.
    case(
        "ArnLike: per-segment wildcards",
        r#"{"ArnLike": {"kms:EncryptionContext:aws:ec2:arn": "arn:aws:ec2:*:111122223333:volume/*"}}"#,
        &[(
            "kms:EncryptionContext:aws:ec2:arn",
            One("arn:aws:ec2:us-east-1:111122223333:volume/vol-1"),
        )],
        true,
    ),
    case(
        "ArnLike: * does not cross a colon",
        r#"{"ArnLike": {"kms:EncryptionContext:aws:ec2:arn": "arn:aws:ec2:*:volume/*"}}"#,
        &[(
            "kms:EncryptionContext:aws:ec2:arn",
            One("arn:aws:ec2:us-east-1:111122223333:volume/vol-1"),
        )],
        false,
    ),
    case(
        "StringLike: * crosses colons",
        r#"{"StringLike": {"kms:EncryptionContext:aws:ec2:arn": "arn:aws:ec2:*:volume/*"}}"#,
        &[(
            "kms:EncryptionContext:aws:ec2:arn",
            One("arn:aws:ec2:us-east-1:111122223333:volume/vol-1"),
        )],
        true,
    ),
    case(
        "ArnLike: aws:PrincipalArn of a session is its role",
        r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}}"#,
        &[],
        true,
    ),
    case(
        "ArnEquals behaves as ArnLike",
        r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Ap?"}}"#,
        &[],
        true,
    ),
    case(
        "ArnNotLike: matching ARN",
        r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/App"}}"#,
        &[],
        false,
    ),
    // Numeric.
    case(
        "NumericGreaterThan: above",
        r#"{"NumericGreaterThan": {"kms:RotationPeriodInDays": 90}}"#,
        &[("kms:RotationPeriodInDays", One("100"))],
        true,
    ),
    case(
        "NumericGreaterThan: equal is not greater",
        r#"{"NumericGreaterThan": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("90"))],
        false,
    ),
    case(
        "NumericGreaterThanEquals: equal",
        r#"{"NumericGreaterThanEquals": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("90"))],
        true,
    ),
    case(
        "NumericLessThan: below",
        r#"{"NumericLessThan": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("80"))],
        true,
    ),
    case(
        "NumericLessThan: above",
        r#"{"NumericLessThan": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("100"))],
        false,
    ),
    case(
        "NumericLessThanEquals: equal",
        r#"{"NumericLessThanEquals": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("90.0"))],
        true,
    ),
    case(
        "NumericEquals: not a number",
        r#"{"NumericEquals": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("ninety"))],
        false,
    ),
    case(
        "NumericNotEquals: different",
        r#"{"NumericNotEquals": {"kms:RotationPeriodInDays": "90"}}"#,
        &[("kms:RotationPeriodInDays", One("91"))],
        true,
    ),
    // Date.
    case(
        "DateGreaterThan: later",
        r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", One("2021-06-01T12:00:00Z"))],
        true,
    ),
    case(
        "DateLessThan: later",
        r#"{"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", One("2021-06-01T12:00:00Z"))],
        false,
    ),
    case(
        "DateLessThan: epoch seconds",
        r#"{"DateLessThan": {"aws:EpochTime": "1600000000"}}"#,
        &[("aws:EpochTime", One("1500000000"))],
        true,
    ),
    case(
        "DateEquals: same instant in two notations",
        r#"{"DateEquals": {"kms:ValidTo": "2020-01-01"}}"#,
        &[("kms:ValidTo", One("1577836800"))],
        true,
    ),
    // Bool.
    case(
        "Bool: true",
        r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
        &[("aws:SecureTransport", One("true"))],
        true,
    ),
    case(
        "Bool: false",
        r#"{"Bool": {"aws:SecureTransport": true}}"#,
        &[("aws:SecureTransport", One("false"))],
        false,
    ),
    // IP addresses.
    case(
        "IpAddress: inside CIDR",
        r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
        &[("aws:SourceIp", One("10.1.2.3"))],
        true,
    ),
    case(
        "IpAddress: outside CIDR",
        r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
        &[("aws:SourceIp", One("11.0.0.1"))],
        false,
    ),
    case(
        "IpAddress: bare address is /32",
        r#"{"IpAddress": {"aws:SourceIp": "10.1.2.3"}}"#,
        &[("aws:SourceIp", One("10.1.2.4"))],
        false,
    ),
    case(
        "IpAddress: IPv6",
        r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
        &[("aws:SourceIp", One("2001:db8::1"))],
        true,
    ),
    case(
        "NotIpAddress: outside",
        r#"{"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#,
        &[("aws:SourceIp", One("203.0.113.9"))],
        true,
    ),
    case(
        "NotIpAddress: inside one",
        r#"{"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}"#,
        &[("aws:SourceIp", One("192.168.1.1"))],
        false,
    ),
    // BinaryEquals.
    case(
        "BinaryEquals: same base64",
        r#"{"BinaryEquals": {"kms:EncryptionContext:blob": "QmluYXJ5VmFsdWU="}}"#,
        &[("kms:EncryptionContext:blob", One("QmluYXJ5VmFsdWU="))],
        true,
    ),
    case(
        "BinaryEquals: different",
        r#"{"BinaryEquals": {"kms:EncryptionContext:blob": "QmluYXJ5VmFsdWU="}}"#,
        &[("kms:EncryptionContext:blob", One("b3RoZXI="))],
        false,
    ),
    // Policy variables (2012-10-17 only).
    Case {
        name: "variable: principal tag equals context",
        version: V12,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("acme"))],
        tags: &[("tenant", "acme")],
        allowed: true,
    },
    Case {
        name: "variable: principal tag differs",
        version: V12,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("globex"))],
        tags: &[("tenant", "acme")],
        allowed: false,
    },
    Case {
        name: "variable: unresolved fails a positive operator",
        version: V12,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("acme"))],
        tags: &[],
        allowed: false,
    },
    Case {
        name: "variable: unresolved invalidates the statement, negated operator too",
        version: V12,
        condition: r#"{"StringNotEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("acme"))],
        tags: &[],
        allowed: false,
    },
    Case {
        name: "variable: default when unresolved",
        version: V12,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:team": "${aws:PrincipalTag/team, 'none'}"}}"#,
        context: &[("kms:EncryptionContext:team", One("none"))],
        tags: &[],
        allowed: true,
    },
    Case {
        name: "variable: in a Like pattern",
        version: V12,
        condition: r#"{"StringLike": {"kms:EncryptionContext:path": "home/${aws:PrincipalTag/tenant}/*"}}"#,
        context: &[("kms:EncryptionContext:path", One("home/acme/x"))],
        tags: &[("tenant", "acme")],
        allowed: true,
    },
    Case {
        name: "variable: value is not a pattern",
        version: V12,
        condition: r#"{"StringLike": {"kms:EncryptionContext:path": "home/${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:path", One("home/acme"))],
        tags: &[("tenant", "*")],
        allowed: false,
    },
    Case {
        name: "variable: literal under 2008-10-17",
        version: V08,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("acme"))],
        tags: &[("tenant", "acme")],
        allowed: false,
    },
    Case {
        name: "variable: literal text matches under 2008-10-17",
        version: V08,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[(
            "kms:EncryptionContext:tenant",
            One("${aws:PrincipalTag/tenant}"),
        )],
        tags: &[("tenant", "acme")],
        allowed: true,
    },
    Case {
        name: "variable: literal without Version",
        version: None,
        condition: r#"{"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}"#,
        context: &[("kms:EncryptionContext:tenant", One("acme"))],
        tags: &[("tenant", "acme")],
        allowed: false,
    },
    case(
        "escape ${*} is a literal star",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a${*}"}}"#,
        &[("kms:EncryptionContext:path", One("a*"))],
        true,
    ),
    case(
        "escape ${*} is not a wildcard",
        r#"{"StringLike": {"kms:EncryptionContext:path": "a${*}"}}"#,
        &[("kms:EncryptionContext:path", One("ab"))],
        false,
    ),
    case(
        "escapes ${?} and ${$}",
        r#"{"StringEquals": {"kms:EncryptionContext:path": "${?}${$}"}}"#,
        &[("kms:EncryptionContext:path", One("?$"))],
        true,
    ),
    case(
        "variable: aws:username is absent for a role",
        r#"{"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}"#,
        &[("kms:EncryptionContext:user", One("App"))],
        false,
    ),
];

#[test]
fn condition_semantics() {
    let mut failures = Vec::new();
    for c in CASES {
        let table = conditioned(c.version, c.condition);
        let mut req = request(APP_SESSION, "kms:Decrypt");
        for (k, v) in c.context {
            req = match v {
                V::One(s) => req.context(k, *s),
                V::Many(vs) => req.context_values(k, vs.iter().map(|s| s.to_string()).collect()),
            };
        }
        for (k, v) in c.tags {
            req = req.principal_tag(*k, *v);
        }
        let got = decide_with(&table, req) == DecisionKind::Allow;
        if got != c.allowed {
            failures.push(format!(
                "{}: expected allowed={}, got {got}",
                c.name, c.allowed
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_both_outcomes() {
    // Guards the table itself: each group of cases keeps an allow and a deny.
    let allows = CASES.iter().filter(|c| c.allowed).count();
    let denies = CASES.iter().filter(|c| !c.allowed).count();
    assert!(
        allows >= 30 && denies >= 30,
        "{allows} allows, {denies} denies"
    );
}

#[test]
fn encryption_context_populates_kms_keys() {
    // The request builder derives kms:EncryptionContext:* and
    // kms:EncryptionContextKeys from the encryption context.
    let table = conditioned(
        V12,
        r#"{"StringEquals": {"kms:EncryptionContext:Tenant": "acme"}, "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "dept"]}}"#,
    );
    let ok = request(APP_SESSION, "kms:Decrypt").encryption_context("tenant", "acme");
    assert_eq!(decide_with(&table, ok), DecisionKind::Allow);
    let extra = request(APP_SESSION, "kms:Decrypt")
        .encryption_context("tenant", "acme")
        .encryption_context("other", "x");
    assert_eq!(decide_with(&table, extra), DecisionKind::ImplicitDeny);
}

#[test]
fn resource_variables_only_after_the_fifth_colon() {
    let table = keyward::compile::DecisionTable::new(key_policy(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{
            "Effect": "Allow", "Principal": {{"AWS": "{APP_ROLE}"}}, "Action": "kms:Decrypt",
            "Resource": "arn:aws:kms:us-east-1:111122223333:key/${{aws:PrincipalTag/key}}"
        }}]}}"#
    )));
    let ok = request(APP_SESSION, "kms:Decrypt")
        .principal_tag("key", "1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_eq!(decide_with(&table, ok), DecisionKind::Allow);
    let other = request(APP_SESSION, "kms:Decrypt").principal_tag("key", "other");
    assert_eq!(decide_with(&table, other), DecisionKind::ImplicitDeny);
}
