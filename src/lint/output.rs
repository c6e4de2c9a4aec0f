//! Rendering findings: miette for people, JSON for machines, SARIF 2.1.0
//! for code scanning, and GitHub workflow commands for annotations.

use std::fmt::Write;

use miette::{Diagnostic, LabeledSpan, Severity};

use crate::policy::snippet::Snippet;
use serde_json::{Value, json};

use super::{Category, Finding, RULES, RuleInfo};
use crate::policy::Source;

/// The findings of one document.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as the user gave it (or `<stdin>`).
    pub path: String,
    pub source: Source,
    pub findings: Vec<Finding>,
}

impl FileReport {
    /// 1-based (line, column) of the start and end of each finding.
    fn positions(&self) -> Vec<((usize, usize), (usize, usize))> {
        let mut lines = self.source.line_index();
        // The index answers fastest in increasing order; findings are sorted.
        let starts: Vec<_> = self
            .findings
            .iter()
            .map(|f| lines.line_col(f.span.start))
            .collect();
        let mut lines = self.source.line_index();
        let ends = self.findings.iter().map(|f| lines.line_col(f.span.end));
        starts.into_iter().zip(ends).collect()
    }
}

/// Counts by category.
pub fn summary(reports: &[FileReport]) -> [(Category, usize); 4] {
    Category::ALL.map(|c| {
        (
            c,
            reports
                .iter()
                .flat_map(|r| &r.findings)
                .filter(|f| f.category == c)
                .count(),
        )
    })
}

fn severity(c: Category) -> Severity {
    match c {
        Category::Error | Category::Security => Severity::Error,
        Category::Warning => Severity::Warning,
        Category::Suggestion => Severity::Advice,
    }
}

fn level(c: Category) -> &'static str {
    match c {
        Category::Error | Category::Security => "error",
        Category::Warning => "warning",
        Category::Suggestion => "note",
    }
}

/// One finding as a miette diagnostic over its document.
#[derive(Debug)]
struct FindingDiagnostic<'a> {
    finding: &'a Finding,
    code: String,
    src: Snippet,
}

impl std::fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(severity(self.finding.category))
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.finding
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let s = self.finding.span;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(self.finding.label.clone()),
            s.start,
            s.len(),
        ))))
    }
}

/// Findings for people: code frames, then a summary line.
pub fn human(reports: &[FileReport], color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for r in reports {
        let src = Snippet::new(&r.path, r.source.text.clone());
        for f in &r.findings {
            let code = match f.rule() {
                Some(rule) => format!("{} {} ({})", rule.code, rule.name, f.category),
                None => format!("{} ({})", f.code, f.category),
            };
            let d = FindingDiagnostic {
                finding: f,
                code,
                src: src.clone(),
            };
            if handler.render_report(&mut out, &d).is_err() {
                let _ = writeln!(out, "{}: {} {}", r.path, f.code, f.message);
            }
            out.push('\n');
        }
    }
    let counts = summary(reports);
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let files = plural(reports.len(), "file");
    if total == 0 {
        let _ = writeln!(out, "no findings in {files}");
    } else {
        let parts: Vec<String> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        let _ = writeln!(
            out,
            "{} ({}) in {files}",
            plural(total, "finding"),
            parts.join(", ")
        );
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Findings for machines. The shape is documented in the README and
/// versioned by `version`.
pub fn json(reports: &[FileReport]) -> Value {
    let mut findings = Vec::new();
    for r in reports {
        for (f, ((sl, sc), (el, ec))) in r.findings.iter().zip(r.positions()) {
            findings.push(json!({
                "code": f.code,
                "name": f.rule().map(|r| r.name),
                "category": f.category,
                "message": f.message,
                "help": f.help,
                "file": r.path,
                "span": {"start": f.span.start, "end": f.span.end},
                "start": {"line": sl, "column": sc},
                "end": {"line": el, "column": ec},
            }));
        }
    }
    let counts: serde_json::Map<String, Value> = summary(reports)
        .iter()
        .map(|(c, n)| (c.name().to_owned(), json!(n)))
        .collect();
    json!({
        "version": 1,
        "tool": "keyward",
        "files": reports.len(),
        "findings": findings,
        "summary": counts,
    })
}

fn sarif_rule(r: &RuleInfo) -> Value {
    let mut properties = json!({"tags": [r.category.name()], "precision": "high"});
    if r.category == Category::Security {
        properties["tags"] = json!(["security"]);
        properties["security-severity"] = json!("7.5");
    }
    json!({
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.what},
        "help": {
            "text": format!("{}\n\nWhy it matters: {}\n\nExample:\n{}", r.what, r.why, r.example),
            "markdown": format!("{}\n\n**Why it matters.** {}\n\n```json\n{}\n```", r.what, r.why, r.example),
        },
        "defaultConfiguration": {"level": level(r.category)},
        "properties": properties,
    })
}

/// SARIF 2.1.0, as GitHub code scanning reads it.
pub fn sarif(reports: &[FileReport]) -> Value {
    let all: Vec<&RuleInfo> = RULES
        .iter()
        .map(|(r, _)| r)
        .chain(crate::check::RULES.iter())
        .collect();
    let rules: Vec<Value> = all.iter().map(|r| sarif_rule(r)).collect();
    let mut results = Vec::new();
    for r in reports {
        let uri = r.path.replace('\\', "/");
        let uri = uri.strip_prefix("./").unwrap_or(&uri).to_owned();
        for (f, ((sl, sc), (el, ec))) in r.findings.iter().zip(r.positions()) {
            let index = all.iter().position(|x| x.code == f.code);
            let mut message = f.message.clone();
            if let Some(h) = &f.help {
                message.push_str(&format!(" ({h})"));
            }
            results.push(json!({
                "ruleId": f.code,
                "ruleIndex": index,
                "level": level(f.category),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {
                            "startLine": sl, "startColumn": sc,
                            "endLine": el, "endColumn": ec.max(1),
                            "byteOffset": f.span.start, "byteLength": f.span.len(),
                        }
                    }
                }],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keyward",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// GitHub Actions workflow commands: one annotation a finding.
pub fn github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        for (f, ((sl, sc), (el, ec))) in r.findings.iter().zip(r.positions()) {
            let command = match f.category {
                Category::Error | Category::Security => "error",
                Category::Warning => "warning",
                Category::Suggestion => "notice",
            };
            let title = match f.rule() {
                Some(rule) => format!("{} {}", rule.code, rule.name),
                None => f.code.to_owned(),
            };
            let mut message = f.message.clone();
            if let Some(h) = &f.help {
                message.push_str(&format!("\n{h}"));
            }
            let _ = writeln!(
                out,
                "::{command} file={},line={sl},col={sc},endLine={el},endColumn={ec},title={}::{}",
                property(&r.path),
                property(&title),
                data(&message)
            );
        }
    }
    out
}

fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}
