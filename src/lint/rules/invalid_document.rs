//! KW001: the document does not parse or compile.

use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW001",
    name: "invalid-document",
    category: Category::Error,
    kinds: kind::ALL,
    summary: "The document is not valid JSON, or not a valid policy or grant.",
    what: "Reports every problem the parser and compiler find: malformed JSON, duplicate keys \
           in one object, values of the wrong type, unknown elements, an `Effect` other than \
           `Allow` or `Deny`, unknown condition operators, a key-policy statement without a \
           principal.",
    why: "AWS rejects such a document (MalformedPolicyDocumentException), or — worse, for \
          duplicate keys — different parsers keep different values, so what you reviewed is \
          not what is enforced.",
    example: include_str!("../../../policies/lint/KW001-invalid-document.json"),
};

/// Parse and compile errors are turned into findings before the rules run.
pub fn check(_: &Context<'_>, _: &mut Vec<Finding>) {}
