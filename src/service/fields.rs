//! Paged responses (`Limit`, `Marker`, `NextMarker`, `Truncated`) and small
//! helpers shared by the operation families.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{ErrorKind, KmsError};

/// One page of a listing, serialized as AWS does: the items under the
/// operation's member name, `NextMarker` when more follow, `Truncated`.
pub(super) struct Page<T> {
    field: &'static str,
    items: Vec<T>,
    next: Option<String>,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(self.field, &self.items)?;
        if let Some(n) = &self.next {
            m.serialize_entry("NextMarker", n)?;
        }
        m.serialize_entry("Truncated", &self.next.is_some())?;
        m.end()
    }
}

/// The page of `items` that `limit` (default 100; the model bounds it to
/// 1–1000) and `marker` (from an earlier page) select.
pub(super) fn paginate<T>(
    field: &'static str,
    mut items: Vec<T>,
    limit: Option<i64>,
    marker: Option<&str>,
) -> Result<Page<T>, KmsError> {
    let limit = usize::try_from(limit.unwrap_or(100)).unwrap_or(100);
    let start = match marker {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid"))?,
        None => 0,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    items.truncate(end);
    let items = items.split_off(start);
    Ok(Page { field, items, next })
}

pub(super) fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// A fresh random UUID (version 4) for a record's `eventID` or
/// `requestID`, from the thread's CSPRNG rather than a system call.
pub(super) fn request_uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}
