//! AST → decision table.
//!
//! A [`CompiledPolicy`] holds one row per statement with every matcher
//! precompiled, and an index from each KMS action to the rows that can apply
//! to it, explicit-deny rows first. A [`GrantIndex`] keys the grants of a key
//! by grantee, so that a key with 10,000 grants costs no more per request
//! than a key with one. A [`DecisionTable`] puts a key policy, the caller's
//! IAM policies and the key's grants together for the evaluator.

pub mod err;
mod grants;
pub mod matcher;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

pub use err::{CompileError, CompileErrors};
pub use grants::{CompiledGrant, GrantIndex};
use matcher::{ArnPattern, Pattern, Template, ValueMatcher};

use crate::catalog::{self, Action, ContextKey};
use crate::policy::ast::{
    BaseOperator, ConditionOperator, Effect, OperatorFamily, Policy, PrincipalId, Principals,
    Statement,
};
use crate::policy::{LineIndex, Node, Source, Span, ast};

/// Which document a row or grant came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// A key policy: a resource policy whose statements name principals.
    KeyPolicy,
    /// An IAM identity policy attached to the caller.
    IamPolicy,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::KeyPolicy => "key policy",
            PolicyKind::IamPolicy => "IAM policy",
        })
    }
}

/// Where a row or grant was written: document, position and name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub document: String,
    /// Statement index in its policy, or grant index in its document.
    pub index: usize,
    /// The statement's `Sid`, or the grant's id.
    pub name: Option<String>,
    pub span: Span,
    pub line: usize,
    pub column: usize,
}

impl Origin {
    pub(crate) fn new(
        source: &Source,
        lines: &mut LineIndex<'_>,
        index: usize,
        name: Option<String>,
        span: Span,
    ) -> Origin {
        let (line, column) = lines.line_col(span.start);
        Origin {
            document: source.name.clone(),
            index,
            name,
            span,
            line,
            column,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " ({}:{}:{})", self.document, self.line, self.column)
    }
}

/// A set of KMS actions, one bit per catalog entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionSet(u128);

impl ActionSet {
    pub fn all() -> ActionSet {
        Action::all().fold(ActionSet::default(), |s, a| s.with(a))
    }

    pub fn with(self, a: Action) -> ActionSet {
        ActionSet(self.0 | (1u128 << a.index()))
    }

    pub fn contains(self, a: Action) -> bool {
        self.0 & (1u128 << a.index()) != 0
    }

    pub fn complement(self) -> ActionSet {
        ActionSet(ActionSet::all().0 & !self.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::all().filter(move |a| self.contains(*a))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every action of `self` is in `other`.
    pub fn is_subset(self, other: ActionSet) -> bool {
        self.0 & !other.0 == 0
    }
}

/// The `Action` or `NotAction` element, resolved against the catalog.
#[derive(Debug, Clone)]
pub struct ActionMatcher {
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<String>,
    /// The actions the element covers (after negation).
    pub covers: ActionSet,
}

/// The `Resource` or `NotResource` element.
#[derive(Debug, Clone)]
pub struct ResourceMatcher {
    pub negated: bool,
    pub patterns: Vec<(String, ArnPattern)>,
}

/// A principal named in a policy, with its role key precomputed.
#[derive(Debug, Clone)]
pub struct NamedPrincipal {
    pub id: PrincipalId,
    /// For a role ARN, [`ast::role_key`]: it matches the role's sessions.
    pub role: Option<String>,
}

/// The `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone)]
pub enum PrincipalMatcher {
    /// An identity policy: it applies to whoever it is attached to.
    Attached,
    Named {
        negated: bool,
        /// `"*"`.
        any: bool,
        ids: Vec<NamedPrincipal>,
    },
}

/// One (operator, key) pair of a condition with its compiled values.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    pub operator: ConditionOperator,
    /// The key as written, for explanations.
    pub key: String,
    /// The key resolved for look-up; key names are case-insensitive.
    pub lookup: ContextKey,
    pub values: Vec<ValueMatcher>,
    /// The values as written, for explanations.
    pub values_text: Vec<String>,
    pub span: Span,
}

/// One statement, compiled.
#[derive(Debug, Clone)]
pub struct Row {
    pub origin: Origin,
    pub effect: Effect,
    pub principal: PrincipalMatcher,
    /// `None`: the statement has no `Action`/`NotAction` and never applies.
    pub action: Option<ActionMatcher>,
    /// `None`: the statement has no `Resource`/`NotResource` and never applies.
    pub resource: Option<ResourceMatcher>,
    pub conditions: Vec<CompiledCondition>,
}

#[derive(Debug, Clone, Default)]
struct ActionRows {
    deny: Vec<u32>,
    allow: Vec<u32>,
}

/// A key policy or IAM policy, compiled and indexed by action.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub kind: PolicyKind,
    pub document: String,
    pub rows: Vec<Row>,
    index: Vec<ActionRows>,
}

impl CompiledPolicy {
    pub fn compile(
        policy: &Policy,
        kind: PolicyKind,
        source: &Source,
    ) -> Result<CompiledPolicy, CompileErrors> {
        let mut errors = Vec::new();
        let variables = policy.variables_enabled();
        let mut lines = source.line_index();
        let mut actions = ActionCache::default();
        let rows: Vec<Row> = policy
            .statements
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let origin = Origin::new(
                    source,
                    &mut lines,
                    i,
                    s.node.sid.as_ref().map(|sid| sid.node.0.clone()),
                    s.loc,
                );
                compile_row(origin, s, kind, variables, &mut actions, &mut errors)
            })
            .collect();
        if !errors.is_empty() {
            return Err(CompileErrors::new(
                &source.name,
                source.text.clone(),
                errors,
            ));
        }
        let mut index = vec![ActionRows::default(); catalog::action_count()];
        for (i, row) in rows.iter().enumerate() {
            let Some(action) = &row.action else { continue };
            let Ok(i) = u32::try_from(i) else { continue };
            for a in action.covers.iter() {
                let slot = &mut index[a.index()];
                match row.effect {
                    Effect::Deny => slot.deny.push(i),
                    Effect::Allow => slot.allow.push(i),
                }
            }
        }
        Ok(CompiledPolicy {
            kind,
            document: source.name.clone(),
            rows,
            index,
        })
    }

    /// Rows whose `Deny` can apply to `action`.
    pub fn deny_rows(&self, action: Action) -> impl Iterator<Item = &Row> {
        self.index[action.index()]
            .deny
            .iter()
            .map(|&i| &self.rows[i as usize])
    }

    /// Rows whose `Allow` can apply to `action`.
    pub fn allow_rows(&self, action: Action) -> impl Iterator<Item = &Row> {
        self.index[action.index()]
            .allow
            .iter()
            .map(|&i| &self.rows[i as usize])
    }
}

fn compile_row(
    origin: Origin,
    node: &Node<Statement>,
    kind: PolicyKind,
    variables: bool,
    actions: &mut ActionCache,
    errors: &mut Vec<CompileError>,
) -> Option<Row> {
    let s = &node.node;
    let principal = match (kind, &s.principal) {
        (PolicyKind::IamPolicy, None) => PrincipalMatcher::Attached,
        (PolicyKind::IamPolicy, Some(p)) => {
            errors.push(CompileError::PrincipalInIdentityPolicy { span: p.loc.into() });
            return None;
        }
        (PolicyKind::KeyPolicy, None) => {
            errors.push(CompileError::MissingPrincipal {
                span: node.loc.into(),
            });
            return None;
        }
        (PolicyKind::KeyPolicy, Some(p)) => match &p.node.principals {
            Principals::Any => PrincipalMatcher::Named {
                negated: p.node.negated,
                any: true,
                ids: Vec::new(),
            },
            Principals::Listed(ids) => PrincipalMatcher::Named {
                negated: p.node.negated,
                any: false,
                ids: ids
                    .iter()
                    .map(|i| NamedPrincipal {
                        // A role ARN names every session of the role; a
                        // session ARN names that one session, matched by
                        // its ARN alone.
                        role: match &i.node {
                            PrincipalId::Arn(arn) if !ast::is_role_session(arn) => {
                                ast::role_key(arn)
                            }
                            _ => None,
                        },
                        id: i.node.clone(),
                    })
                    .collect(),
            },
        },
    };
    let action = s.action.as_ref().map(|a| {
        let covers = a.node.actions.iter().fold(ActionSet::default(), |set, p| {
            ActionSet(set.0 | actions.named(&p.node.0).0)
        });
        ActionMatcher {
            negated: a.node.negated,
            patterns: a.node.actions.iter().map(|p| p.node.0.clone()).collect(),
            covers: if a.node.negated {
                covers.complement()
            } else {
                covers
            },
        }
    });
    let resource = s.resource.as_ref().map(|r| ResourceMatcher {
        negated: r.node.negated,
        patterns: r
            .node
            .resources
            .iter()
            .filter_map(|p| match ArnPattern::new(&p.node, variables) {
                Ok(m) => Some((p.node.clone(), m)),
                Err(reason) => {
                    errors.push(CompileError::BadPattern {
                        pattern: p.node.clone(),
                        reason,
                        span: p.loc.into(),
                    });
                    None
                }
            })
            .collect(),
    });
    let conditions = s
        .conditions
        .iter()
        .filter_map(|c| compile_condition(c, variables, actions, errors))
        .collect();
    Some(Row {
        origin,
        effect: s.effect.node,
        principal,
        action,
        resource,
        conditions,
    })
}

/// The actions an `Action`/`NotAction` element covers, after negation.
pub fn actions_covered(element: &ast::ActionElement) -> ActionSet {
    let named = element.actions.iter().fold(ActionSet::default(), |set, p| {
        ActionSet(set.0 | actions_named(&p.node.0).0)
    });
    if element.negated {
        named.complement()
    } else {
        named
    }
}

/// Action patterns already resolved in this compilation: policies repeat the
/// same few patterns (`kms:Describe*`, `kms:GenerateDataKey*`) many times.
/// It also keeps the `Like` patterns compiled so far: a glob costs a regex
/// compilation, and statements repeat their patterns.
#[derive(Default)]
struct ActionCache {
    actions: HashMap<String, ActionSet>,
    likes: HashMap<(String, bool), Pattern>,
}

impl ActionCache {
    fn named(&mut self, pattern: &str) -> ActionSet {
        if let Some(set) = self.actions.get(pattern) {
            return *set;
        }
        let set = actions_named(pattern);
        self.actions.insert(pattern.to_owned(), set);
        set
    }

    fn like(&mut self, text: &str, variables: bool) -> Result<Pattern, String> {
        if let Some(p) = self.likes.get(&(text.to_owned(), variables)) {
            return Ok(p.clone());
        }
        let p = Pattern::new(text, variables)?;
        self.likes.insert((text.to_owned(), variables), p.clone());
        Ok(p)
    }
}

/// The KMS actions an `Action` pattern names (case-insensitive, `*` and
/// `?`). Patterns with a comma or whitespace name nothing, as in AWS.
pub fn actions_named(pattern: &str) -> ActionSet {
    if pattern.chars().any(|c| c == ',' || c.is_whitespace()) {
        return ActionSet::default();
    }
    if !pattern.contains(['*', '?']) {
        return Action::parse(pattern)
            .map_or_else(ActionSet::default, |a| ActionSet::default().with(a));
    }
    // `kms:Get*`, the common shape, needs no glob.
    if let Some(prefix) = pattern
        .strip_suffix('*')
        .filter(|p| !p.contains(['*', '?']))
    {
        let prefix = prefix.to_ascii_lowercase();
        return Action::all()
            .filter(|a| {
                let name = format!("kms:{}", a.name()).to_ascii_lowercase();
                name.starts_with(&prefix)
            })
            .fold(ActionSet::default(), ActionSet::with);
    }
    let parts = matcher::parts(pattern, false, true);
    let Ok(glob) = matcher::glob(&parts, true) else {
        return ActionSet::default();
    };
    let mut name = String::with_capacity(48);
    Action::all()
        .filter(|a| {
            name.clear();
            name.push_str("kms:");
            name.push_str(a.name());
            glob.is_match(&name)
        })
        .fold(ActionSet::default(), ActionSet::with)
}

fn compile_condition(
    c: &Node<ast::Condition>,
    variables: bool,
    cache: &mut ActionCache,
    errors: &mut Vec<CompileError>,
) -> Option<CompiledCondition> {
    let op = c.node.operator.node;
    let vars = variables && op.base.takes_variables();
    let mut values = Vec::new();
    for v in &c.node.values {
        match compile_value(op.base, &v.node, vars, cache) {
            Ok(m) => values.push(m),
            Err(reason) => errors.push(CompileError::BadConditionValue {
                operator: op.to_string(),
                value: v.node.clone(),
                reason,
                span: v.loc.into(),
            }),
        }
    }
    Some(CompiledCondition {
        operator: op,
        key: c.node.key.node.0.clone(),
        lookup: ContextKey::new(&c.node.key.node.0),
        values,
        values_text: c.node.values.iter().map(|v| v.node.clone()).collect(),
        span: c.loc,
    })
}

fn compile_value(
    op: BaseOperator,
    v: &str,
    vars: bool,
    cache: &mut ActionCache,
) -> Result<ValueMatcher, String> {
    use BaseOperator::*;
    Ok(match op.family() {
        OperatorFamily::String => match op {
            StringLike | StringNotLike => ValueMatcher::Like(cache.like(v, vars)?),
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                ValueMatcher::TextIgnoreCase(Template::new(&v.to_lowercase(), vars))
            }
            _ => ValueMatcher::Text(Template::new(v, vars)),
        },
        OperatorFamily::Numeric => {
            ValueMatcher::Number(matcher::parse_number(v).ok_or_else(|| "not a number".to_owned())?)
        }
        OperatorFamily::Date => ValueMatcher::Date(
            matcher::parse_date(v)
                .ok_or_else(|| "not an ISO 8601 date or epoch seconds".to_owned())?,
        ),
        OperatorFamily::Bool => {
            let t = Template::new(&v.to_ascii_lowercase(), vars);
            if matches!(&t, Template::Literal(s) if s != "true" && s != "false") {
                return Err("not `true` or `false`".into());
            }
            ValueMatcher::Bool(t)
        }
        OperatorFamily::Binary => {
            let ok = !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if !ok {
                return Err("not base64".into());
            }
            ValueMatcher::Binary(v.to_owned())
        }
        OperatorFamily::Ip => ValueMatcher::Cidr(
            matcher::parse_cidr(v).ok_or_else(|| "not an IP address or CIDR block".to_owned())?,
        ),
        OperatorFamily::Arn => ValueMatcher::Arn(ArnPattern::new(v, vars)?),
        OperatorFamily::Null => ValueMatcher::Null(match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err("`Null` takes `true` or `false`".into()),
        }),
    })
}

/// Everything that decides requests on one key: its key policy, its grants,
/// and the IAM policies of the caller being decided. The parts are shared
/// (`Arc`), so a service assembles a table per request without copying.
#[derive(Debug, Clone)]
pub struct DecisionTable {
    pub key_policy: Arc<CompiledPolicy>,
    pub iam_policies: Vec<Arc<CompiledPolicy>>,
    pub grants: Arc<GrantIndex>,
}

impl DecisionTable {
    pub fn new(key_policy: CompiledPolicy) -> DecisionTable {
        DecisionTable::from_parts(Arc::new(key_policy), Vec::new(), Arc::default())
    }

    pub fn from_parts(
        key_policy: Arc<CompiledPolicy>,
        iam_policies: Vec<Arc<CompiledPolicy>>,
        grants: Arc<GrantIndex>,
    ) -> DecisionTable {
        DecisionTable {
            key_policy,
            iam_policies,
            grants,
        }
    }

    pub fn with_iam_policy(mut self, policy: CompiledPolicy) -> DecisionTable {
        self.iam_policies.push(Arc::new(policy));
        self
    }

    pub fn with_grants(mut self, grants: GrantIndex) -> DecisionTable {
        self.grants = Arc::new(grants);
        self
    }
}

/// Parses and compiles a policy document in one step.
pub fn compile_policy(source: &Source, kind: PolicyKind) -> Result<CompiledPolicy, miette::Report> {
    let policy = crate::policy::parse_policy(source).map_err(miette::Report::new)?;
    CompiledPolicy::compile(&policy, kind, source).map_err(miette::Report::new)
}

/// Parses and compiles a grant document (or a list of grants) in one step.
pub fn compile_grants(source: &Source) -> Result<GrantIndex, miette::Report> {
    let grants = crate::policy::parse_grants(source).map_err(miette::Report::new)?;
    GrantIndex::compile(&grants, source).map_err(miette::Report::new)
}

/// A readable listing of a compiled policy: for each group of actions with
/// the same rows, the deny rows first, then the allow rows.
pub fn render_table(policy: &CompiledPolicy) -> String {
    use fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "decision table for {} `{}`: {} statements",
        policy.kind,
        policy.document,
        policy.rows.len()
    );
    let mut groups: BTreeMap<(Vec<u32>, Vec<u32>), Vec<Action>> = BTreeMap::new();
    for a in Action::all() {
        let rows = &policy.index[a.index()];
        if rows.deny.is_empty() && rows.allow.is_empty() {
            continue;
        }
        groups
            .entry((rows.deny.clone(), rows.allow.clone()))
            .or_default()
            .push(a);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|(_, actions)| actions.first().copied());
    for ((deny, allow), actions) in groups {
        let names: Vec<String> = actions.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "\n{}", wrap(&names.join(", "), 78));
        for (label, rows) in [("deny ", &deny), ("allow", &allow)] {
            for &i in rows {
                let row = &policy.rows[i as usize];
                let _ = writeln!(out, "  {label} {}", row.origin);
                let _ = writeln!(
                    out,
                    "        principal: {}",
                    describe_principal(&row.principal)
                );
                if let Some(r) = &row.resource {
                    let pats: Vec<&str> = r.patterns.iter().map(|(p, _)| p.as_str()).collect();
                    let not = if r.negated { "not " } else { "" };
                    let _ = writeln!(out, "        resource: {not}{}", pats.join(", "));
                }
                for c in &row.conditions {
                    let _ = writeln!(
                        out,
                        "        when {} {} {:?}",
                        c.operator, c.key, c.values_text
                    );
                }
            }
        }
    }
    let never: Vec<&Row> = policy
        .rows
        .iter()
        .filter(|r| r.action.is_none() || r.resource.is_none())
        .collect();
    for row in never {
        let missing = if row.action.is_none() {
            "Action"
        } else {
            "Resource"
        };
        let _ = writeln!(out, "\nnever applies: {} (no `{missing}`)", row.origin);
    }
    out
}

/// A principal element for people: `account 111122223333 (via IAM)`.
pub fn describe_principal(p: &PrincipalMatcher) -> String {
    match p {
        PrincipalMatcher::Attached => "the identity the policy is attached to".into(),
        PrincipalMatcher::Named { negated, any, ids } => {
            let list = if *any {
                "*".to_owned()
            } else {
                ids.iter()
                    .map(|p| match &p.id {
                        PrincipalId::Account(a) => format!("account {a} (via IAM)"),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if *negated {
                format!("everyone except {list}")
            } else {
                list
            }
        }
    }
}

/// Word-wraps text at `width` columns.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        if line > 0 && line + word.len() + 1 > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}
