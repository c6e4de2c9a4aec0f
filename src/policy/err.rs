//! Errors found while reading a policy or grant document.

use std::sync::Arc;

use miette::{Diagnostic, SourceSpan};

use super::snippet::Snippet;
use thiserror::Error;

use super::Span;

/// One problem in a document, pointing at the bytes that caused it.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum ParseError {
    #[error("invalid JSON: {message}")]
    #[diagnostic(code(keyward::json))]
    Json {
        message: String,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("document nests deeper than {max} levels")]
    #[diagnostic(code(keyward::too_deep))]
    TooDeep {
        max: usize,
        #[label("too deep from here")]
        span: SourceSpan,
    },

    #[error("duplicate key `{key}` in one object")]
    #[diagnostic(
        code(keyward::duplicate_key),
        help("AWS rejects a policy whose object repeats a key; merge the two values")
    )]
    DuplicateKey {
        key: String,
        #[label("repeated here")]
        span: SourceSpan,
        #[label("first here")]
        first: SourceSpan,
    },

    #[error("`{element}` must be {expected}, found {found}")]
    #[diagnostic(code(keyward::wrong_type))]
    WrongType {
        element: String,
        expected: &'static str,
        found: &'static str,
        #[label("this is {found}")]
        span: SourceSpan,
    },

    #[error("unknown element `{name}` in {context}")]
    #[diagnostic(code(keyward::unknown_element))]
    UnknownElement {
        name: String,
        context: &'static str,
        #[label("not a {context} element")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("missing `{name}` in {context}")]
    #[diagnostic(code(keyward::missing_element))]
    MissingElement {
        name: &'static str,
        context: &'static str,
        #[label("this {context} has no `{name}`")]
        span: SourceSpan,
    },

    #[error("`{first}` and `{second}` cannot appear in the same statement")]
    #[diagnostic(code(keyward::conflicting_elements))]
    Conflict {
        first: &'static str,
        second: &'static str,
        #[label("`{second}` here")]
        span: SourceSpan,
        #[label("`{first}` here")]
        other: SourceSpan,
    },

    #[error("`Effect` must be `Allow` or `Deny`, found `{found}`")]
    #[diagnostic(code(keyward::bad_effect), help("`Effect` is case-sensitive"))]
    BadEffect {
        found: String,
        #[label("not an effect")]
        span: SourceSpan,
    },

    #[error("unsupported policy `Version` `{found}`")]
    #[diagnostic(
        code(keyward::bad_version),
        help("use `2012-10-17` (or the legacy `2008-10-17`)")
    )]
    BadVersion {
        found: String,
        #[label("not a policy language version")]
        span: SourceSpan,
    },

    #[error("unknown condition operator `{name}`")]
    #[diagnostic(code(keyward::unknown_operator))]
    UnknownOperator {
        name: String,
        #[label("not a condition operator")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid principal: {reason}")]
    #[diagnostic(code(keyward::bad_principal))]
    BadPrincipal {
        reason: String,
        #[label("not a valid principal")]
        span: SourceSpan,
    },

    #[error("`{element}` must not be empty")]
    #[diagnostic(code(keyward::empty))]
    Empty {
        element: String,
        #[label("empty")]
        span: SourceSpan,
    },

    #[error("invalid condition value for `{operator}`: {reason}")]
    #[diagnostic(code(keyward::bad_condition_value))]
    BadConditionValue {
        operator: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("`{name}` is not an operation a grant can allow")]
    #[diagnostic(code(keyward::bad_grant_operation))]
    BadGrantOperation {
        name: String,
        #[label("not a grant operation")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid grant constraint: {reason}")]
    #[diagnostic(code(keyward::bad_grant_constraint))]
    BadGrantConstraint {
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("document is neither a policy nor a grant")]
    #[diagnostic(
        code(keyward::unknown_document),
        help(
            "a policy has a `Statement`; a grant has `GranteePrincipal` and `Operations`; a list of grants is a JSON array of grants"
        )
    )]
    UnknownDocument {
        #[label("this document")]
        span: SourceSpan,
    },
}

impl ParseError {
    pub(crate) fn json(message: impl Into<String>, span: Span) -> Self {
        ParseError::Json {
            message: message.into(),
            span: span.into(),
        }
    }
}

/// Every problem found in one document, with the document's text so that a
/// report can show each span in context. Parsing and compiling both report
/// through it.
#[derive(Debug, Clone, Error)]
#[error("{} in `{name}`", count(.errors.len()))]
pub struct Report<E> {
    name: String,
    src: Snippet,
    errors: Vec<E>,
}

/// The problems that stop a document from parsing.
pub type ParseErrors = Report<ParseError>;

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

impl<E> Report<E> {
    pub fn new(name: &str, text: Arc<str>, errors: Vec<E>) -> Self {
        Report {
            name: name.to_owned(),
            src: Snippet::new(name, text),
            errors,
        }
    }

    /// The problems, in document order.
    pub fn errors(&self) -> &[E] {
        &self.errors
    }
}

impl<E: Diagnostic + std::fmt::Debug + Send + Sync + 'static> Diagnostic for Report<E> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("keyward::invalid_document"))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}
