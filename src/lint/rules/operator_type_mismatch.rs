//! KW103: a condition operator that does not fit its key's type, or a value
//! that does not fit its operator.

use super::{conditions, statements};
use crate::catalog::{self, KeyType};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::OperatorFamily;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW103",
    name: "operator-type-mismatch",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A condition operator compares a key of another type, or a value it cannot read.",
    what: "Checks that each operator fits the type AWS gives its key (`Numeric*` on numeric \
           keys, `Date*` on dates, `Bool` on booleans, `IpAddress` on IP addresses, `String*` \
           on strings, `Arn*` or `String*` on ARNs) and that every value parses for its \
           operator: a number, an ISO 8601 date, `true`/`false`, a CIDR block.",
    why: "A mismatched operator never matches: the request value does not parse as the \
          operator's type. An `Allow` then never works and a `Deny` never applies — or, for a \
          negated operator, applies to everything.",
    example: include_str!("../../../policies/lint/KW103-operator-type-mismatch.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            let key = &c.node.key.node.0;
            let Some(info) = catalog::condition_key(key) else {
                continue;
            };
            let family = op.base.family();
            if fits(info.name, info.ty, family) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    c.node.operator.loc,
                    format!(
                        "`{op}` cannot compare `{key}`, a {} key",
                        type_name(info.ty)
                    ),
                )
                .label(format!("{} operator", family_name(family)))
                .help(format!("use {} with `{key}`", operators_for(info.ty))),
            );
        }
    }
}

fn fits(name: &str, ty: KeyType, family: OperatorFamily) -> bool {
    use OperatorFamily as F;
    if family == F::Null {
        return true;
    }
    match ty {
        // AWS's own examples compare ARN-valued string keys (such as
        // `kms:EncryptionContext:aws:logs:arn`) with `ArnLike`.
        KeyType::String => matches!(family, F::String | F::Arn),
        KeyType::ArrayOfString => family == F::String,
        KeyType::Arn => matches!(family, F::Arn | F::String),
        KeyType::Bool => family == F::Bool,
        KeyType::Numeric => family == F::Numeric,
        // AWS documents aws:EpochTime as Date or Numeric, and its own
        // kms:ValidTo example compares the expiry (Unix seconds) with
        // `NumericLessThanEquals`.
        KeyType::Date => {
            family == F::Date
                || (matches!(name, "aws:EpochTime" | "kms:ValidTo") && family == F::Numeric)
        }
        KeyType::IpAddress => family == F::Ip,
    }
}

fn type_name(ty: KeyType) -> &'static str {
    match ty {
        KeyType::String => "String",
        KeyType::Arn => "ARN",
        KeyType::Bool => "Bool",
        KeyType::Numeric => "Numeric",
        KeyType::Date => "Date",
        KeyType::IpAddress => "IP address",
        KeyType::ArrayOfString => "multivalued String",
    }
}

fn family_name(f: OperatorFamily) -> &'static str {
    match f {
        OperatorFamily::String => "a String",
        OperatorFamily::Numeric => "a Numeric",
        OperatorFamily::Date => "a Date",
        OperatorFamily::Bool => "a Bool",
        OperatorFamily::Binary => "a Binary",
        OperatorFamily::Ip => "an IP address",
        OperatorFamily::Arn => "an ARN",
        OperatorFamily::Null => "a Null",
    }
}

fn operators_for(ty: KeyType) -> &'static str {
    match ty {
        KeyType::String => {
            "`StringEquals`, `StringLike` and their variants (or `ArnLike` for ARN values)"
        }
        KeyType::ArrayOfString => {
            "`ForAnyValue:`/`ForAllValues:` with `StringEquals` or `StringLike`"
        }
        KeyType::Arn => "`ArnEquals`/`ArnLike` (or the String operators)",
        KeyType::Bool => "`Bool`",
        KeyType::Numeric => "`NumericEquals`, `NumericLessThan` and their variants",
        KeyType::Date => "`DateEquals`, `DateLessThan` and their variants",
        KeyType::IpAddress => "`IpAddress` or `NotIpAddress`",
    }
}
