//! `keyward lint` on a corpus of realistic policies written for the
//! project from the shapes in AWS's documentation (`policies/realistic/`),
//! each file's kind given by `policies/realistic/keyward.toml`; and the
//! document kinds from the command line.

use std::path::PathBuf;
use std::process::Command;

use keyward::lint::{self, Category, Config, DocKind};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/realistic")
}

#[test]
fn realistic_policies_have_their_expected_findings() {
    let dir = corpus();
    let config = Config::load(&dir.join("keyward.toml"), true).expect("config");
    let (mut reports, errors) = lint::lint_paths(std::slice::from_ref(&dir), &config);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(reports.len() >= 30, "{} files", reports.len());
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let mut listing = String::new();
    for r in &mut reports {
        let name = PathBuf::from(&r.path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let kind = config
            .kind_for(std::path::Path::new(&r.path))
            .unwrap_or_else(|| panic!("{name}: no kind in keyward.toml"));
        assert!(
            readme.contains(&name),
            "{name} is not described in README.md"
        );
        // A file written to hold a mistake has a finding that says so; the
        // others hold none that fails a build.
        let serious = r.findings.iter().any(|f| {
            matches!(
                f.category,
                Category::Error | Category::Security | Category::Warning
            )
        });
        if name.contains("-mistake") {
            assert!(serious, "{name}: the mistake is not reported");
        } else {
            assert!(
                r.findings
                    .iter()
                    .all(|f| !matches!(f.category, Category::Error)),
                "{name}: {:?}",
                r.findings
            );
        }
        listing.push_str(&format!("{name} ({kind})\n"));
        let mut lines = r.source.line_index();
        for f in &r.findings {
            let (line, col) = lines.line_col(f.span.start);
            listing.push_str(&format!(
                "  {line}:{col} {} {} {}\n",
                f.code, f.category, f.message
            ));
        }
    }
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("lint_realistic", listing);
    });
}

fn lint(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("lint")
        .args(args)
        .output()
        .expect("run keyward lint");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_kind_decides_which_rules_apply() {
    let fixture = format!(
        "{}/policies/lint/KW201-public-principal.json",
        env!("CARGO_MANIFEST_DIR")
    );
    // Inferred (principals named): a key policy, whose public principal is
    // reported; as a VPC endpoint policy, `"*"` is its normal principal.
    assert!(lint(&["--format", "json", &fixture]).contains("KW201"));
    assert!(!lint(&["--format", "json", "--kind", "vpc-endpoint", &fixture]).contains("KW201"));
    let sid = format!(
        "{}/policies/lint/negative/KW118-key-policy-sid.json",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(!lint(&["--format", "json", &sid]).contains("KW118"));
    // The same statement as a resource control policy: IAM's Sid rules.
    assert!(lint(&["--format", "json", "--kind", "rcp", &sid]).contains("KW118"));
    let err = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["lint", "--kind", "bucket-policy", &sid])
        .output()
        .expect("run");
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("is not a document kind"));
    assert_eq!(DocKind::parse("scp"), Some(DocKind::Scp));
}

#[test]
fn a_repeated_key_is_reported_and_the_rest_still_linted() {
    let text = r#"{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}"#;
    let findings = lint::lint_source(&keyward::policy::Source::new("p.json", text));
    let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&"KW001"), "{codes:?}");
    assert!(
        codes.contains(&"KW201"),
        "the public principal is still found: {codes:?}"
    );
}
