//! The SQL both stores speak: statements are written once, with SQLite's
//! numbered parameters (`?1`), in the subset of SQL that SQLite and
//! PostgreSQL (and the engines that speak PostgreSQL's protocol) share;
//! values and rows cross as [`Val`] and [`Row`], so that a record is read
//! and written by one function whichever database holds it.

use super::StoreError;

/// A parameter.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What becomes a parameter.
pub(super) trait ToVal {
    fn val(&self) -> Val<'_>;
}

impl ToVal for str {
    fn val(&self) -> Val<'_> {
        Val::Text(self)
    }
}

impl ToVal for String {
    fn val(&self) -> Val<'_> {
        Val::Text(self)
    }
}

impl ToVal for [u8] {
    fn val(&self) -> Val<'_> {
        Val::Blob(self)
    }
}

impl ToVal for Vec<u8> {
    fn val(&self) -> Val<'_> {
        Val::Blob(self)
    }
}

impl ToVal for i64 {
    fn val(&self) -> Val<'_> {
        Val::Int(*self)
    }
}

impl ToVal for u32 {
    fn val(&self) -> Val<'_> {
        Val::Int(i64::from(*self))
    }
}

impl<T: ToVal + ?Sized> ToVal for &T {
    fn val(&self) -> Val<'_> {
        (**self).val()
    }
}

impl<T: ToVal> ToVal for Option<T> {
    fn val(&self) -> Val<'_> {
        self.as_ref().map_or(Val::Null, ToVal::val)
    }
}

/// The parameters of one statement.
macro_rules! vals {
    ($($v:expr),* $(,)?) => {
        [$($crate::store::sql::ToVal::val(&$v)),*]
    };
}
pub(super) use vals;

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row(pub(super) Vec<Cell>);

impl Row {
    /// Column `i` as a `T`.
    pub(super) fn get<T: FromCell>(&self, i: usize) -> Result<T, StoreError> {
        let cell = self.0.get(i).unwrap_or(&Cell::Null);
        T::from_cell(cell)
            .ok_or_else(|| StoreError::new(format!("column {i}: unexpected value {cell:?}")))
    }
}

/// What a column is read as.
pub(super) trait FromCell: Sized {
    fn from_cell(c: &Cell) -> Option<Self>;
}

impl FromCell for i64 {
    fn from_cell(c: &Cell) -> Option<i64> {
        match c {
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromCell for u32 {
    fn from_cell(c: &Cell) -> Option<u32> {
        i64::from_cell(c).and_then(|i| u32::try_from(i).ok())
    }
}

impl FromCell for bool {
    fn from_cell(c: &Cell) -> Option<bool> {
        i64::from_cell(c).map(|i| i != 0)
    }
}

impl FromCell for String {
    fn from_cell(c: &Cell) -> Option<String> {
        match c {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(c: &Cell) -> Option<Vec<u8>> {
        match c {
            Cell::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(c: &Cell) -> Option<Option<T>> {
        match c {
            Cell::Null => Some(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

/// PostgreSQL's spelling of a statement: `?N` becomes `$N`. The store's
/// statements hold no `?` other than parameters.
pub(super) fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars() {
        assert_eq!(
            postgres_placeholders("SELECT a FROM t WHERE a=?1 AND b=?12 AND c='?'"),
            "SELECT a FROM t WHERE a=$1 AND b=$12 AND c='?'"
        );
    }

    #[test]
    fn cells_read_as_their_types_and_nothing_else() {
        let row = Row(vec![
            Cell::Int(7),
            Cell::Null,
            Cell::Text("x".into()),
            Cell::Int(-1),
        ]);
        assert_eq!(row.get::<i64>(0).ok(), Some(7));
        assert_eq!(row.get::<Option<String>>(1).ok(), Some(None));
        assert_eq!(row.get::<String>(2).ok().as_deref(), Some("x"));
        assert!(row.get::<String>(0).is_err());
        assert!(row.get::<u32>(3).is_err(), "a negative version is refused");
        assert!(row.get::<i64>(9).is_err(), "a missing column is refused");
    }
}
