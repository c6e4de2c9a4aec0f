//! KW112: a `kms:ViaService` value that is not `SERVICE.REGION.amazonaws.com`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW112",
    name: "via-service-format",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "`kms:ViaService` values have the form `SERVICE.REGION.amazonaws.com`.",
    what: "Checks each `kms:ViaService` value: a service name, a region, and \
           `amazonaws.com` (or `amazonaws.com.cn`), where `Like` operators may use wildcards.",
    why: "KMS sets `kms:ViaService` to the service's regional endpoint, e.g. \
          `ec2.us-east-1.amazonaws.com`. A value such as `ec2.amazonaws.com` (a service \
          principal, not an endpoint) never matches, so an `Allow` never works and a \
          `StringNotEquals` deny blocks the service too.",
    example: include_str!("../../../policies/lint/KW112-via-service-format.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            if !c.node.key.node.0.eq_ignore_ascii_case("kms:ViaService") {
                continue;
            }
            let op = c.node.operator.node.base;
            if op == BaseOperator::Null {
                continue;
            }
            let like = matches!(op, BaseOperator::StringLike | BaseOperator::StringNotLike);
            for v in &c.node.values {
                if !well_formed(&v.node, like) {
                    out.push(
                        Finding::new(&RULE, v.loc, format!("`{}` is not a service endpoint", v.node))
                            .label("expected SERVICE.REGION.amazonaws.com")
                            .help("e.g. `ec2.us-east-1.amazonaws.com`; with `StringLike`, `ec2.*.amazonaws.com`"),
                    );
                }
            }
        }
    }
}

fn well_formed(value: &str, like: bool) -> bool {
    let rest = value
        .strip_suffix(".amazonaws.com")
        .or_else(|| value.strip_suffix(".amazonaws.com.cn"));
    let Some(rest) = rest else { return false };
    let mut parts = rest.split('.');
    let label_ok = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || c == '-'
                    || (like && (c == '*' || c == '?'))
            })
    };
    match (parts.next(), parts.next(), parts.next()) {
        (Some(service), Some(region), None) => label_ok(service) && label_ok(region),
        _ => false,
    }
}
