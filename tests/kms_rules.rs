//! The KMS authorization rule (KMS Developer Guide, "Determining access to
//! AWS KMS keys" and "Grants in AWS KMS") and the principal, action and
//! resource elements. Each rule with both outcomes.

use keyward::compile::DecisionTable;
use keyward::eval::DecisionKind::{self, *};

use crate::support::*;

const ROOT_STATEMENT: &str = r#"{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}"#;

const IAM_DECRYPT: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": "kms:Decrypt", "Resource": "*"}]}"#;

fn policy(statements: &[&str]) -> DecisionTable {
    DecisionTable::new(key_policy(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(",")
    )))
}

fn stmt(effect: &str, principal: &str, action: &str) -> String {
    format!(
        r#"{{"Effect": "{effect}", "Principal": {principal}, "Action": {action}, "Resource": "*"}}"#
    )
}

fn check(table: &DecisionTable, principal: &str, act: &str, want: DecisionKind) {
    let got = decide_with(table, request(principal, act));
    assert_eq!(got, want, "{act} by {principal}");
}

#[test]
fn key_policy_naming_the_caller_allows_alone() {
    let t = policy(&[&stmt(
        "Allow",
        &format!(r#"{{"AWS": "{APP_ROLE}"}}"#),
        r#""kms:Decrypt""#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    check(&t, APP_SESSION, "kms:Encrypt", ImplicitDeny);
    check(
        &t,
        "arn:aws:iam::111122223333:user/bob",
        "kms:Decrypt",
        ImplicitDeny,
    );
}

#[test]
fn account_principal_delegates_to_iam() {
    let without_iam = policy(&[ROOT_STATEMENT]);
    check(&without_iam, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    let with_iam = policy(&[ROOT_STATEMENT]).with_iam_policy(iam_policy(IAM_DECRYPT));
    check(&with_iam, APP_SESSION, "kms:Decrypt", Allow);
    check(&with_iam, APP_SESSION, "kms:Encrypt", ImplicitDeny);
}

#[test]
fn bare_account_id_means_the_account_root() {
    let t = policy(&[&stmt("Allow", r#"{"AWS": "111122223333"}"#, r#""kms:*""#)]);
    // The root user itself needs no IAM policy.
    check(&t, "arn:aws:iam::111122223333:root", "kms:Decrypt", Allow);
    check(&t, "111122223333", "kms:Decrypt", Allow);
    // Other identities of the account need an IAM allow.
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    let t = t.with_iam_policy(iam_policy(IAM_DECRYPT));
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
}

#[test]
fn without_the_account_statement_iam_allows_do_nothing() {
    let t = policy(&[&stmt(
        "Allow",
        r#"{"AWS": "arn:aws:iam::111122223333:role/Admin"}"#,
        r#""kms:*""#,
    )])
    .with_iam_policy(iam_policy(IAM_DECRYPT));
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
}

#[test]
fn iam_deny_applies_even_without_the_account_statement() {
    let deny = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}"#;
    let t = policy(&[&stmt(
        "Allow",
        &format!(r#"{{"AWS": "{APP_ROLE}"}}"#),
        r#""kms:*""#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    let t = t.with_iam_policy(iam_policy(deny));
    check(&t, APP_SESSION, "kms:Decrypt", ExplicitDeny);
    check(&t, APP_SESSION, "kms:Encrypt", Allow);
}

#[test]
fn explicit_deny_in_the_key_policy_wins() {
    let t = policy(&[
        &stmt("Allow", r#""*""#, r#""kms:*""#),
        &stmt(
            "Deny",
            &format!(r#"{{"AWS": "{APP_ROLE}"}}"#),
            r#""kms:Decrypt""#,
        ),
    ]);
    check(&t, APP_SESSION, "kms:Decrypt", ExplicitDeny);
    check(&t, APP_SESSION, "kms:Encrypt", Allow);
    check(
        &t,
        "arn:aws:iam::111122223333:user/bob",
        "kms:Decrypt",
        Allow,
    );
}

#[test]
fn deny_naming_the_account_covers_its_identities() {
    let t = policy(&[
        &stmt("Allow", r#""*""#, r#""kms:*""#),
        &stmt("Deny", r#"{"AWS": "111122223333"}"#, r#""kms:Decrypt""#),
    ]);
    check(&t, APP_SESSION, "kms:Decrypt", ExplicitDeny);
    check(
        &t,
        "arn:aws:iam::444455556666:role/Ext",
        "kms:Decrypt",
        ImplicitDeny,
    );
}

#[test]
fn wildcard_principal_same_account_and_cross_account() {
    let t = policy(&[&stmt("Allow", r#""*""#, r#""kms:Decrypt""#)]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    let ext = "arn:aws:iam::444455556666:role/Ext";
    // Another account also needs its own IAM allow.
    check(&t, ext, "kms:Decrypt", ImplicitDeny);
    let t = t.with_iam_policy(iam_policy(IAM_DECRYPT));
    check(&t, ext, "kms:Decrypt", Allow);
    // `{"AWS": "*"}` is the same as `"*"`.
    let t = policy(&[&stmt("Allow", r#"{"AWS": "*"}"#, r#""kms:Decrypt""#)]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
}

#[test]
fn cross_account_needs_both_sides() {
    let ext = "arn:aws:iam::444455556666:role/Ext";
    let named = policy(&[&stmt(
        "Allow",
        &format!(r#"{{"AWS": "{ext}"}}"#),
        r#""kms:Decrypt""#,
    )]);
    check(&named, ext, "kms:Decrypt", ImplicitDeny);
    check(
        &named.clone().with_iam_policy(iam_policy(IAM_DECRYPT)),
        ext,
        "kms:Decrypt",
        Allow,
    );
    let account = policy(&[&stmt(
        "Allow",
        r#"{"AWS": "444455556666"}"#,
        r#""kms:Decrypt""#,
    )]);
    check(&account, ext, "kms:Decrypt", ImplicitDeny);
    check(
        &account.clone().with_iam_policy(iam_policy(IAM_DECRYPT)),
        ext,
        "kms:Decrypt",
        Allow,
    );
    // The external account's root needs no IAM policy of its own.
    check(
        &account,
        "arn:aws:iam::444455556666:root",
        "kms:Decrypt",
        Allow,
    );
    // An IAM allow without the key policy's consent does nothing.
    let none = policy(&[ROOT_STATEMENT]).with_iam_policy(iam_policy(IAM_DECRYPT));
    check(&none, ext, "kms:Decrypt", ImplicitDeny);
}

#[test]
fn role_arn_names_its_sessions() {
    let t = policy(&[&stmt(
        "Allow",
        r#"{"AWS": "arn:aws:iam::111122223333:role/path/App"}"#,
        r#""kms:Decrypt""#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    check(
        &t,
        "arn:aws:sts::111122223333:assumed-role/Other/session-1",
        "kms:Decrypt",
        ImplicitDeny,
    );
}

#[test]
fn not_principal_with_allow_grants_everyone_else() {
    let t = policy(&[
        r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/mallory"},
        "Action": "kms:Decrypt", "Resource": "*"}"#,
    ]);
    check(
        &t,
        "arn:aws:iam::111122223333:user/bob",
        "kms:Decrypt",
        Allow,
    );
    // Mallory is excluded by name, but her account is not, so the
    // statement still applies to her (AWS: list the account too).
    check(
        &t,
        "arn:aws:iam::111122223333:user/mallory",
        "kms:Decrypt",
        Allow,
    );
}

#[test]
fn not_principal_with_deny_excludes_only_when_every_identity_is_listed() {
    let allow_all = stmt("Allow", r#""*""#, r#""kms:*""#);
    let only_user = r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
        "Action": "kms:Decrypt", "Resource": "*"}"#;
    let user_and_account = r#"{"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:root"]},
        "Action": "kms:Decrypt", "Resource": "*"}"#;
    let t = policy(&[&allow_all, only_user]);
    check(
        &t,
        "arn:aws:iam::111122223333:user/bob",
        "kms:Decrypt",
        ExplicitDeny,
    );
    let t = policy(&[&allow_all, user_and_account]);
    check(
        &t,
        "arn:aws:iam::111122223333:user/bob",
        "kms:Decrypt",
        Allow,
    );
    check(
        &t,
        "arn:aws:iam::111122223333:user/alice",
        "kms:Decrypt",
        ExplicitDeny,
    );
}

#[test]
fn not_action_is_everything_except() {
    let t = policy(&[&stmt("Allow", r#""*""#, r#""kms:*""#).replace(
        r#""Action": "kms:*""#,
        r#""NotAction": ["kms:Decrypt", "kms:ReEncrypt*"]"#,
    )]);
    check(&t, APP_SESSION, "kms:Encrypt", Allow);
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    check(&t, APP_SESSION, "kms:ReEncryptFrom", ImplicitDeny);
}

#[test]
fn not_resource_is_everything_except() {
    let t = policy(&[&format!(
        r#"{{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "NotResource": "{KEY_ARN}"}}"#
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    let other_key = request(APP_SESSION, "kms:Decrypt")
        .resource("arn:aws:kms:us-east-1:111122223333:key/other");
    assert_eq!(decide_with(&t, other_key), Allow);
}

#[test]
fn resource_names_one_key() {
    let t = policy(&[
        r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:111122223333:key/1234*"}"#,
    ]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    let other =
        request(APP_SESSION, "kms:Decrypt").resource("arn:aws:kms:us-east-1:111122223333:key/9999");
    assert_eq!(decide_with(&t, other), ImplicitDeny);
}

#[test]
fn action_names_and_wildcards() {
    let t = policy(&[&stmt(
        "Allow",
        r#""*""#,
        r#"["KMS:DECRYPT", "kms:Generate*", "kms:?everse"]"#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
    check(
        &t,
        APP_SESSION,
        "kms:GenerateDataKeyWithoutPlaintext",
        Allow,
    );
    check(&t, APP_SESSION, "kms:Encrypt", ImplicitDeny);
}

#[test]
fn actions_with_commas_or_spaces_never_match() {
    let t = policy(&[&stmt(
        "Allow",
        r#""*""#,
        r#"["kms:Decrypt, kms:Encrypt", " kms:Encrypt"]"#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    check(&t, APP_SESSION, "kms:Encrypt", ImplicitDeny);
    // ...so NotAction with such a value excludes nothing.
    let t = policy(&[&stmt("Allow", r#""*""#, r#""kms:*""#).replace(
        r#""Action": "kms:*""#,
        r#""NotAction": "kms:Decrypt, kms:Encrypt""#,
    )]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
}

#[test]
fn statements_without_action_or_resource_never_apply() {
    let t = policy(&[r#"{"Effect": "Allow", "Principal": "*", "Resource": "*"}"#]);
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    let t = policy(&[r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}"#]);
    check(&t, APP_SESSION, "kms:Decrypt", ImplicitDeny);
    let t = policy(&[
        r#"{"Effect": "Deny", "Principal": "*", "Action": "kms:*"}"#,
        &stmt("Allow", r#""*""#, r#""kms:*""#),
    ]);
    check(&t, APP_SESSION, "kms:Decrypt", Allow);
}

#[test]
fn actions_without_a_key_resource_ignore_the_key_policy() {
    // kms:CreateKey is authorized by IAM alone.
    let t = policy(&[&stmt("Allow", r#""*""#, r#""kms:*""#)]);
    let create = keyward::eval::Request::builder(caller(APP_SESSION), action("kms:CreateKey"));
    assert_eq!(decide_with(&t, create.clone()), ImplicitDeny);
    let iam = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"}]}"#;
    let t = t.with_iam_policy(iam_policy(iam));
    assert_eq!(decide_with(&t, create), Allow);
}

const GRANTS: &str = r#"[
  {"GrantId": "g-subset", "GranteePrincipal": "arn:aws:iam::111122223333:role/App",
   "Operations": ["Decrypt", "DescribeKey"], "Constraints": {"EncryptionContextSubset": {"dept": "orders"}}},
  {"GrantId": "g-equals", "GranteePrincipal": "arn:aws:iam::444455556666:role/Reporting",
   "Operations": ["Encrypt"], "Constraints": {"EncryptionContextEquals": {"dept": "finance", "purpose": "report"}}}
]"#;

#[test]
fn grants_allow_with_their_constraints() {
    let t = policy(&[ROOT_STATEMENT]).with_grants(grants(GRANTS));
    let decrypt = |ctx: &[(&str, &str)]| {
        ctx.iter()
            .fold(request(APP_SESSION, "kms:Decrypt"), |r, (k, v)| {
                r.encryption_context(*k, *v)
            })
    };
    // Subset: the request may carry more pairs.
    assert_eq!(
        decide_with(&t, decrypt(&[("dept", "orders"), ("id", "7")])),
        Allow
    );
    assert_eq!(decide_with(&t, decrypt(&[("dept", "hr")])), ImplicitDeny);
    assert_eq!(decide_with(&t, decrypt(&[])), ImplicitDeny);
    // Operations outside the grant are not allowed.
    check(&t, APP_SESSION, "kms:Encrypt", ImplicitDeny);
    // Constraints are ignored for operations without an encryption context.
    check(&t, APP_SESSION, "kms:DescribeKey", Allow);
    // A grant to someone else does nothing for this caller.
    check(
        &t,
        "arn:aws:sts::111122223333:assumed-role/Other/s",
        "kms:Decrypt",
        ImplicitDeny,
    );
}

#[test]
fn grant_equals_constraint_is_exact_and_cross_account() {
    let t = policy(&[ROOT_STATEMENT]).with_grants(grants(GRANTS));
    let enc = |ctx: &[(&str, &str)]| {
        ctx.iter().fold(
            request("arn:aws:iam::444455556666:role/Reporting", "kms:Encrypt"),
            |r, (k, v)| r.encryption_context(*k, *v),
        )
    };
    assert_eq!(
        decide_with(&t, enc(&[("dept", "finance"), ("purpose", "report")])),
        Allow
    );
    assert_eq!(
        decide_with(
            &t,
            enc(&[("dept", "finance"), ("purpose", "report"), ("x", "y")])
        ),
        ImplicitDeny
    );
    assert_eq!(decide_with(&t, enc(&[("dept", "finance")])), ImplicitDeny);
    assert_eq!(
        decide_with(&t, enc(&[("purpose", "report"), ("dept", "Finance")])),
        ImplicitDeny
    );
}

#[test]
fn a_key_policy_deny_overrides_a_grant() {
    let t = policy(&[ROOT_STATEMENT, &stmt("Deny", r#""*""#, r#""kms:Decrypt""#)])
        .with_grants(grants(GRANTS));
    let req = request(APP_SESSION, "kms:Decrypt").encryption_context("dept", "orders");
    assert_eq!(decide_with(&t, req), ExplicitDeny);
}

#[test]
fn ten_thousand_grants_still_find_the_right_one() {
    let mut list = Vec::new();
    for i in 0..10_000 {
        list.push(format!(
            r#"{{"GrantId": "g{i}", "GranteePrincipal": "arn:aws:iam::111122223333:role/R{i}", "Operations": ["Decrypt"]}}"#
        ));
    }
    let t = policy(&[ROOT_STATEMENT]).with_grants(grants(&format!("[{}]", list.join(","))));
    check(
        &t,
        "arn:aws:sts::111122223333:assumed-role/R9999/s",
        "kms:Decrypt",
        Allow,
    );
    check(
        &t,
        "arn:aws:sts::111122223333:assumed-role/R10000/s",
        "kms:Decrypt",
        ImplicitDeny,
    );
}

#[test]
fn ebs_policy_binds_decrypt_to_ec2() {
    let table = DecisionTable::new(key_policy(include_str!("../policies/ebs.json")));
    let app = "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc";
    let volume = "arn:aws:ec2:us-east-1:111122223333:volume/vol-1";
    let via_ec2 = request(app, "kms:Decrypt")
        .via_service("ec2.us-east-1.amazonaws.com")
        .encryption_context("aws:ec2:arn", volume);
    assert_eq!(decide_with(&table, via_ec2), Allow);
    let direct = request(app, "kms:Decrypt").encryption_context("aws:ec2:arn", volume);
    assert_eq!(decide_with(&table, direct), ImplicitDeny);
    let wrong_region = request(app, "kms:Decrypt")
        .via_service("ec2.us-west-2.amazonaws.com")
        .encryption_context("aws:ec2:arn", volume);
    assert_eq!(decide_with(&table, wrong_region), ImplicitDeny);
    let not_a_volume = request(app, "kms:Decrypt")
        .via_service("ec2.us-east-1.amazonaws.com")
        .encryption_context(
            "aws:ec2:arn",
            "arn:aws:ec2:us-east-1:111122223333:snapshot/snap-1",
        );
    assert_eq!(decide_with(&table, not_a_volume), ImplicitDeny);
}

#[test]
fn tenant_binding_policy() {
    let table = DecisionTable::new(key_policy(include_str!("../policies/tenant-binding.json")));
    let svc = "arn:aws:sts::111122223333:assumed-role/TenantService/s";
    let own = request(svc, "kms:Decrypt")
        .principal_tag("tenant", "acme")
        .encryption_context("tenant", "acme");
    assert_eq!(decide_with(&table, own), Allow);
    let other = request(svc, "kms:Decrypt")
        .principal_tag("tenant", "acme")
        .encryption_context("tenant", "globex");
    assert_eq!(decide_with(&table, other), ExplicitDeny);
    let none = request(svc, "kms:Decrypt").principal_tag("tenant", "acme");
    assert_eq!(decide_with(&table, none), ExplicitDeny);
    let untagged = request(svc, "kms:Decrypt").encryption_context("tenant", "acme");
    assert_eq!(decide_with(&table, untagged), ExplicitDeny);
    let encrypt = request(svc, "kms:Encrypt").encryption_context("tenant", "globex");
    assert_eq!(decide_with(&table, encrypt), Allow);
}
