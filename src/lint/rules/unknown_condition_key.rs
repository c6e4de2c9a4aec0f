//! KW102: a condition key that AWS does not define.

use super::{conditions, statements};
use crate::catalog::{self, CONDITION_KEYS};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW102",
    name: "unknown-condition-key",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A `kms:` or `aws:` condition key that does not exist.",
    what: "Checks every `kms:` and `aws:` condition key against the keys AWS KMS and IAM define \
           (case-insensitively, as AWS compares them) and suggests the closest one.",
    why: "An unknown key is never present in a request. A positive condition on it is always \
          false (an `Allow` that never works); a negated one is always true (a `Deny` that \
          applies to everything, or an `Allow` that is not narrowed at all).",
    example: include_str!("../../../policies/lint/KW102-unknown-condition-key.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let key = c.node.key.node.0.as_str();
            let Some((prefix, _)) = key
                .split_once(':')
                .filter(|(p, n)| !p.is_empty() && !n.is_empty())
            else {
                let mut f = Finding::new(
                    &RULE,
                    c.node.key.loc,
                    format!("`{key}` is not a condition key: keys read `service:name`"),
                )
                .label("no service prefix");
                if let Some(s) =
                    suggest(&format!("kms:{key}")).or_else(|| suggest(&format!("aws:{key}")))
                {
                    f = f.help(format!("did you mean `{s}`?"));
                }
                out.push(f);
                continue;
            };
            if !(prefix.eq_ignore_ascii_case("kms") || prefix.eq_ignore_ascii_case("aws")) {
                continue;
            }
            if catalog::condition_key(key).is_some() {
                continue;
            }
            let mut f = Finding::new(
                &RULE,
                c.node.key.loc,
                format!("unknown condition key `{key}`"),
            )
            .label("no such key");
            if let Some(s) = suggest(key) {
                f = f.help(format!("did you mean `{s}`?"));
            }
            out.push(f);
        }
    }
}

/// The closest known key; for a family (`kms:EncryptionContext:`) the
/// family's prefix with the rest of the key kept.
fn suggest(key: &str) -> Option<String> {
    let plain = CONDITION_KEYS.iter().filter(|k| !k.family).map(|k| k.name);
    if let Some(s) = catalog::closest(key, plain) {
        return Some(s.to_owned());
    }
    CONDITION_KEYS.iter().filter(|k| k.family).find_map(|k| {
        let separator = k.name.chars().last()?;
        let segments = k.name.matches(separator).count();
        let mut cut = 0;
        for (i, c) in key.char_indices() {
            if c == separator {
                cut += 1;
                if cut == segments {
                    let (head, rest) = key.split_at(i + 1);
                    return catalog::closest(head, std::iter::once(k.name))
                        .map(|p| format!("{p}{rest}"));
                }
            }
        }
        None
    })
}
