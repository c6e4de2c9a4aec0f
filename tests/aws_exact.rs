//! Decisions where a differential test against an independent IAM
//! simulator found keyward wrong, each class tested from the AWS
//! documentation sentence that decides it (quoted), both outcomes each.

use keyward::compile::DecisionTable;
use keyward::eval::DecisionKind;

use crate::support::*;

use DecisionKind::{Allow, ExplicitDeny, ImplicitDeny};

struct Case {
    name: &'static str,
    /// Statements of a 2012-10-17 key policy (JSON array items).
    statements: &'static str,
    principal: &'static str,
    action: &'static str,
    context: &'static [(&'static str, &'static str)],
    tags: &'static [(&'static str, &'static str)],
    expected: DecisionKind,
}

fn run(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let table = DecisionTable::new(key_policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            c.statements
        )));
        let mut req = request(c.principal, c.action);
        for (k, v) in c.context {
            req = req.context(k, *v);
        }
        for (k, v) in c.tags {
            req = req.principal_tag(*k, *v);
        }
        let got = decide_with(&table, req);
        if got != c.expected {
            failures.push(format!(
                "{}: expected {:?}, got {got:?}",
                c.name, c.expected
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    for outcome in [true, false] {
        assert!(
            cases.iter().any(|c| (c.expected == Allow) == outcome),
            "every class keeps both outcomes"
        );
    }
}

const BOB: &str = "arn:aws:iam::111122223333:user/bob";

/// A Decrypt by bob with this encryption context and these principal tags.
const fn bob(
    name: &'static str,
    statements: &'static str,
    context: &'static [(&'static str, &'static str)],
    tags: &'static [(&'static str, &'static str)],
    expected: DecisionKind,
) -> Case {
    Case {
        name,
        statements,
        principal: BOB,
        action: "kms:Decrypt",
        context,
        tags,
        expected,
    }
}

const OWNER_ALICE: &[(&str, &str)] = &[("kms:EncryptionContext:owner", "alice")];
const NONE: &[(&str, &str)] = &[];

const ALLOW_UNLESS_OWNER: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringNotEquals": {"kms:EncryptionContext:owner": "${aws:PrincipalTag/owner}"}}}"#;
const DENY_UNLESS_OWNER: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt", "Resource": "*"},
    {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringNotEquals": {"kms:EncryptionContext:owner": "${aws:PrincipalTag/owner}"}}}"#;
const ALLOW_IF_OWNER_IF_EXISTS: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringEqualsIfExists": {"kms:EncryptionContext:owner": "${aws:PrincipalTag/owner}"}}}"#;
const ALLOW_UNLESS_OWNER_DEFAULT: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringNotEquals": {"kms:EncryptionContext:owner": "${aws:PrincipalTag/owner, 'nobody'}"}}}"#;
const ALLOW_NOT_BLOCKED: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt",
    "NotResource": "arn:aws:kms:us-east-1:111122223333:key/${aws:PrincipalTag/blocked}"}"#;

// IAM User Guide, "IAM policy elements: Variables and tags", request
// information: for a value that is not present, "any attempt to match it
// fails and causes the statement to be invalid"; "If AWS cannot resolve a
// variable this might cause the entire statement to be invalid."
// IAM User Guide, condition operators, on `...IfExists`: "If the key is
// not present, evaluate the condition element as true" — nothing is
// matched, so the variable is never resolved; likewise a negated operator
// on an absent key.
const UNRESOLVED: &[Case] = &[
    bob(
        "Allow, negated operator, variable unresolved: the statement does not apply",
        ALLOW_UNLESS_OWNER,
        OWNER_ALICE,
        NONE,
        ImplicitDeny,
    ),
    bob(
        "Allow, negated operator, variable resolved and different: allowed",
        ALLOW_UNLESS_OWNER,
        OWNER_ALICE,
        &[("owner", "bob")],
        Allow,
    ),
    bob(
        "Deny, negated operator, variable unresolved: the Deny is skipped",
        DENY_UNLESS_OWNER,
        OWNER_ALICE,
        NONE,
        Allow,
    ),
    bob(
        "Deny, negated operator, variable resolved and different: denied",
        DENY_UNLESS_OWNER,
        OWNER_ALICE,
        &[("owner", "bob")],
        ExplicitDeny,
    ),
    bob(
        "IfExists with the key present does not rescue an unresolved variable",
        ALLOW_IF_OWNER_IF_EXISTS,
        OWNER_ALICE,
        NONE,
        ImplicitDeny,
    ),
    bob(
        "IfExists with the key absent holds without resolving the variable",
        ALLOW_IF_OWNER_IF_EXISTS,
        NONE,
        NONE,
        Allow,
    ),
    bob(
        "a negated operator on an absent key holds without resolving the variable",
        ALLOW_UNLESS_OWNER,
        NONE,
        NONE,
        Allow,
    ),
    bob(
        "a default makes the variable resolve",
        ALLOW_UNLESS_OWNER_DEFAULT,
        OWNER_ALICE,
        NONE,
        Allow,
    ),
    bob(
        "NotResource with an unresolved variable does not apply",
        ALLOW_NOT_BLOCKED,
        NONE,
        NONE,
        ImplicitDeny,
    ),
    bob(
        "NotResource with a resolved variable naming another key applies",
        ALLOW_NOT_BLOCKED,
        NONE,
        &[("blocked", "other-key")],
        Allow,
    ),
];

#[test]
fn an_unresolved_policy_variable_invalidates_its_statement() {
    run(UNRESOLVED);
}

/// A Decrypt by `principal`, with no context or tags.
const fn decrypt_by(
    name: &'static str,
    statements: &'static str,
    principal: &'static str,
    expected: DecisionKind,
) -> Case {
    Case {
        name,
        statements,
        principal,
        action: "kms:Decrypt",
        context: NONE,
        tags: NONE,
        expected,
    }
}

const S1: &str = "arn:aws:sts::111122223333:assumed-role/App/s1";
const ALICE_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/App/alice";
const ALLOW_S1: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/App/s1"}, "Action": "kms:Decrypt", "Resource": "*"}"#;
const ALLOW_ROLE: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*"}"#;
const ALLOW_ROLE_DENY_S1: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*"},
    {"Effect": "Deny", "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/App/s1"}, "Action": "kms:Decrypt", "Resource": "*"}"#;

// IAM User Guide, "AWS JSON policy elements: Principal", role session
// principals: a role session principal names one session of a role
// (`arn:aws:sts::AWS-account-ID:assumed-role/role-name/role-session-name`);
// a role ARN as principal covers every session of the role.
const SESSIONS: &[Case] = &[
    decrypt_by(
        "a session principal matches that session",
        ALLOW_S1,
        S1,
        Allow,
    ),
    decrypt_by(
        "a session principal does not match another session of the role",
        ALLOW_S1,
        ALICE_SESSION,
        ImplicitDeny,
    ),
    decrypt_by(
        "a role principal matches every session",
        ALLOW_ROLE,
        ALICE_SESSION,
        Allow,
    ),
    decrypt_by(
        "a Deny naming one session leaves the others",
        ALLOW_ROLE_DENY_S1,
        ALICE_SESSION,
        Allow,
    ),
    decrypt_by(
        "a Deny naming one session denies it",
        ALLOW_ROLE_DENY_S1,
        S1,
        ExplicitDeny,
    ),
];

#[test]
fn a_role_session_principal_names_one_session() {
    run(SESSIONS);
}

const PARTNER_ROOT: &str = "arn:aws:iam::444455556666:root";

/// A key policy that gives account 444455556666 every KMS action.
const PARTNER_ALL: &str = r#"{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
    {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "kms:*", "Resource": "*"}"#;

const fn partner(name: &'static str, action: &'static str, expected: DecisionKind) -> Case {
    Case {
        name,
        statements: PARTNER_ALL,
        principal: PARTNER_ROOT,
        action,
        context: &[],
        tags: &[],
        expected,
    }
}

// KMS Developer Guide, "Allowing users in other accounts to use a KMS key":
// "If you give a user in a different account permission for other
// operations, those permissions have no effect. For example, if you give a
// principal in a different account ... kms:ScheduleKeyDeletion permission
// on a KMS key in a key policy, the user's attempts to call those
// operations on your resources still fail." The permissions reference's
// "Cross-account use" column says which operations are the exceptions.
const CROSS_ACCOUNT: &[Case] = &[
    partner("Decrypt works across accounts", "kms:Decrypt", Allow),
    partner(
        "GenerateDataKey works across accounts",
        "kms:GenerateDataKey",
        Allow,
    ),
    partner(
        "DescribeKey works across accounts",
        "kms:DescribeKey",
        Allow,
    ),
    partner(
        "CreateGrant works across accounts",
        "kms:CreateGrant",
        Allow,
    ),
    partner(
        "GetKeyRotationStatus works across accounts",
        "kms:GetKeyRotationStatus",
        Allow,
    ),
    partner(
        "ScheduleKeyDeletion never works across accounts",
        "kms:ScheduleKeyDeletion",
        ImplicitDeny,
    ),
    partner(
        "PutKeyPolicy never works across accounts",
        "kms:PutKeyPolicy",
        ImplicitDeny,
    ),
    partner(
        "GetKeyPolicy never works across accounts",
        "kms:GetKeyPolicy",
        ImplicitDeny,
    ),
    partner(
        "DisableKey never works across accounts",
        "kms:DisableKey",
        ImplicitDeny,
    ),
    partner(
        "TagResource never works across accounts",
        "kms:TagResource",
        ImplicitDeny,
    ),
    Case {
        name: "the key's own account may manage it",
        statements: PARTNER_ALL,
        principal: "arn:aws:iam::111122223333:root",
        action: "kms:ScheduleKeyDeletion",
        context: &[],
        tags: &[],
        expected: Allow,
    },
];

#[test]
fn key_management_is_never_available_across_accounts() {
    run(CROSS_ACCOUNT);
    let table = DecisionTable::new(key_policy(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [{PARTNER_ALL}]}}"#
    )));
    let e = keyward::eval::explain(&table, &request(PARTNER_ROOT, "kms:PutKeyPolicy").build());
    assert!(
        e.reason
            .contains("kms:PutKeyPolicy is not available across accounts"),
        "{}",
        e.reason
    );
}

#[test]
fn the_key_service_refuses_key_management_from_another_account() {
    use crate::tenancy::{A, B, admin_of, err, key_with, ok};
    let e = crate::service::env();
    let a = admin_of(A, "us-east-1");
    let b = admin_of(B, "us-east-1");
    let key = key_with(
        &e.svc,
        &a,
        A,
        &[serde_json::json!({
            "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{B}:root")},
            "Action": "kms:*", "Resource": "*"
        })],
    );
    // Both policies allow; AWS still lets B only use the key.
    ok(&e.svc, &b, "DescribeKey", serde_json::json!({"KeyId": key}));
    ok(
        &e.svc,
        &b,
        "GenerateDataKey",
        serde_json::json!({"KeyId": key, "KeySpec": "AES_256"}),
    );
    for (op, input) in [
        ("ScheduleKeyDeletion", serde_json::json!({"KeyId": key})),
        ("DisableKey", serde_json::json!({"KeyId": key})),
        (
            "PutKeyPolicy",
            serde_json::json!({"KeyId": key, "PolicyName": "default", "Policy": "{}"}),
        ),
    ] {
        let denied = err(&e.svc, &b, op, input);
        assert_eq!(
            denied.kind,
            keyward::service::ErrorKind::AccessDenied,
            "{op}"
        );
    }
}

// IAM User Guide, global condition keys: aws:PrincipalServiceName "is
// present in the request when the call is made by an AWS service
// principal. This key is not present in any other situation";
// aws:PrincipalIsAWSService is in every signed request; the documented
// principals of aws:PrincipalArn are roles, users, federated users and the
// root user.
#[test]
fn a_service_principal_has_service_keys_and_no_principal_arn() {
    let svc = keyward::eval::Request::builder(
        caller("cloudtrail.amazonaws.com"),
        action("kms:GenerateDataKey"),
    )
    .resource(KEY_ARN)
    .build();
    let get = |k: &str| svc.get(k);
    use keyward::eval::ContextValue::{Many, One};
    assert_eq!(
        get("aws:PrincipalServiceName"),
        Some(One("cloudtrail.amazonaws.com".into()))
    );
    assert_eq!(
        get("aws:PrincipalServiceNamesList"),
        Some(Many(vec!["cloudtrail.amazonaws.com".into()]))
    );
    assert_eq!(get("aws:PrincipalIsAWSService"), Some(One("true".into())));
    assert_eq!(get("aws:PrincipalArn"), None);
    let user = request(BOB, "kms:Decrypt").build();
    assert_eq!(user.get("aws:PrincipalServiceName"), None);
    assert_eq!(
        user.get("aws:PrincipalIsAWSService"),
        Some(One("false".into()))
    );
    assert_eq!(user.get("aws:PrincipalArn"), Some(One(BOB.into())));
    // And a policy can tell them apart.
    let table = DecisionTable::new(key_policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}}}]}"#,
    ));
    assert_eq!(keyward::eval::decide(&table, &svc), Allow);
    assert_eq!(keyward::eval::decide(&table, &user), ImplicitDeny);
}
