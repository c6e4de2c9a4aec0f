//! Stage two: JSON tree → AST, collecting every structural problem.

use super::ast::*;
use super::cst::{Json, Member};
use super::{Document, Node, ParseError, Span};
use crate::catalog;

mod grant;

use grant::grants_parts;

type Errors = Vec<ParseError>;

pub fn document(tree: &Node<Json>) -> Result<Document, Errors> {
    match document_parts(tree) {
        (Some(doc), errs) if errs.is_empty() => Ok(doc),
        (_, errs) => Err(errs),
    }
}

/// Lowers a document whose only problems are repeated keys (each later
/// value read, as the rest of the document is): the document and those
/// problems, so a linter can go on to the rest of it.
pub fn document_despite_duplicates(tree: &Node<Json>) -> Result<(Document, Errors), Errors> {
    match document_parts(tree) {
        (Some(doc), errs)
            if errs
                .iter()
                .all(|e| matches!(e, ParseError::DuplicateKey { .. })) =>
        {
            Ok((doc, errs))
        }
        (_, errs) => Err(errs),
    }
}

fn document_parts(tree: &Node<Json>) -> (Option<Document>, Errors) {
    match &tree.node {
        Json::Array(_) => {
            let (g, errs) = grants_parts(tree);
            (Some(Document::Grants(g)), errs)
        }
        Json::Object(members) => {
            let has = |name: &str| members.iter().any(|m| m.key.node == name);
            if has("Statement") {
                let mut errs = Vec::new();
                let p = lower_policy(tree, &mut errs);
                (p.map(Document::Policy), errs)
            } else if has("GranteePrincipal") || has("Operations") || has("Grants") {
                let (g, errs) = grants_parts(tree);
                (Some(Document::Grants(g)), errs)
            } else {
                (
                    None,
                    vec![ParseError::UnknownDocument {
                        span: tree.loc.into(),
                    }],
                )
            }
        }
        _ => (
            None,
            vec![ParseError::UnknownDocument {
                span: tree.loc.into(),
            }],
        ),
    }
}

pub fn policy(tree: &Node<Json>) -> Result<Policy, Errors> {
    let mut errs = Vec::new();
    let policy = lower_policy(tree, &mut errs);
    match policy {
        Some(p) if errs.is_empty() => Ok(p),
        _ => Err(errs),
    }
}

pub fn grants(tree: &Node<Json>) -> Result<Vec<Node<Grant>>, Errors> {
    match grants_parts(tree) {
        (g, errs) if errs.is_empty() => Ok(g),
        (_, errs) => Err(errs),
    }
}

fn wrong_type(element: &str, expected: &'static str, found: &Json, loc: Span) -> ParseError {
    ParseError::WrongType {
        element: element.to_owned(),
        expected,
        found: found.kind(),
        span: loc.into(),
    }
}

fn unknown(key: &Node<String>, context: &'static str, known: &[&'static str]) -> ParseError {
    let help = catalog::closest(&key.node, known.iter().copied())
        .map(|c| format!("did you mean `{c}`?"))
        .or_else(|| Some(format!("expected one of: {}", known.join(", "))));
    ParseError::UnknownElement {
        name: key.node.clone(),
        context,
        span: key.loc.into(),
        help,
    }
}

/// Reports every key that repeats an earlier key of the same object.
fn duplicates(members: &[Member], errs: &mut Errors) {
    for (i, m) in members.iter().enumerate() {
        if let Some(first) = members[..i].iter().find(|p| p.key.node == m.key.node) {
            errs.push(ParseError::DuplicateKey {
                key: m.key.node.clone(),
                span: m.key.loc.into(),
                first: first.key.loc.into(),
            });
        }
    }
}

fn object<'a>(v: &'a Node<Json>, element: &str, errs: &mut Errors) -> Option<&'a [Member]> {
    match &v.node {
        Json::Object(members) => {
            duplicates(members, errs);
            Some(members)
        }
        other => {
            errs.push(wrong_type(element, "an object", other, v.loc));
            None
        }
    }
}

fn string(v: &Node<Json>, element: &str, errs: &mut Errors) -> Option<Node<String>> {
    match &v.node {
        Json::String(s) => Some(Node::new(s.clone(), v.loc)),
        other => {
            errs.push(wrong_type(element, "a string", other, v.loc));
            None
        }
    }
}

/// A string or a non-empty array of strings; AWS lets a one-element array be
/// written as a scalar.
fn strings(v: &Node<Json>, element: &str, errs: &mut Errors) -> Vec<Node<String>> {
    match &v.node {
        Json::String(s) => vec![Node::new(s.clone(), v.loc)],
        Json::Array(items) => {
            if items.is_empty() {
                errs.push(ParseError::Empty {
                    element: element.to_owned(),
                    span: v.loc.into(),
                });
            }
            items
                .iter()
                .filter_map(|i| string(i, element, errs))
                .collect()
        }
        other => {
            errs.push(wrong_type(
                element,
                "a string or an array of strings",
                other,
                v.loc,
            ));
            Vec::new()
        }
    }
}

fn lower_policy(tree: &Node<Json>, errs: &mut Errors) -> Option<Policy> {
    let members = object(tree, "policy", errs)?;
    let mut version = None;
    let mut id = None;
    let mut statements = None;
    for m in members {
        match m.key.node.as_str() {
            "Version" => {
                if let Some(s) = string(&m.value, "Version", errs) {
                    match s.node.as_str() {
                        "2012-10-17" => version = Some(Node::new(Version::V2012_10_17, s.loc)),
                        "2008-10-17" => version = Some(Node::new(Version::V2008_10_17, s.loc)),
                        other => errs.push(ParseError::BadVersion {
                            found: other.to_owned(),
                            span: s.loc.into(),
                        }),
                    }
                }
            }
            "Id" => id = string(&m.value, "Id", errs),
            "Statement" => {
                statements = Some(match &m.value.node {
                    Json::Array(items) => items
                        .iter()
                        .filter_map(|s| lower_statement(s, errs))
                        .collect::<Vec<_>>(),
                    Json::Object(_) => lower_statement(&m.value, errs).into_iter().collect(),
                    other => {
                        errs.push(wrong_type(
                            "Statement",
                            "an object or an array of objects",
                            other,
                            m.value.loc,
                        ));
                        Vec::new()
                    }
                });
            }
            _ => errs.push(unknown(&m.key, "policy", &["Version", "Id", "Statement"])),
        }
    }
    let Some(statements) = statements else {
        errs.push(ParseError::MissingElement {
            name: "Statement",
            context: "policy",
            span: tree.loc.into(),
        });
        return None;
    };
    Some(Policy {
        version,
        id,
        statements,
    })
}

const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn lower_statement(v: &Node<Json>, errs: &mut Errors) -> Option<Node<Statement>> {
    let members = object(v, "statement", errs)?;
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<(Node<PrincipalElement>, &'static str, Span)> = None;
    let mut action: Option<(Node<ActionElement>, &'static str, Span)> = None;
    let mut resource: Option<(Node<ResourceElement>, &'static str, Span)> = None;
    let mut conditions = Vec::new();
    let mut effect_seen = false;

    // Records an element that has a negated twin, reporting both together.
    fn once<T>(
        slot: &mut Option<(Node<T>, &'static str, Span)>,
        value: Option<Node<T>>,
        name: &'static str,
        key: Span,
        errs: &mut Errors,
    ) {
        if let Some((_, first, first_loc)) = slot {
            if *first != name {
                errs.push(ParseError::Conflict {
                    first,
                    second: name,
                    span: key.into(),
                    other: (*first_loc).into(),
                });
            }
            return;
        }
        if let Some(value) = value {
            *slot = Some((value, name, key));
        }
    }

    for m in members {
        let key = m.key.loc;
        match m.key.node.as_str() {
            "Sid" => sid = string(&m.value, "Sid", errs).map(|s| Node::new(Sid(s.node), s.loc)),
            "Effect" => {
                effect_seen = true;
                if let Some(s) = string(&m.value, "Effect", errs) {
                    match s.node.as_str() {
                        "Allow" => effect = Some(Node::new(Effect::Allow, s.loc)),
                        "Deny" => effect = Some(Node::new(Effect::Deny, s.loc)),
                        other => errs.push(ParseError::BadEffect {
                            found: other.to_owned(),
                            span: s.loc.into(),
                        }),
                    }
                }
            }
            name @ ("Principal" | "NotPrincipal") => {
                let p = lower_principal(&m.value, name, errs);
                let name = if name == "Principal" {
                    "Principal"
                } else {
                    "NotPrincipal"
                };
                once(&mut principal, p, name, key, errs);
            }
            name @ ("Action" | "NotAction") => {
                let actions = strings(&m.value, name, errs)
                    .into_iter()
                    .map(|s| Node::new(ActionName(s.node), s.loc))
                    .collect();
                let negated = name == "NotAction";
                let el = Node::new(ActionElement { negated, actions }, m.value.loc);
                let name = if negated { "NotAction" } else { "Action" };
                once(&mut action, Some(el), name, key, errs);
            }
            name @ ("Resource" | "NotResource") => {
                let resources = strings(&m.value, name, errs);
                let negated = name == "NotResource";
                let el = Node::new(ResourceElement { negated, resources }, m.value.loc);
                let name = if negated { "NotResource" } else { "Resource" };
                once(&mut resource, Some(el), name, key, errs);
            }
            "Condition" => conditions = lower_conditions(&m.value, errs),
            _ => errs.push(unknown(&m.key, "statement", STATEMENT_ELEMENTS)),
        }
    }
    let Some(effect) = effect else {
        if !effect_seen {
            errs.push(ParseError::MissingElement {
                name: "Effect",
                context: "statement",
                span: v.loc.into(),
            });
        }
        return None;
    };
    Some(Node::new(
        Statement {
            sid,
            effect,
            principal: principal.map(|p| p.0),
            action: action.map(|a| a.0),
            resource: resource.map(|r| r.0),
            conditions,
        },
        v.loc,
    ))
}

fn lower_principal(
    v: &Node<Json>,
    element: &str,
    errs: &mut Errors,
) -> Option<Node<PrincipalElement>> {
    let negated = element == "NotPrincipal";
    let principals = match &v.node {
        Json::String(s) if s == "*" => Principals::Any,
        Json::String(_) => {
            errs.push(ParseError::BadPrincipal {
                reason: format!(
                    "a bare string `{element}` must be \"*\"; name principals as {{\"AWS\": ...}}"
                ),
                span: v.loc.into(),
            });
            return None;
        }
        Json::Object(members) => {
            duplicates(members, errs);
            let mut listed = Vec::new();
            let mut any = false;
            for m in members {
                let kind = m.key.node.as_str();
                if !matches!(kind, "AWS" | "Service" | "Federated" | "CanonicalUser") {
                    errs.push(unknown(
                        &m.key,
                        "principal",
                        &["AWS", "Service", "Federated", "CanonicalUser"],
                    ));
                    continue;
                }
                for s in strings(&m.value, element, errs) {
                    match principal_id(kind, &s, errs) {
                        Some(None) => any = true,
                        Some(Some(id)) => listed.push(Node::new(id, s.loc)),
                        None => {}
                    }
                }
            }
            if any {
                Principals::Any
            } else {
                Principals::Listed(listed)
            }
        }
        other => {
            errs.push(wrong_type(element, "\"*\" or an object", other, v.loc));
            return None;
        }
    };
    Some(Node::new(
        PrincipalElement {
            negated,
            principals,
        },
        v.loc,
    ))
}

/// `Some(None)` is the wildcard principal.
fn principal_id(kind: &str, s: &Node<String>, errs: &mut Errors) -> Option<Option<PrincipalId>> {
    let text = s.node.as_str();
    let bad = |errs: &mut Errors, reason: String| {
        errs.push(ParseError::BadPrincipal {
            reason,
            span: s.loc.into(),
        });
        None
    };
    if text == "*" {
        return match kind {
            "AWS" => Some(None),
            "Service" => Some(Some(PrincipalId::Service("*".to_owned()))),
            _ => bad(errs, format!("`*` is not a {kind} principal")),
        };
    }
    if text.contains('*') || text.contains('?') {
        return bad(
            errs,
            "a principal cannot contain a partial wildcard; use \"*\" with a condition such as `aws:PrincipalArn`".to_owned(),
        );
    }
    Some(Some(match kind {
        "AWS" => {
            if let Some(account) = AccountId::parse(text) {
                PrincipalId::Account(account)
            } else if let Some(acct) = root_account(text) {
                PrincipalId::Account(acct)
            } else if text.starts_with("arn:") && text.split(':').count() >= 6 {
                PrincipalId::Arn(text.to_owned())
            } else {
                return bad(
                    errs,
                    format!("`{text}` is neither a 12-digit account id nor a principal ARN"),
                );
            }
        }
        "Service" => PrincipalId::Service(text.to_owned()),
        "Federated" => PrincipalId::Federated(text.to_owned()),
        _ => PrincipalId::CanonicalUser(text.to_owned()),
    }))
}

/// `arn:aws:iam::111122223333:root` → the account.
pub fn root_account(arn: &str) -> Option<AccountId> {
    let ["arn", _, "iam", "", acct, "root"] = arn_parts(arn)? else {
        return None;
    };
    AccountId::parse(acct)
}

fn operator_names() -> Vec<String> {
    let mut names = Vec::new();
    for op in BaseOperator::ALL {
        names.push(op.name().to_owned());
        if *op != BaseOperator::Null {
            names.push(format!("{}IfExists", op.name()));
        }
    }
    let plain = names.clone();
    for q in ["ForAnyValue:", "ForAllValues:"] {
        names.extend(plain.iter().map(|n| format!("{q}{n}")));
    }
    names
}

fn lower_conditions(v: &Node<Json>, errs: &mut Errors) -> Vec<Node<Condition>> {
    let Some(ops) = object(v, "Condition", errs) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for op_member in ops {
        let operator = match ConditionOperator::parse(&op_member.key.node) {
            Some(op) => Some(Node::new(op, op_member.key.loc)),
            None => {
                let names = operator_names();
                let name = &op_member.key.node;
                let help = if name
                    .trim_start_matches("ForAnyValue:")
                    .trim_start_matches("ForAllValues:")
                    == "NullIfExists"
                {
                    Some(
                        "`Null` has no `IfExists` form: it already tests whether the key exists"
                            .to_owned(),
                    )
                } else {
                    catalog::closest(name, names.iter().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"))
                };
                errs.push(ParseError::UnknownOperator {
                    name: op_member.key.node.clone(),
                    span: op_member.key.loc.into(),
                    help,
                });
                None
            }
        };
        let Some(keys) = object(&op_member.value, &op_member.key.node, errs) else {
            continue;
        };
        for k in keys {
            let values = condition_values(&k.value, &k.key.node, errs);
            if let Some(operator) = &operator {
                out.push(Node::new(
                    Condition {
                        operator: operator.clone(),
                        key: Node::new(ConditionKey(k.key.node.clone()), k.key.loc),
                        values,
                    },
                    Span::new(k.key.loc.start, k.value.loc.end),
                ));
            }
        }
    }
    out
}

fn condition_values(v: &Node<Json>, key: &str, errs: &mut Errors) -> Vec<Node<String>> {
    let scalar = |v: &Node<Json>, errs: &mut Errors| match &v.node {
        Json::String(s) => Some(Node::new(s.clone(), v.loc)),
        Json::Bool(b) => Some(Node::new(b.to_string(), v.loc)),
        Json::Number(n) => Some(Node::new(n.clone(), v.loc)),
        other => {
            errs.push(wrong_type(key, "a string, number or boolean", other, v.loc));
            None
        }
    };
    match &v.node {
        Json::Array(items) => {
            if items.is_empty() {
                errs.push(ParseError::Empty {
                    element: key.to_owned(),
                    span: v.loc.into(),
                });
            }
            items.iter().filter_map(|i| scalar(i, errs)).collect()
        }
        _ => scalar(v, errs).into_iter().collect(),
    }
}
