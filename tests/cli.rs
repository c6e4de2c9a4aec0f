//! The `keyward` binary as a user runs it: output, JSON and exit codes.

use std::process::Command;

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// Runs the `keyward` binary from the repository root: exit code, stdout,
/// stderr.
pub fn keyward(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("keyward runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn explain_allow_exits_zero() {
    let (code, out, _) = keyward(&[
        "explain",
        "--policy",
        "policies/ebs.json",
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/AppServer/i-0abc",
        "--action",
        "kms:Decrypt",
        "--resource",
        KEY,
        "--via-service",
        "ec2.us-east-1.amazonaws.com",
        "--context",
        "aws:ec2:arn=arn:aws:ec2:us-east-1:111122223333:volume/vol-1",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("decision: Allow"));
}

#[test]
fn explain_deny_exits_one_with_json() {
    let (code, out, _) = keyward(&[
        "explain",
        "--policy",
        "policies/tenant-binding.json",
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/TenantService/s",
        "--action",
        "kms:Decrypt",
        "--resource",
        KEY,
        "--principal-tag",
        "tenant=acme",
        "--context",
        "tenant=globex",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["decision"], "ExplicitDeny");
    assert_eq!(
        v["decided_by"][0]["origin"]["name"],
        "Deny decrypt of another tenant's data"
    );
}

#[test]
fn explain_with_iam_policy_and_grants() {
    let (code, out, _) = keyward(&[
        "explain",
        "--policy",
        "policies/default-key-policy.json",
        "--iam-policy",
        "policies/iam-app-decrypt.json",
        "--principal",
        "arn:aws:iam::111122223333:user/alice",
        "--action",
        "kms:Decrypt",
        "--resource",
        KEY,
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = keyward(&[
        "explain",
        "--policy",
        "policies/default-key-policy.json",
        "--grants",
        "policies/grants.json",
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/BatchJob/run-1",
        "--action",
        "kms:Decrypt",
        "--resource",
        KEY,
        "--context",
        "dept=orders",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("allowed by grant"));
}

#[test]
fn usage_and_input_errors_exit_two() {
    let (code, _, err) = keyward(&[
        "explain",
        "--policy",
        "policies/ebs.json",
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrpyt",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `kms:Decrypt`"), "{err}");
    let (code, _, err) = keyward(&[
        "explain",
        "--policy",
        "policies/missing.json",
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrypt",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, _) = keyward(&["explain", "--policy", "policies/ebs.json"]);
    assert_eq!(code, 2);
}

#[test]
fn a_malformed_policy_shows_its_diagnostics() {
    let dir = std::env::temp_dir().join(format!("keyward-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.json");
    std::fs::write(&file, r#"{"Statement": [{"Effect": "Alow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#)
        .expect("write");
    let path = file.to_string_lossy().into_owned();
    let (code, _, err) = keyward(&["compile", &path]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`Effect` must be `Allow` or `Deny`, found `Alow`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn compile_prints_the_table() {
    let (code, out, _) = keyward(&["compile", "policies/ebs.json"]);
    assert_eq!(code, 0);
    snapshot!("cli_compile_ebs", out);
    let (code, out, _) = keyward(&["compile", "policies/grants.json"]);
    assert_eq!(code, 0);
    snapshot!("cli_compile_grants", out);
}

/// `keyward api` lists every served operation with its request members;
/// the JSON form is the model the end-to-end suite compares with botocore's.
#[test]
fn api_lists_the_request_model() {
    let (code, out, _) = keyward(&["api"]);
    assert_eq!(code, 0);
    snapshot!("cli_api", out);
    let (code, out, _) = keyward(&["api", "--format", "json"]);
    assert_eq!(code, 0);
    let model: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        model["GenerateRandom"]["NumberOfBytes"],
        serde_json::json!({"type": "integer", "min": 1, "max": 1024, "required": false})
    );
    assert_eq!(
        model.as_object().map(|m| m.len()),
        Some(keyward::service::OPERATIONS.len())
    );
    let (code, _, err) = keyward(&["api", "--format", "yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown format `yaml`"), "{err}");
}

/// A policy on one very long line used to make miette's reporter panic
/// (exit 101) once a label sat past column 65,535. Every command now shows
/// a window of the line and exits 0, 1 or 2.
#[test]
fn very_long_lines_render_and_never_panic() {
    let dir = std::env::temp_dir().join(format!("keyward-long-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pad = "x".repeat(70_000);
    let cases = [
        // An unknown element past column 70,000.
        format!(
            r#"{{"Version": "2012-10-17", "Id": "{pad}", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Bogus": 1}}]}}"#
        ),
        // A label 70,000 bytes long.
        format!(
            r#"{{"Version": "{pad}", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}}]}}"#
        ),
        // Not JSON, far along the line.
        format!(r#"{{"Version": "2012-10-17", "Id": "{pad}", "Statement": [}}"#),
    ];
    for (i, text) in cases.iter().enumerate() {
        let path = dir.join(format!("long-{i}.json"));
        std::fs::write(&path, text).expect("write");
        let p = path.to_str().expect("utf-8 path");
        for args in [
            vec!["lint", p],
            vec!["compile", p],
            vec![
                "explain",
                "--policy",
                p,
                "--principal",
                "111122223333",
                "--action",
                "kms:Decrypt",
            ],
            vec!["check", "no-public-access", p],
            vec!["check", "no-new-access", "--old", p, "--new", p],
        ] {
            let (code, out, err) = keyward(&args);
            assert!(
                (0..=2).contains(&code),
                "case {i}, {args:?}: exit {code}\n{}",
                &err[..err.len().min(2000)]
            );
            assert!(!err.contains("panicked"), "case {i}, {args:?}");
            if i == 0 && args[0] == "lint" {
                assert!(out.contains("unknown element `Bogus`"), "{out}");
                assert!(
                    out.contains(":1:70"),
                    "the location is the real column: {out}"
                );
                assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
