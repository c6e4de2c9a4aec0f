//! Stage one: text → JSON tree with spans (pest).

use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;

use super::{Node, ParseError, Span};

#[derive(Parser)]
#[grammar = "../grammar/policy.pest"]
struct PolicyParser;

/// How deep objects and arrays may nest. Real policies nest four levels
/// (document → Statement → Condition → operator → key); the bound keeps
/// pest's recursive descent far from the stack limit on hostile input.
pub const MAX_DEPTH: usize = 32;

/// A JSON value as written, with spans on every node.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Object(Vec<Member>),
    Array(Vec<Node<Json>>),
    String(String),
    /// The literal text of a number, as AWS compares condition values as text.
    Number(String),
    Bool(bool),
    Null,
}

/// One `"key": value` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: Node<String>,
    pub value: Node<Json>,
}

impl Json {
    /// The name of this kind of value, for messages ("an object", "a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Object(_) => "an object",
            Json::Array(_) => "an array",
            Json::String(_) => "a string",
            Json::Number(_) => "a number",
            Json::Bool(_) => "a boolean",
            Json::Null => "null",
        }
    }
}

/// Parses `text` as one JSON document.
pub fn parse(text: &str) -> Result<Node<Json>, ParseError> {
    check_depth(text)?;
    let mut pairs = PolicyParser::parse(Rule::document, text).map_err(pest_error)?;
    let document = pairs
        .next()
        .ok_or_else(|| ParseError::json("empty document", Span::new(0, 0)))?;
    let value = document
        .into_inner()
        .find(|p| p.as_rule() != Rule::EOI)
        .ok_or_else(|| ParseError::json("expected a JSON value", Span::new(0, 0)))?;
    build(value)
}

/// Rejects documents nested deeper than [`MAX_DEPTH`] before pest sees them.
fn check_depth(text: &str) -> Result<(), ParseError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::TooDeep {
                        max: MAX_DEPTH,
                        span: Span::new(i, i + 1).into(),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn pest_error(e: pest::error::Error<Rule>) -> ParseError {
    let span = match e.location {
        pest::error::InputLocation::Pos(p) => Span::new(p, p),
        pest::error::InputLocation::Span((s, end)) => Span::new(s, end),
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            expected.sort_unstable();
            expected.dedup();
            if expected.is_empty() {
                "unexpected input".to_owned()
            } else {
                format!("expected {}", expected.join(" or "))
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    ParseError::json(message, span)
}

fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of input",
        Rule::object => "an object",
        Rule::member | Rule::string => "a string",
        Rule::array => "an array",
        Rule::number => "a number",
        Rule::true_lit | Rule::false_lit => "a boolean",
        Rule::null => "null",
        Rule::document | Rule::value => "a JSON value",
        Rule::escape => "a character",
        Rule::WHITESPACE => return None,
    })
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn build(pair: Pair<'_, Rule>) -> Result<Node<Json>, ParseError> {
    let loc = span_of(&pair);
    let json = match pair.as_rule() {
        Rule::object => {
            let mut members = Vec::new();
            for member in pair.into_inner() {
                let mut inner = member.into_inner();
                let (Some(key), Some(value)) = (inner.next(), inner.next()) else {
                    // INVARIANT: the grammar's `member` is `string ~ ":" ~ value`.
                    return Err(ParseError::json("malformed member", loc));
                };
                let key_loc = span_of(&key);
                members.push(Member {
                    key: Node::new(unescape(key)?, key_loc),
                    value: build(value)?,
                });
            }
            Json::Object(members)
        }
        Rule::array => Json::Array(pair.into_inner().map(build).collect::<Result<_, _>>()?),
        Rule::string => Json::String(unescape(pair)?),
        Rule::number => Json::Number(pair.as_str().to_owned()),
        Rule::true_lit => Json::Bool(true),
        Rule::false_lit => Json::Bool(false),
        Rule::null => Json::Null,
        _ => return Err(ParseError::json("unexpected token", loc)),
    };
    Ok(Node::new(json, loc))
}

/// Decodes the escapes of a `string` pair, surrogate pairs included.
fn unescape(pair: Pair<'_, Rule>) -> Result<String, ParseError> {
    let loc = span_of(&pair);
    let raw = pair.as_str();
    let raw = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if !raw.bytes().any(|b| b == b'\\' || b < b' ') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    let bad = |m: &str| ParseError::json(m, loc);
    while let Some(c) = chars.next() {
        if c < ' ' {
            return Err(bad("control character in a string; escape it"));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hi = hex4(&mut chars).ok_or_else(|| bad("bad \\u escape"))?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    let (Some('\\'), Some('u')) = (chars.next(), chars.next()) else {
                        return Err(bad("lone high surrogate in \\u escape"));
                    };
                    let lo = hex4(&mut chars).ok_or_else(|| bad("bad \\u escape"))?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(bad("invalid surrogate pair in \\u escape"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(
                    char::from_u32(code).ok_or_else(|| bad("lone low surrogate in \\u escape"))?,
                );
            }
            _ => return Err(bad("bad escape")),
        }
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}
