//! `keyward lint`: a rule catalog over parsed policies and grants.
//!
//! Every rule lives in its own file under `lint/rules/` with a stable code,
//! a category and its documentation. [`lint_source`] runs them all over one
//! document and returns [`Finding`]s with exact spans; [`output`] renders
//! findings for people (miette), machines (JSON), code scanning (SARIF) and
//! GitHub workflow annotations.

pub mod config;
pub mod kind;
pub mod output;
mod rules;

use std::fmt;

pub use config::Config;
pub use kind::DocKind;
pub use rules::RULES;

use crate::compile::{CompileError, CompiledPolicy, PolicyKind, wrap};
use crate::policy::ast::{Grant, Policy};
use crate::policy::{Document, Node, ParseError, Source, Span, parse_with_tree};

/// How serious a finding is. Ordered from most to least serious.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The document is wrong: AWS rejects it or it cannot mean what it says.
    Error,
    /// The document grants more access than it likely should.
    Security,
    /// Likely a mistake, though not dangerous by itself.
    Warning,
    /// A better way to write it, or information worth knowing.
    Suggestion,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Error,
        Category::Security,
        Category::Warning,
        Category::Suggestion,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Error => "error",
            Category::Security => "security",
            Category::Warning => "warning",
            Category::Suggestion => "suggestion",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule's identity and documentation.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Stable code, e.g. `KW101`.
    pub code: &'static str,
    /// Stable kebab-case name, e.g. `unknown-action`.
    pub name: &'static str,
    pub category: Category,
    /// The kinds of document the rule applies to.
    pub kinds: &'static [DocKind],
    /// One line.
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    /// A document that triggers the rule.
    pub example: &'static str,
}

impl RuleInfo {
    /// The `--explain` text.
    pub fn explain(&self) -> String {
        format!(
            "{} {} ({})\n\n{}\n\nWhat it does\n  {}\n\nWhy it matters\n  {}\n\nExample\n{}\n",
            self.code,
            self.name,
            self.category,
            self.summary,
            wrap(self.what, 76).replace('\n', "\n  "),
            wrap(self.why, 76).replace('\n', "\n  "),
            self.example
                .lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

/// One problem found in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub category: Category,
    pub message: String,
    pub span: Span,
    /// What the label under the span says.
    pub label: String,
    pub help: Option<String>,
}

impl Finding {
    pub fn new(rule: &RuleInfo, span: Span, message: impl Into<String>) -> Finding {
        Finding {
            code: rule.code,
            category: rule.category,
            message: message.into(),
            span,
            label: rule.name.to_owned(),
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Finding {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn with_category(mut self, category: Category) -> Finding {
        self.category = category;
        self
    }

    pub fn rule(&self) -> Option<&'static RuleInfo> {
        rule(self.code)
    }
}

/// Looks a rule up by code (`KW101`) or name (`unknown-action`).
pub fn rule(code_or_name: &str) -> Option<&'static RuleInfo> {
    RULES
        .iter()
        .map(|(info, _)| info)
        .chain(crate::check::RULES.iter())
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// What the rules look at.
pub struct Context<'a> {
    pub source: &'a Source,
    pub policy: Option<&'a Policy>,
    pub grants: &'a [Node<Grant>],
    /// What kind of document this is (given, or inferred).
    pub doc: DocKind,
    /// How the compiler read it: a key policy names a principal in every
    /// statement, an IAM policy in none.
    pub kind: PolicyKind,
    /// The compiled policy, when it compiles.
    pub compiled: Option<&'a CompiledPolicy>,
    /// The JSON as written, for checks of the JSON itself.
    pub(crate) tree: &'a Node<crate::policy::cst::Json>,
}

/// Lints one document with every rule for its kind, inferred from its
/// shape; findings are sorted by position.
pub fn lint_source(source: &Source) -> Vec<Finding> {
    lint_source_as(source, None)
}

/// Lints one document as `kind` (inferred when `None`).
pub fn lint_source_as(source: &Source, kind: Option<DocKind>) -> Vec<Finding> {
    let mut findings = Vec::new();
    // A repeated key is reported, and the rest of the document linted.
    let (tree, doc) = match parse_with_tree(source) {
        Ok((tree, doc, duplicates)) => {
            findings.extend(duplicates.iter().map(parse_finding));
            (tree, doc)
        }
        Err(errors) => {
            findings.extend(errors.errors().iter().map(parse_finding));
            return findings;
        }
    };
    let (policy, grants) = match &doc {
        Document::Policy(p) => (Some(p), &[][..]),
        Document::Grants(g) => (None, g.as_slice()),
    };
    let doc_kind = kind.unwrap_or_else(|| DocKind::infer(&doc));
    let kind = doc_kind.policy_kind();
    let compiled = match policy.map(|p| CompiledPolicy::compile(p, kind, source)) {
        Some(Ok(c)) => Some(c),
        Some(Err(errors)) => {
            findings.extend(errors.errors().iter().map(compile_finding));
            None
        }
        None => None,
    };
    let ctx = Context {
        source,
        policy,
        grants,
        doc: doc_kind,
        kind,
        compiled: compiled.as_ref(),
        tree: &tree,
    };
    for (rule, check) in RULES {
        if rule.kinds.contains(&doc_kind) {
            check(&ctx, &mut findings);
        }
    }
    findings.sort_by_key(|f| (f.span.start, f.code));
    findings.dedup();
    findings
}

fn span_of(s: &miette::SourceSpan) -> Span {
    Span::new(s.offset(), s.offset() + s.len())
}

/// Parse errors are findings of `KW001`.
fn parse_finding(e: &ParseError) -> Finding {
    use miette::Diagnostic;
    let rule = &rules::invalid_document::RULE;
    let span = e
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| Span::new(l.offset(), l.offset() + l.len()))
        .unwrap_or_default();
    let label = e
        .labels()
        .and_then(|mut l| l.next())
        .and_then(|l| l.label().map(str::to_owned))
        .unwrap_or_else(|| rule.name.to_owned());
    let mut f = Finding::new(rule, span, e.to_string()).label(label);
    if let Some(help) = e.help() {
        f = f.help(help.to_string());
    }
    f
}

/// Compile errors: a value that does not fit its operator is `KW103`, the
/// rest `KW001`.
fn compile_finding(e: &CompileError) -> Finding {
    match e {
        CompileError::BadConditionValue { reason, span, .. }
        | CompileError::BadPattern { reason, span, .. } => Finding::new(
            &rules::operator_type_mismatch::RULE,
            span_of(span),
            e.to_string(),
        )
        .label(reason.clone()),
        CompileError::MissingPrincipal { span }
        | CompileError::PrincipalInIdentityPolicy { span }
        | CompileError::BadGrantOperation { span, .. } => {
            Finding::new(&rules::invalid_document::RULE, span_of(span), e.to_string())
                .help("a key policy names a `Principal` in every statement; an IAM policy in none")
        }
    }
}

pub use output::FileReport;

/// A path that could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read `{path}`: {message}")]
#[diagnostic(code(keyward::io))]
pub struct ReadError {
    pub path: String,
    pub message: String,
}

/// Lints files and directories. Directories are walked recursively for
/// `*.json` files; there, JSON that is neither a policy nor a grant is
/// skipped. `-` reads standard input.
pub fn lint_paths(
    paths: &[std::path::PathBuf],
    config: &Config,
) -> (Vec<FileReport>, Vec<ReadError>) {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            match std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                Ok(_) => reports.push(lint_one("<stdin>".into(), text, config)),
                Err(e) => errors.push(ReadError {
                    path: "<stdin>".into(),
                    message: e.to_string(),
                }),
            }
            continue;
        }
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut errors);
            files.sort();
            for f in files {
                if config.excluded(&f) {
                    continue;
                }
                match std::fs::read_to_string(&f) {
                    Ok(text) => {
                        let report = lint_one(f.display().to_string(), text, config);
                        if !is_foreign(&report) {
                            reports.push(report);
                        }
                    }
                    Err(e) => errors.push(ReadError {
                        path: f.display().to_string(),
                        message: e.to_string(),
                    }),
                }
            }
            continue;
        }
        if config.excluded(path) {
            continue;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => reports.push(lint_one(path.display().to_string(), text, config)),
            Err(e) => errors.push(ReadError {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
    (reports, errors)
}

fn lint_one(path: String, text: String, config: &Config) -> FileReport {
    let kind = config.kind_for(std::path::Path::new(&path));
    let source = Source::new(path.clone(), text);
    let findings = config.apply(lint_source_as(&source, kind));
    FileReport {
        path,
        source,
        findings,
    }
}

/// JSON found in a directory walk that is neither a policy nor a grant
/// (a `package.json`, say) is not ours to judge.
fn is_foreign(report: &FileReport) -> bool {
    matches!(report.findings.as_slice(), [f] if f.code == "KW001" && f.message.starts_with("document is neither"))
}

fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>, errors: &mut Vec<ReadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ReadError {
                path: dir.display().to_string(),
                message: e.to_string(),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "target" || n == "node_modules");
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files, errors);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            files.push(path);
        }
    }
}
