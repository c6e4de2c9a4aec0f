//! Helpers shared by the integration tests.

#![allow(dead_code)]

use keyward::catalog::Action;
use keyward::compile::{CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use keyward::eval::{Caller, DecisionKind, Request, RequestBuilder, decide};
use keyward::policy::{Source, parse_grants, parse_policy};

pub const ACCOUNT: &str = "111122223333";
pub const OTHER_ACCOUNT: &str = "444455556666";
pub const KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const APP_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/App/session-1";
pub const APP_ROLE: &str = "arn:aws:iam::111122223333:role/App";

/// Compiles a key policy, panicking with the rendered diagnostic if it
/// does not compile.
pub fn key_policy(json: &str) -> CompiledPolicy {
    compile("key-policy.json", json, PolicyKind::KeyPolicy)
}

pub fn iam_policy(json: &str) -> CompiledPolicy {
    compile("iam-policy.json", json, PolicyKind::IamPolicy)
}

/// Compiles one of the example policies under `policies/`.
pub fn example(name: &str, kind: PolicyKind) -> CompiledPolicy {
    let path = format!("{}/policies/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    compile(&format!("policies/{name}"), &text, kind)
}

fn compile(name: &str, json: &str, kind: PolicyKind) -> CompiledPolicy {
    let source = Source::new(name, json);
    let policy = match parse_policy(&source) {
        Ok(p) => p,
        Err(e) => panic!("{}", render(&e)),
    };
    match CompiledPolicy::compile(&policy, kind, &source) {
        Ok(p) => p,
        Err(e) => panic!("{}", render(&e)),
    }
}

pub fn grants(json: &str) -> GrantIndex {
    grants_named("grants.json", json)
}

pub fn grants_named(name: &str, json: &str) -> GrantIndex {
    let source = Source::new(name, json);
    let parsed = match parse_grants(&source) {
        Ok(g) => g,
        Err(e) => panic!("{}", render(&e)),
    };
    match GrantIndex::compile(&parsed, &source) {
        Ok(g) => g,
        Err(e) => panic!("{}", render(&e)),
    }
}

/// Renders a diagnostic as a user sees it, without colour.
pub fn render(d: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    match handler.render_report(&mut out, d) {
        Ok(()) => out,
        Err(e) => format!("cannot render: {e}"),
    }
}

/// A caller for the rest of the test run: a request borrows its caller,
/// and the table-driven tests build requests in helpers that return them.
pub fn caller(arn: &str) -> &'static Caller {
    match Caller::parse(arn) {
        Ok(c) => Box::leak(Box::new(c)),
        Err(e) => panic!("{e}"),
    }
}

pub fn action(name: &str) -> Action {
    match Action::parse(name) {
        Some(a) => a,
        None => panic!("not an action: {name}"),
    }
}

/// A request on the test key.
pub fn request(principal: &str, act: &str) -> RequestBuilder<'static> {
    Request::builder(caller(principal), action(act)).resource(KEY_ARN)
}

pub fn decide_with(table: &DecisionTable, req: RequestBuilder) -> DecisionKind {
    decide(table, &req.build())
}

/// A key policy holding one statement that allows role App `kms:Decrypt`
/// under `condition`.
pub fn conditioned(version: Option<&str>, condition: &str) -> DecisionTable {
    let version = version
        .map(|v| format!(r#""Version": "{v}","#))
        .unwrap_or_default();
    DecisionTable::new(key_policy(&format!(
        r#"{{ {version} "Statement": [{{
            "Effect": "Allow",
            "Principal": {{"AWS": "{APP_ROLE}"}},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {condition}
        }}]}}"#
    )))
}
