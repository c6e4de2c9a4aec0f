//! Tags: TagResource, UntagResource, ListResourceTags, and the tag rules
//! CreateKey shares (AWS's TagException texts).

use std::collections::BTreeSet;

use crate::eval::ContextValue;

use super::access::Reach;
use super::api::types::Tag;
use super::api::{KEY_ID, LIMIT, MARKER, Rule, TAG_KEY, TAGS, request};
use super::fields::{Page, paginate};
use super::{Call, Empty, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

/// The most tags one key may carry.
const MAX_TAGS: usize = 50;

request! {
    /// TagResource.
    TagResourceRequest {
        key_id: req String = "KeyId" KEY_ID,
        tags: req Vec<Tag> = "Tags" TAGS,
    }
}

request! {
    /// UntagResource.
    UntagResourceRequest {
        key_id: req String = "KeyId" KEY_ID,
        tag_keys: req Vec<String> = "TagKeys" Rule::list(&TAG_KEY),
    }
}

request! {
    /// ListResourceTags.
    ListResourceTagsRequest {
        key_id: req String = "KeyId" KEY_ID,
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
    }
}

impl KeyService {
    pub(super) fn tag_resource(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: TagResourceRequest,
    ) -> Result<Empty, KmsError> {
        let (key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        self.authorize(
            call,
            id,
            &key,
            "TagResource",
            Need::NotPending,
            Facts {
                extra: tag_facts(&input.tags),
                ..Facts::default()
            },
        )?;
        let existing: Vec<String> = self.store.tags(&key)?.into_iter().map(|(k, _)| k).collect();
        check_tags(&input.tags, &existing)?;
        let tags: Vec<(String, String)> =
            input.tags.into_iter().map(|t| (t.key, t.value)).collect();
        self.store
            .set_tags(&key, &tags, &mut self.journal(call, id))?;
        Ok(Empty {})
    }

    pub(super) fn untag_resource(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: UntagResourceRequest,
    ) -> Result<Empty, KmsError> {
        let (key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        self.authorize(
            call,
            id,
            &key,
            "UntagResource",
            Need::NotPending,
            Facts {
                extra: vec![(
                    "aws:TagKeys".into(),
                    ContextValue::many(input.tag_keys.clone()),
                )],
                ..Facts::default()
            },
        )?;
        if input.tag_keys.iter().any(|k| reserved(k)) {
            return Err(reserved_error());
        }
        self.store
            .remove_tags(&key, &input.tag_keys, &mut self.journal(call, id))?;
        Ok(Empty {})
    }

    pub(super) fn list_resource_tags(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListResourceTagsRequest,
    ) -> Result<Page<Tag>, KmsError> {
        let key = self.authorized_key(call, id, &input.key_id, "ListResourceTags", Need::Any)?;
        let items = self
            .store
            .tags(&key)?
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect();
        paginate("Tags", items, input.limit, input.marker.as_deref())
    }
}

/// The request facts tags bring: `aws:TagKeys` and `aws:RequestTag/…`.
pub(super) fn tag_facts(tags: &[Tag]) -> Vec<(String, ContextValue<'static>)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut extra = vec![(
        "aws:TagKeys".to_owned(),
        ContextValue::many(tags.iter().map(|t| t.key.clone())),
    )];
    for t in tags {
        extra.push((
            format!("aws:RequestTag/{}", t.key),
            ContextValue::one(t.value.clone()),
        ));
    }
    extra
}

/// AWS's tag rules: no key twice in one request, no key beginning `aws:`
/// (in any case), and at most fifty tags on a key, counting `existing`.
pub(super) fn check_tags(tags: &[Tag], existing: &[String]) -> Result<(), KmsError> {
    let mut seen = BTreeSet::new();
    if !tags.iter().all(|t| seen.insert(t.key.as_str())) {
        return Err(KmsError::new(ErrorKind::Tag, "Duplicate tag keys"));
    }
    if tags.iter().any(|t| reserved(&t.key)) {
        return Err(reserved_error());
    }
    seen.extend(existing.iter().map(String::as_str));
    if seen.len() > MAX_TAGS {
        return Err(KmsError::new(ErrorKind::Tag, "Too many tags"));
    }
    Ok(())
}

fn reserved(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn reserved_error() -> KmsError {
    KmsError::new(ErrorKind::Tag, "Tags beginning with aws: are reserved")
}
