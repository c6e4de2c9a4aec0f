//! Errors found while lowering a parsed document to a decision table.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::policy::Report;

#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum CompileError {
    #[error("statement in a key policy has no `Principal`")]
    #[diagnostic(
        code(keyward::missing_principal),
        help(
            "a key policy is a resource policy: every statement must name a `Principal` or `NotPrincipal`"
        )
    )]
    MissingPrincipal {
        #[label("this statement")]
        span: SourceSpan,
    },

    #[error("an identity policy cannot name a principal")]
    #[diagnostic(
        code(keyward::principal_in_identity_policy),
        help("an IAM policy applies to the identity it is attached to; remove `Principal`")
    )]
    PrincipalInIdentityPolicy {
        #[label("not allowed in an identity policy")]
        span: SourceSpan,
    },

    #[error("`{operator}` cannot compare `{value}`: {reason}")]
    #[diagnostic(code(keyward::bad_condition_value))]
    BadConditionValue {
        operator: String,
        value: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("invalid wildcard pattern `{pattern}`: {reason}")]
    #[diagnostic(code(keyward::bad_pattern))]
    BadPattern {
        pattern: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("grant operation `{name}` is not a KMS operation")]
    #[diagnostic(code(keyward::bad_grant_operation))]
    BadGrantOperation {
        name: String,
        #[label("unknown operation")]
        span: SourceSpan,
    },
}

/// Every problem that stops one document from compiling.
pub type CompileErrors = Report<CompileError>;
