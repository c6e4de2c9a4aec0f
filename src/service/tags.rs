//! Tags: TagResource, UntagResource, ListResourceTags.

use serde_json::{Value, json};

use crate::eval::ContextValue;

use super::access::Reach;
use super::fields::{page_response, paginate, required, strings};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

impl KeyService {
    pub(super) fn tag_resource(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let tags = tag_list(input)?;
        let mut extra = vec![(
            "aws:TagKeys".to_owned(),
            ContextValue::Many(tags.iter().map(|(k, _)| k.clone()).collect()),
        )];
        for (k, v) in &tags {
            extra.push((format!("aws:RequestTag/{k}"), ContextValue::One(v.clone())));
        }
        self.authorize(
            call,
            id,
            &key,
            "TagResource",
            Need::NotPending,
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        self.store
            .set_tags(&key, &tags, &mut self.journal(call, id, input))?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let keys = strings(input, "TagKeys")?;
        self.authorize(
            call,
            id,
            &key,
            "UntagResource",
            Need::NotPending,
            Facts {
                extra: vec![("aws:TagKeys".into(), ContextValue::Many(keys.clone()))],
                ..Facts::default()
            },
        )?;
        self.store
            .remove_tags(&key, &keys, &mut self.journal(call, id, input))?;
        Ok(json!({}))
    }

    pub(super) fn list_resource_tags(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let key = self.authorized_key(call, id, input, "ListResourceTags", Need::Any)?;
        let items: Vec<Value> = self
            .store
            .tags(&key)?
            .into_iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Tags", page, next))
    }
}

pub(super) fn tag_list(input: &Value) -> Result<Vec<(String, String)>, KmsError> {
    match input.get("Tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                let k = t.get("TagKey").and_then(Value::as_str);
                let v = t.get("TagValue").and_then(Value::as_str);
                match (k, v) {
                    (Some(k), Some(v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(KmsError::validation("each tag needs a TagKey (1-128 characters) and a TagValue (0-256 characters)")),
                }
            })
            .collect(),
        Some(_) => Err(KmsError::new(ErrorKind::Serialization, "`Tags` must be an array")),
    }
}
