//! `keyward lint`: every rule on its fixture, the output formats, the
//! configuration, and the command's exit codes.

use std::path::PathBuf;
use std::process::Command;

use keyward::lint::{self, Category, Config, DocKind, RULES, lint_source, lint_source_as, output};
use keyward::policy::Source;

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn fixture(code: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/lint");
    let mut found = std::fs::read_dir(&dir)
        .expect("policies/lint")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{code}-")))
        });
    found
        .next()
        .unwrap_or_else(|| panic!("no fixture for {code}"))
}

/// The kind a rule's fixture is linted as: the one its shape says, when
/// the rule applies to it; else the first the rule applies to (an SCP
/// looks like an identity policy).
fn fixture_kind(rule: &lint::RuleInfo, text: &str) -> DocKind {
    let inferred = keyward::policy::parse_document_despite_duplicates(&Source::new("f", text))
        .map(|(d, _)| DocKind::infer(&d))
        .ok();
    match inferred {
        Some(k) if rule.kinds.contains(&k) => k,
        _ => rule.kinds[0],
    }
}

fn report_for(path: &PathBuf, config: &Config) -> output::FileReport {
    let (mut reports, errors) = lint::lint_paths(std::slice::from_ref(path), config);
    assert!(errors.is_empty(), "{errors:?}");
    reports.pop().expect("one report")
}

fn relative(mut r: output::FileReport) -> output::FileReport {
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    r.path = r.path.replace(&root, "");
    r
}

#[test]
fn every_rule_fires_on_its_fixture() {
    for (rule, _) in RULES {
        let path = fixture(rule.code);
        let text = std::fs::read_to_string(&path).expect("fixture");
        assert_eq!(
            text, rule.example,
            "{}: the fixture is the documented example",
            rule.code
        );
        let kind = fixture_kind(rule, &text);
        let findings = lint_source_as(&Source::new(path.display().to_string(), text), Some(kind));
        assert!(
            findings.iter().any(|f| f.code == rule.code),
            "{} does not fire on its fixture: {findings:?}",
            rule.code
        );
    }
}

#[test]
fn one_snapshot_per_rule() {
    for (rule, _) in RULES {
        let kind = fixture_kind(rule, rule.example);
        let config = Config::default()
            .select(vec![rule.code.to_owned()])
            .expect("select")
            .kind(kind);
        let report = relative(report_for(&fixture(rule.code), &config));
        snapshot!(
            format!("lint_{}", rule.code),
            output::human(&[report], false)
        );
    }
}

#[test]
fn registry_is_consistent() {
    let mut codes: Vec<_> = RULES.iter().map(|(r, _)| r.code).collect();
    let mut names: Vec<_> = RULES.iter().map(|(r, _)| r.name).collect();
    let n = codes.len();
    codes.sort_unstable();
    codes.dedup();
    names.sort_unstable();
    names.dedup();
    assert_eq!((codes.len(), names.len()), (n, n));
    assert!(n >= 21);
    for (r, _) in RULES {
        assert!(r.code.starts_with("KW") && r.code.len() == 5, "{}", r.code);
        assert!(!r.what.is_empty() && !r.why.is_empty() && !r.summary.is_empty());
    }
}

#[test]
fn clean_policies_have_no_findings() {
    for name in ["default-key-policy.json", "iam-app-decrypt.json"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(name);
        let r = report_for(&path, &Config::default());
        assert!(r.findings.is_empty(), "{name}: {:?}", r.findings);
    }
}

/// Each `policies/lint/negative/KWnnn-*.json` is a policy the rule must
/// not report: the noise real policies showed (a negated `IfExists` in a
/// data-perimeter deny, the other services' statements of an IAM policy).
#[test]
fn negative_cases_do_not_fire_their_rule() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/lint/negative");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("policies/lint/negative") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let code = name.split('-').next().unwrap_or_default().to_owned();
        // The kind the name says (`KW124-rcp-…`), else the one inferred.
        let named = [
            ("-rcp-", DocKind::Rcp),
            ("-scp-", DocKind::Scp),
            ("-key-policy-", DocKind::KeyPolicy),
            ("-identity-", DocKind::Identity),
            ("-vpce-", DocKind::VpcEndpoint),
        ]
        .into_iter()
        .find(|(token, _)| name.contains(token));
        let config = match named {
            Some((_, kind)) => Config::default().kind(kind),
            None => Config::default(),
        };
        let r = report_for(&path, &config);
        assert!(
            r.findings.iter().all(|f| f.code != code),
            "{name}: {code} fired: {:?}",
            r.findings
        );
        seen += 1;
    }
    assert!(seen >= 2);
}

#[test]
fn did_you_mean() {
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": ["kms:*", "kms:Decrpyt"],
        "Resource": "*", "Condition": {"StringEquals": {"kms:EncrpytionContext:tenant": "a", "kms:CallerAcount": "1"}}}]}"#;
    let findings = lint_source(&Source::new("p.json", text));
    let helps: Vec<_> = findings.iter().filter_map(|f| f.help.as_deref()).collect();
    assert!(helps.contains(&"did you mean `kms:Decrypt`?"), "{helps:?}");
    assert!(
        helps.contains(&"did you mean `kms:EncryptionContext:tenant`?"),
        "{helps:?}"
    );
    assert!(
        helps.contains(&"did you mean `kms:CallerAccount`?"),
        "{helps:?}"
    );
}

#[test]
fn explain_and_list() {
    let Some(rule) = lint::rule("broad-decrypt") else {
        panic!("rule")
    };
    snapshot!("lint_explain_KW202", rule.explain());
    let (code, out, _) = keyward(&["lint", "--list"]);
    assert_eq!(code, 0);
    snapshot!("lint_list", out);
}

fn reports(codes: &[&str]) -> Vec<output::FileReport> {
    codes
        .iter()
        .map(|c| relative(report_for(&fixture(c), &Config::default())))
        .collect()
}

#[test]
fn json_output_shape() {
    let v = output::json(&reports(&["KW101", "KW205"]));
    assert_eq!(v["version"], 1);
    assert_eq!(v["files"], 2);
    let f = &v["findings"][0];
    for field in [
        "code", "name", "category", "message", "file", "span", "start", "end",
    ] {
        assert!(!f[field].is_null(), "missing {field} in {f}");
    }
    assert!(f["start"]["line"].as_u64().is_some_and(|l| l >= 1));
    let total: u64 = ["error", "security", "warning", "suggestion"]
        .iter()
        .map(|c| v["summary"][c].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total as usize, v["findings"].as_array().map_or(0, Vec::len));
}

/// The properties the SARIF 2.1.0 schema requires, and the value ranges it
/// sets, for every object keyward writes.
#[test]
fn sarif_output_meets_the_schema() {
    let all: Vec<&str> = RULES.iter().map(|(r, _)| r.code).collect();
    let v = output::sarif(&reports(&all));
    assert_eq!(v["version"], "2.1.0");
    let runs = v["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert!(driver["name"].is_string());
    assert!(matches!(
        run["columnKind"].as_str(),
        Some("unicodeCodePoints" | "utf16CodeUnits")
    ));
    let rules = driver["rules"].as_array().expect("rules");
    for r in rules {
        assert!(r["id"].is_string());
        for m in ["shortDescription", "fullDescription", "help"] {
            assert!(r[m]["text"].is_string(), "{m} of {}", r["id"]);
        }
        assert!(matches!(
            r["defaultConfiguration"]["level"].as_str(),
            Some("none" | "note" | "warning" | "error")
        ));
    }
    let results = run["results"].as_array().expect("results");
    assert!(results.len() >= RULES.len());
    for res in results {
        assert!(res["message"]["text"].is_string());
        assert!(matches!(
            res["level"].as_str(),
            Some("none" | "note" | "warning" | "error")
        ));
        let index = res["ruleIndex"].as_i64().expect("ruleIndex");
        assert!(index >= 0 && (index as usize) < rules.len());
        assert_eq!(rules[index as usize]["id"], res["ruleId"]);
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(!uri.is_empty() && !uri.starts_with('/') && !uri.contains('\\'));
        let region = &loc["region"];
        for k in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(
                region[k].as_u64().is_some_and(|n| n >= 1),
                "{k} in {region}"
            );
        }
        assert!(region["endLine"].as_u64() >= region["startLine"].as_u64());
        assert!(region["byteOffset"].as_u64().is_some() && region["byteLength"].as_u64().is_some());
    }
}

#[test]
fn github_annotations_escape() {
    let out = output::github(&reports(&["KW101", "KW201", "KW301"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with("::")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error file=policies/lint/KW101-unknown-action.json,line=2,"))
    );
    assert!(lines.iter().any(|l| l.starts_with("::notice ")), "{out}");
    assert!(lines.iter().all(|l| l.contains(",title=KW")));
    snapshot!("lint_github", out);
}

#[test]
fn config_changes_selection_and_categories() {
    let config = Config::parse(
        "[lint]\nignore = [\"KW204\"]\n[lint.severity]\nKW101 = \"warning\"\n",
        "keyward.toml",
    )
    .expect("config");
    let r = report_for(&fixture("KW101"), &config);
    assert!(r.findings.iter().all(|f| f.code != "KW204"));
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "KW101")
        .expect("KW101");
    assert_eq!(f.category, Category::Warning);
    assert!(!config.fails(f));
}

fn keyward(args: &[&str]) -> (i32, String, String) {
    keyward_in(env!("CARGO_MANIFEST_DIR"), args, None)
}

fn keyward_in(dir: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keyward runs");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("keyward exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes() {
    // Clean: 0.
    let (code, out, _) = keyward(&["lint", "policies/default-key-policy.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no findings in 1 file"));
    // Security findings fail by default: 1.
    let (code, _, _) = keyward(&["lint", "policies/lint/KW201-public-principal.json"]);
    assert_eq!(code, 1);
    // Suggestions alone do not, unless asked.
    let (code, _, _) = keyward(&["lint", "policies/lint/KW301-cross-account-access.json"]);
    assert_eq!(code, 0);
    let (code, _, _) = keyward(&[
        "lint",
        "--fail-on",
        "suggestion",
        "policies/lint/KW301-cross-account-access.json",
    ]);
    assert_eq!(code, 1);
    // --ignore removes the finding.
    let (code, _, _) = keyward(&[
        "lint",
        "--ignore",
        "KW201,KW204",
        "policies/lint/KW201-public-principal.json",
    ]);
    assert_eq!(code, 0);
    // Usage and I/O errors: 2.
    let (code, _, err) = keyward(&["lint", "policies/nope.json"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = keyward(&["lint", "--select", "KW999", "policies"]);
    assert_eq!(code, 2);
    assert!(err.contains("names no lint rule"), "{err}");
    let (code, _, _) = keyward(&["lint", "--fail-on", "fatal", "policies"]);
    assert_eq!(code, 2);
}

#[test]
fn stdin_and_directories() {
    let (code, out, _) = keyward_in(
        env!("CARGO_MANIFEST_DIR"),
        &["lint", "--format", "json", "-"],
        Some(
            r#"{"GranteePrincipal": "arn:aws:iam::111122223333:role/A", "Operations": ["Decrypt", "CreateGrant"]}"#,
        ),
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["KW205", "KW206"]);
    assert_eq!(v["findings"][0]["file"], "<stdin>");

    let dir = std::env::temp_dir().join(format!("keyward-lint-{}", std::process::id()));
    let nested = dir.join("a/b");
    std::fs::create_dir_all(&nested).expect("dirs");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "web", "version": "1.0.0"}"#,
    )
    .expect("write");
    std::fs::write(
        nested.join("key.json"),
        include_str!("../policies/lint/KW203-not-principal-allow.json"),
    )
    .expect("write");
    std::fs::write(nested.join("notes.txt"), "not json").expect("write");
    std::fs::write(
        dir.join("keyward.toml"),
        "[lint]\nexclude = [\"**/skip/**\"]\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("skip")).expect("dir");
    std::fs::write(dir.join("skip/bad.json"), "{").expect("write");
    let (code, out, err) = keyward_in(
        dir.to_str().expect("utf-8"),
        &["lint", "--format", "json", "."],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["files"], 1, "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
