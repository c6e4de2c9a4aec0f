//! The values of condition keys in a request. A request borrows what it
//! can from what it is about (the caller, the key, the call's input), so
//! building one for a common call copies next to nothing.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A string value in a request: borrowed, shared with other requests (a
/// formatted second, an address), or owned.
#[derive(Clone)]
pub enum Text<'a> {
    Borrowed(&'a str),
    Shared(Arc<str>),
    Owned(String),
}

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Shared(s) => s,
            Text::Owned(s) => s,
        }
    }

    /// The same text, owning what it borrowed.
    pub fn into_owned(self) -> Text<'static> {
        match self {
            Text::Borrowed(s) => Text::Owned(s.to_owned()),
            Text::Shared(s) => Text::Shared(s),
            Text::Owned(s) => Text::Owned(s),
        }
    }

    /// The same text, borrowed from `self`.
    pub fn borrowed(&self) -> Text<'_> {
        match self {
            Text::Shared(s) => Text::Shared(s.clone()),
            other => Text::Borrowed(other.as_str()),
        }
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text<'_> {}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text::Borrowed(s)
    }
}

impl<'a> From<&'a String> for Text<'a> {
    fn from(s: &'a String) -> Self {
        Text::Borrowed(s)
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text::Owned(s)
    }
}

impl From<Arc<str>> for Text<'_> {
    fn from(s: Arc<str>) -> Self {
        Text::Shared(s)
    }
}

/// The value of a condition key in a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum ContextValue<'a> {
    One(Text<'a>),
    Many(Vec<Text<'a>>),
}

impl<'a> From<&'a str> for ContextValue<'a> {
    fn from(s: &'a str) -> Self {
        ContextValue::One(Text::Borrowed(s))
    }
}

impl<'a> ContextValue<'a> {
    pub fn one(value: impl Into<Text<'a>>) -> Self {
        ContextValue::One(value.into())
    }

    pub fn many<T: Into<Text<'a>>>(values: impl IntoIterator<Item = T>) -> Self {
        ContextValue::Many(values.into_iter().map(Into::into).collect())
    }

    pub fn as_slice(&self) -> &[Text<'a>] {
        match self {
            ContextValue::One(s) => std::slice::from_ref(s),
            ContextValue::Many(v) => v,
        }
    }

    /// The same value, owning what it borrowed.
    pub fn into_owned(self) -> ContextValue<'static> {
        match self {
            ContextValue::One(s) => ContextValue::One(s.into_owned()),
            ContextValue::Many(v) => {
                ContextValue::Many(v.into_iter().map(Text::into_owned).collect())
            }
        }
    }

    /// The same value, borrowed from `self` (a list is still one copy of
    /// its references).
    pub fn borrowed(&self) -> ContextValue<'_> {
        match self {
            ContextValue::One(s) => ContextValue::One(s.borrowed()),
            ContextValue::Many(v) => ContextValue::Many(v.iter().map(Text::borrowed).collect()),
        }
    }
}

/// A condition key's value as the evaluator reads it, borrowed from the
/// request (which derives most keys only when a policy asks for them).
#[derive(Debug, Clone, Copy)]
pub enum Values<'r> {
    One(&'r str),
    Many(&'r [Text<'r>]),
    /// A multi-valued key with one value (a service's
    /// `aws:PrincipalServiceNamesList`).
    List(&'r str),
    /// The keys of the encryption context.
    Keys(&'r std::collections::BTreeMap<String, String>),
}

impl<'r> Values<'r> {
    pub fn len(&self) -> usize {
        match self {
            Values::One(_) | Values::List(_) => 1,
            Values::Many(v) => v.len(),
            Values::Keys(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value, when there is exactly one.
    pub fn only(&self) -> Option<&'r str> {
        match self {
            Values::One(s) | Values::List(s) => Some(s),
            Values::Many([one]) => Some(one.as_str()),
            Values::Many(_) => None,
            Values::Keys(m) if m.len() == 1 => m.keys().next().map(String::as_str),
            Values::Keys(_) => None,
        }
    }

    pub fn iter(&self) -> ValuesIter<'r> {
        match *self {
            Values::One(s) | Values::List(s) => ValuesIter::One(Some(s)),
            Values::Many(v) => ValuesIter::Many(v.iter()),
            Values::Keys(m) => ValuesIter::Keys(m.keys()),
        }
    }

    /// The value, owned, as an explanation records it.
    pub fn to_owned(&self) -> ContextValue<'static> {
        match self {
            Values::One(s) => ContextValue::One(Text::Owned((*s).to_owned())),
            _ => ContextValue::Many(self.iter().map(|s| Text::Owned(s.to_owned())).collect()),
        }
    }

    /// The value, borrowing what it can.
    pub fn to_value(&self) -> ContextValue<'r> {
        match *self {
            Values::One(s) => ContextValue::One(Text::Borrowed(s)),
            _ => ContextValue::Many(self.iter().map(Text::Borrowed).collect()),
        }
    }
}

/// The values of a [`Values`].
pub enum ValuesIter<'r> {
    One(Option<&'r str>),
    Many(std::slice::Iter<'r, Text<'r>>),
    Keys(std::collections::btree_map::Keys<'r, String, String>),
}

impl<'r> Iterator for ValuesIter<'r> {
    type Item = &'r str;

    fn next(&mut self) -> Option<&'r str> {
        match self {
            ValuesIter::One(s) => s.take(),
            ValuesIter::Many(it) => it.next().map(Text::as_str),
            ValuesIter::Keys(it) => it.next().map(String::as_str),
        }
    }
}

impl<'a> ContextValue<'a> {
    /// A view of the value.
    pub fn values(&self) -> Values<'_> {
        match self {
            ContextValue::One(s) => Values::One(s.as_str()),
            ContextValue::Many(v) => Values::Many(v),
        }
    }
}
