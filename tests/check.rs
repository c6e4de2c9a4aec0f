//! `keyward check`: both outcomes of each check on hand-written policies,
//! every witness fed back through the evaluator, the command's formats and
//! exit codes.

use keyward::catalog::Action;
use keyward::check::{self, CheckReport, Subject};
use keyward::compile::GrantIndex;
use keyward::eval::Caller;
use keyward::policy::ast::AccountId;

use crate::support::*;

fn subject(statements: &[&str]) -> Subject {
    Subject::new(
        key_policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(",")
        )),
        GrantIndex::default(),
    )
}

const ROOT: &str = r#"{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}"#;
const APP_DECRYPT: &str = r#"{"Sid": "App", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "acme"}}}"#;

/// Every witness, decided again, gets the decisions the report claims.
fn verify_witnesses(report: &CheckReport, checked: &Subject, baseline: Option<&Subject>) {
    for w in &report.witnesses {
        let caller = w.caller().expect("witness names a caller");
        let req = w.request(&caller).expect("witness builds a request");
        assert_eq!(
            checked.decide(w.iam_allows_everything, &req),
            w.decision,
            "{w:?}"
        );
        assert!(w.decision.is_allow(), "{w:?}");
        if let Some(b) = baseline {
            assert!(
                w.baseline_reason.is_some(),
                "the old policy's reason is given"
            );
            let d = b.decide(w.iam_allows_everything, &req);
            assert!(!d.is_allow(), "the old policy must deny the witness: {w:?}");
            assert_eq!(Some(d), w.baseline_decision);
        }
    }
}

#[test]
fn no_new_access_passes_when_nothing_widens() {
    let old = subject(&[ROOT, APP_DECRYPT]);
    for new in [
        subject(&[ROOT, APP_DECRYPT]),
        subject(&[ROOT]),
        subject(&[
            ROOT,
            APP_DECRYPT,
            r#"{"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}"#,
        ]),
        subject(&[
            ROOT,
            r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "acme", "kms:ViaService": "s3.us-east-1.amazonaws.com"}}}"#,
        ]),
    ] {
        let r = check::no_new_access(&old, &new);
        assert!(r.pass, "{}", r.render_text());
    }
}

#[test]
fn no_new_access_fails_with_witnesses() {
    let old = subject(&[ROOT, APP_DECRYPT]);
    let cases = [
        // A new principal.
        subject(&[
            ROOT,
            APP_DECRYPT,
            r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Batch"}, "Action": "kms:Decrypt", "Resource": "*"}"#,
        ]),
        // A relaxed condition.
        subject(&[
            ROOT,
            r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:tenant": "*"}}}"#,
        ]),
        // Another account, through its IAM.
        subject(&[
            ROOT,
            APP_DECRYPT,
            r#"{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "kms:Decrypt", "Resource": "*"}"#,
        ]),
        // A wider action.
        subject(&[
            ROOT,
            r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:*", "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "acme"}}}"#,
        ]),
    ];
    for new in &cases {
        let r = check::no_new_access(&old, new);
        assert!(!r.pass && !r.witnesses.is_empty(), "{}", r.render_text());
        verify_witnesses(&r, new, Some(&old));
    }
    let cross = check::no_new_access(&old, &cases[2]);
    assert!(
        cross
            .witnesses
            .iter()
            .any(|w| w.principal.contains("444455556666") && w.iam_allows_everything)
    );
}

#[test]
fn access_not_granted_both_outcomes() {
    let s = Subject::new(
        key_policy(include_str!("../policies/ebs.json")),
        GrantIndex::default(),
    );
    let decrypt = [Action::parse("kms:Decrypt").expect("action")];
    let eve = [Caller::parse("arn:aws:iam::111122223333:user/eve").expect("caller")];
    // eve gets decrypt only through the account delegation, i.e. IAM.
    let r = check::access_not_granted(&s, &decrypt, &eve);
    assert!(!r.pass);
    assert!(r.witnesses.iter().all(|w| w.iam_allows_everything));
    verify_witnesses(&r, &s, None);
    // Without the delegation statement nobody but the app servers through EC2.
    let no_root = subject(&[
        r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/AppServer"}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}}"#,
        ROOT.replace("kms:*", "kms:PutKeyPolicy").as_str(),
    ]);
    assert!(check::access_not_granted(&no_root, &decrypt, &eve).pass);
    let app =
        [Caller::parse("arn:aws:sts::111122223333:assumed-role/AppServer/i-1").expect("caller")];
    let r = check::access_not_granted(&no_root, &decrypt, &app);
    assert!(!r.pass);
    verify_witnesses(&r, &no_root, None);
    assert!(
        r.witnesses
            .iter()
            .all(|w| w.context.contains_key("kms:ViaService")),
        "the witness shows the condition it needs"
    );
}

#[test]
fn no_public_access_both_outcomes() {
    assert!(check::no_public_access(&subject(&[ROOT]), None).pass);
    assert!(check::no_public_access(&subject(&[ROOT, APP_DECRYPT]), None).pass);
    let narrowed = r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}"#;
    assert!(check::no_public_access(&subject(&[ROOT, narrowed]), None).pass);
    for open in [
        r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}"#,
        r#"{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "kms:Encrypt", "Resource": "*"}"#,
        r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt", "Resource": "*"}"#,
    ] {
        let s = subject(&[ROOT, open]);
        let r = check::no_public_access(&s, None);
        assert!(!r.pass, "{open}");
        verify_witnesses(&r, &s, None);
        assert!(
            r.witnesses
                .iter()
                .all(|w| !w.principal.contains("111122223333"))
        );
    }
}

#[test]
fn no_public_access_in_the_account_given() {
    // A policy that names only the partner account: by default that account
    // is taken to own the key, so nothing is public; told the key lives in
    // 111122223333, the partner's access is access from outside.
    let partner = r#"{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "kms:Decrypt", "Resource": "*"}"#;
    let s = subject(&[partner]);
    assert!(check::no_public_access(&s, None).pass);
    let own = AccountId::parse("111122223333").expect("account");
    let r = check::no_public_access(&s, Some(&own));
    assert!(!r.pass);
    verify_witnesses(&r, &s, None);
    assert!(
        r.witnesses
            .iter()
            .all(|w| w.principal.contains("444455556666"))
    );
    let partner_account = AccountId::parse("444455556666").expect("account");
    assert!(check::no_public_access(&s, Some(&partner_account)).pass);
}

fn keyward(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("keyward runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn command_formats_and_exit_codes() {
    let (code, out) = keyward(&[
        "check",
        "no-public-access",
        "policies/default-key-policy.json",
    ]);
    assert_eq!((code, out.trim()), (0, "no-public-access: PASS"));
    let (code, out) = keyward(&[
        "check",
        "no-public-access",
        "policies/default-key-policy.json",
        "--account",
        "444455556666",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let (code, _) = keyward(&[
        "check",
        "no-public-access",
        "policies/default-key-policy.json",
        "--account",
        "1234",
    ]);
    assert_eq!(code, 2);
    let (code, out) = keyward(&[
        "check",
        "no-new-access",
        "--old",
        "policies/default-key-policy.json",
        "--new",
        "policies/ebs.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["result"], "FAIL");
    assert!(v["witnesses"].as_array().is_some_and(|w| !w.is_empty()));
    let (code, out) = keyward(&[
        "check",
        "access-not-granted",
        "policies/tenant-binding.json",
        "--action",
        "kms:Decrypt",
        "--principal",
        "arn:aws:iam::111122223333:user/eve",
        "--format",
        "sarif",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("sarif");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "KC002");
    let (code, out) = keyward(&[
        "check",
        "no-new-access",
        "--old",
        "policies/ebs.json",
        "--new",
        "policies/ebs.json",
        "--format",
        "github",
    ]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _) = keyward(&[
        "check",
        "access-not-granted",
        "policies/ebs.json",
        "--action",
        "kms:Decrpyt",
    ]);
    assert_eq!(code, 2);
}

#[test]
fn overlapping_wildcards_answer_may_never_pass() {
    let cond = |patterns: &str| {
        format!(
            r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/App"}}, "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {{"StringLike": {{"kms:EncryptionContext:path": {patterns}}}}}}}"#
        )
    };
    let old = subject(&[ROOT, &cond(r#"["a*", "*b"]"#)]);
    let new = subject(&[ROOT, &cond(r#""a*""#)]);
    let r = check::no_new_access(&old, &new);
    assert!(!r.pass);
    assert!(r.witnesses.is_empty(), "{}", r.render_text());
    assert_eq!(r.result(), "FAIL (may)");
    assert!(
        r.undecided
            .iter()
            .any(|u| u.contains("overlapping patterns")),
        "{:?}",
        r.undecided
    );
}

#[test]
fn what_a_reviewer_reads() {
    let old = Subject::new(
        key_policy(include_str!("../policies/default-key-policy.json")),
        GrantIndex::default(),
    );
    let new = Subject::new(
        example("ebs.json", keyward::compile::PolicyKind::KeyPolicy),
        GrantIndex::default(),
    );
    let report = check::no_new_access(&old, &new);
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("check_no_new_access_default_to_ebs", report.render_text());
    });
}

/// `keyward check` decides with the evaluator: a key policy does not say
/// which account holds its key, so check tries a key in each account, and
/// in every world where the key is in another account than the caller's,
/// key management is denied (it never works across accounts) while Decrypt
/// is not.
#[test]
fn cross_account_key_management_is_never_a_witness() {
    let old = subject(&[ROOT]);
    let new = subject(&[
        ROOT,
        r#"{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Decrypt"], "Resource": "*"}"#,
    ]);
    let r = check::no_new_access(&old, &new);
    assert!(!r.pass, "{}", r.render_text());
    verify_witnesses(&r, &new, Some(&old));
    let account = |arn: &str| arn.split(':').nth(4).unwrap_or_default().to_owned();
    let across: Vec<_> = r
        .witnesses
        .iter()
        .filter(|w| account(&w.principal) != account(&w.resource))
        .collect();
    assert!(
        across.iter().all(|w| w.action == "kms:Decrypt"),
        "{}",
        r.render_text()
    );
    // The decisions check makes for the key in account 111122223333.
    let partner = |act: &str| {
        keyward::eval::Request::builder(caller("arn:aws:iam::444455556666:root"), action(act))
            .resource(KEY_ARN)
            .build()
    };
    assert!(new.decide(false, &partner("kms:Decrypt")).is_allow());
    assert!(!new.decide(false, &partner("kms:PutKeyPolicy")).is_allow());
    assert!(
        !new.decide(true, &partner("kms:ScheduleKeyDeletion"))
            .is_allow()
    );
}
