//! The findings `keyward check` reports, as linter rules.

use crate::lint::{Category, RuleInfo};

/// The findings `keyward check` reports, in the linter's rule format so the
/// same outputs (human, JSON, SARIF, GitHub) carry them.
pub static RULES: &[RuleInfo] = &[
    RuleInfo {
        code: "KC000",
        name: "undecided",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "Part of the request space was too large to decide exactly.",
        what: "Reports caller and action classes whose condition grid exceeds the analysis bound; the check fails with \"may\" rather than pass.",
        why: "A PASS must be a proof over all requests. Where keyward cannot decide, it says so and fails conservatively.",
        example: "",
    },
    RuleInfo {
        code: "KC001",
        name: "new-access",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "The new policy allows a request the old one denies.",
        what: "Compares two key policies (with their grants) over every class of request and reports a concrete request that only the new one allows.",
        why: "A key-policy change that opens decrypt to someone new is the change a reviewer most needs to see.",
        example: "",
    },
    RuleInfo {
        code: "KC002",
        name: "access-granted",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "A request for an action that must not be allowed is allowed.",
        what: "Reports a concrete request, for one of the actions (and principals) given, that the policy allows.",
        why: "Proves by example that an access you meant to rule out is possible.",
        example: "",
    },
    RuleInfo {
        code: "KC003",
        name: "public-access",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "A principal outside the key's account can use the key.",
        what: "Reports a concrete request from another account that the policy allows.",
        why: "Access from outside the account is the first thing to rule out for a key that protects private data.",
        example: "",
    },
    RuleInfo {
        code: "KC004",
        name: "key-use",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "The principal can use this key (blast radius).",
        what: "For `keyward check blast-radius`: the operations a principal can perform on a key, through which key policy statement (and IAM policy, when the key policy delegates to the account), and the encryption contexts that bind its cryptographic use.",
        why: "When a workload role is compromised, this is what its credentials open until they are revoked.",
        example: "",
    },
    RuleInfo {
        code: "KC005",
        name: "grant-held",
        category: Category::Security,
        kinds: crate::lint::kind::POLICIES,
        summary: "The principal holds a grant on this key (blast radius).",
        what: "For `keyward check blast-radius`: a grant whose grantee is the principal, with its operations and constraints.",
        why: "A grant works without any policy change: revoking it is part of containing a compromised role.",
        example: "",
    },
];
