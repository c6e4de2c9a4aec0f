//! KW101: an action that is not an AWS KMS action.

use super::statements;
use crate::catalog::{self, ACTIONS};
use crate::compile::actions_named;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW101",
    name: "unknown-action",
    category: Category::Error,
    kinds: kind::ALL,
    summary: "An `Action` or `NotAction` entry names no AWS KMS action.",
    what: "Checks every `kms:` entry of `Action` and `NotAction` against the full list of KMS \
           permissions, wildcards included, and suggests the closest action for a typo. Entries \
           with a comma or whitespace never match anything, as in AWS.",
    why: "A misspelt action matches nothing: in an `Allow` the access silently never works; in \
          a `Deny` the protection silently never applies; in a `NotAction` the exclusion is \
          lost and the statement covers more than intended.",
    example: include_str!("../../../policies/lint/KW101-unknown-action.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(action) = &s.node.action else {
            continue;
        };
        for pattern in &action.node.actions {
            let text = pattern.node.0.as_str();
            if text.chars().any(|c| c == ',' || c.is_whitespace()) {
                out.push(
                    Finding::new(&RULE, pattern.loc, format!("`{text}` is not one action"))
                        .label("contains a comma or whitespace")
                        .help("list each action as its own string: [\"kms:Decrypt\", \"kms:Encrypt\"]"),
                );
                continue;
            }
            if text == "*" || !actions_named(text).is_empty() {
                continue;
            }
            let (service, name) = text.split_once(':').unwrap_or(("", text));
            let kms = service.eq_ignore_ascii_case("kms");
            let misspelt_kms = !kms && misspells_kms(service);
            if misspelt_kms {
                out.push(
                    Finding::new(
                        &RULE,
                        pattern.loc,
                        format!("`{service}` is not an AWS service"),
                    )
                    .label("no such service")
                    .help(format!("did you mean `kms:{name}`?")),
                );
                continue;
            }
            if !kms && !service.is_empty() {
                // Another service's action: normal in an IAM policy.
                continue;
            }
            let suggestion = catalog::closest(name, ACTIONS.iter().map(|a| a.name)).or_else(|| {
                ACTIONS
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                    .map(|a| a.name)
            });
            let mut f = Finding::new(
                &RULE,
                pattern.loc,
                format!("`{text}` is not an AWS KMS action"),
            )
            .label("no KMS action matches");
            if let Some(s) = suggestion {
                f = f.help(format!("did you mean `kms:{s}`?"));
            } else if service.is_empty() {
                f = f.help("actions are written `SERVICE:Action`, e.g. `kms:Decrypt`");
            }
            out.push(f);
        }
    }
}

/// A service name that is `kms` with its letters swapped (`ksm`, `mks`) or
/// one letter added (`kmss`, `kkms`, `kms2`): a misspelt KMS. (Names one
/// letter *different* are real services: `dms`, `ams`.)
fn misspells_kms(service: &str) -> bool {
    let s = service.to_ascii_lowercase();
    let mut letters: Vec<char> = s.chars().collect();
    letters.sort_unstable();
    let swapped = s.len() == 3 && letters == ['k', 'm', 's'] && s != "kms" && s != "msk";
    let mut want = "kms".chars().peekable();
    for c in s.chars() {
        if want.peek() == Some(&c) {
            want.next();
        }
    }
    let added = s.len() == 4 && want.peek().is_none();
    swapped || added
}

#[cfg(test)]
mod tests {
    use super::misspells_kms;

    #[test]
    fn misspelt_kms() {
        for s in ["ksm", "mks", "kmss", "KMSS", "kkms", "kms2"] {
            assert!(misspells_kms(s), "{s}");
        }
        for s in [
            "kms", "dms", "ams", "ecs", "sqs", "s3", "msk", "kafka", "iam",
        ] {
            assert!(!misspells_kms(s), "{s}");
        }
    }
}
