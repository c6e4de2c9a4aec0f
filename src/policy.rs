//! Policy and grant documents: text → span-carrying JSON tree → AST.
//!
//! Parsing happens in two named stages, as in cedar-policy's parser:
//! [`cst`] runs the pest grammar (`grammar/policy.pest`) and produces a JSON
//! tree whose every node keeps its byte span; [`lower`] turns that tree into
//! the [`ast`], collecting every structural problem rather than stopping at
//! the first.

pub mod ast;
pub(crate) mod cst;
mod err;
mod lower;
pub mod snippet;

pub use lower::root_account;

use std::sync::Arc;

pub use err::{ParseError, ParseErrors, Report};

/// A byte range in a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

/// A value together with where it came from. Equality ignores the location,
/// so two ASTs parsed from differently formatted text compare equal.
#[derive(Debug, Clone)]
pub struct Node<T> {
    pub node: T,
    pub loc: Span,
}

impl<T> Node<T> {
    pub fn new(node: T, loc: Span) -> Self {
        Node { node, loc }
    }
}

impl<T: PartialEq> PartialEq for Node<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<T: Eq> Eq for Node<T> {}

/// The text of a document and the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.line_index().line_col(offset)
    }

    /// An index of line starts, for many `line_col` look-ups in one pass.
    pub fn line_index(&self) -> LineIndex<'_> {
        let starts = std::iter::once(0)
            .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            text: &self.text,
            starts,
            last: (0, 0, 1),
        }
    }
}

/// Byte offsets of the start of every line of a document.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last answer (line, offset, column): look-ups in increasing order
    /// on one long line (a minified policy) count only the new characters.
    last: (usize, usize, usize),
}

impl LineIndex<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let (last_line, last_offset, last_col) = self.last;
        let (from, base) = if last_line == line && last_offset <= offset {
            (last_offset, last_col)
        } else {
            (self.starts[line - 1], 1)
        };
        let col = base + self.text.get(from..offset).map_or(0, |s| s.chars().count());
        self.last = (line, offset, col);
        (line, col)
    }
}

/// A parsed document of either kind, recognised by its content.
#[derive(Debug, Clone)]
pub enum Document {
    Policy(ast::Policy),
    Grants(Vec<Node<ast::Grant>>),
}

/// Parses a policy document (key policy or IAM identity policy).
pub fn parse_policy(source: &Source) -> Result<ast::Policy, ParseErrors> {
    let tree = cst::parse(&source.text).map_err(|e| errors(source, vec![e]))?;
    lower::policy(&tree).map_err(|e| errors(source, e))
}

/// Parses one grant document, or a JSON array of them.
pub fn parse_grants(source: &Source) -> Result<Vec<Node<ast::Grant>>, ParseErrors> {
    let tree = cst::parse(&source.text).map_err(|e| errors(source, vec![e]))?;
    lower::grants(&tree).map_err(|e| errors(source, e))
}

/// Parses a document, deciding from its content whether it is a policy or
/// grants.
pub fn parse_document(source: &Source) -> Result<Document, ParseErrors> {
    let tree = cst::parse(&source.text).map_err(|e| errors(source, vec![e]))?;
    lower::document(&tree).map_err(|e| errors(source, e))
}

/// Parses a document whose only problems are repeated keys: the document
/// (each later value read) and those problems, for the linter to report
/// while it lints the rest.
pub fn parse_document_despite_duplicates(
    source: &Source,
) -> Result<(Document, Vec<ParseError>), ParseErrors> {
    parse_with_tree(source).map(|(_, doc, dups)| (doc, dups))
}

/// [`parse_document_despite_duplicates`], also giving the JSON tree as
/// written (for checks of the JSON itself, such as empty objects).
pub(crate) fn parse_with_tree(
    source: &Source,
) -> Result<(Node<cst::Json>, Document, Vec<ParseError>), ParseErrors> {
    let tree = cst::parse(&source.text).map_err(|e| errors(source, vec![e]))?;
    let (doc, dups) = lower::document_despite_duplicates(&tree).map_err(|e| errors(source, e))?;
    Ok((tree, doc, dups))
}

fn errors(source: &Source, errors: Vec<ParseError>) -> ParseErrors {
    ParseErrors::new(&source.name, source.text.clone(), errors)
}
