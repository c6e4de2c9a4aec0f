//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde_json::{Value, json};

use crate::store::AliasRecord;

use super::fields::{page_response, paginate, required, s};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

impl KeyService {
    pub(super) fn create_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        check_alias_name(name)?;
        let (key, _) = self.resolve(required(input, "TargetKeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "CreateAlias",
            Need::NotPending,
            Facts::default(),
        )?;
        if self.store.alias(name)?.is_some() {
            return Err(KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "An alias with the name {} already exists",
                    alias_arn(&self.region, &key.account, name)
                ),
            ));
        }
        let now = self.now();
        self.store.put_alias(&AliasRecord {
            name: name.to_owned(),
            key_id: key.key_id.clone(),
            created: now,
            updated: now,
        })?;
        Ok(json!({}))
    }

    pub(super) fn update_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        check_alias_name(name)?;
        let mut alias = self
            .store
            .alias(name)?
            .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
        let (old, _) = self.resolve(&alias.key_id)?;
        let (new, _) = self.resolve(required(input, "TargetKeyId")?)?;
        self.authorize(call, id, &old, "UpdateAlias", Need::Any, Facts::default())?;
        self.authorize(
            call,
            id,
            &new,
            "UpdateAlias",
            Need::NotPending,
            Facts::default(),
        )?;
        alias.key_id = new.key_id;
        alias.updated = self.now();
        self.store.put_alias(&alias)?;
        Ok(json!({}))
    }

    pub(super) fn delete_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        let alias = self
            .store
            .alias(name)?
            .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
        let (key, _) = self.resolve(&alias.key_id)?;
        self.authorize(call, id, &key, "DeleteAlias", Need::Any, Facts::default())?;
        self.store.delete_alias(name)?;
        Ok(json!({}))
    }

    pub(super) fn list_aliases(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let filter = match s(input, "KeyId")? {
            Some(k) => Some(self.resolve(k)?.0),
            None => None,
        };
        match &filter {
            Some(key) => {
                self.authorize(call, id, key, "ListAliases", Need::Any, Facts::default())?;
            }
            None => self.authorize_account(call, id, "ListAliases", Facts::default())?,
        }
        let mut items = Vec::new();
        for a in self.store.aliases()? {
            if filter.as_ref().is_some_and(|k| k.key_id != a.key_id) {
                continue;
            }
            let account = match self.load_key(&a.key_id)? {
                Some(k) => k.account,
                None => continue,
            };
            items.push(json!({
                "AliasName": a.name, "AliasArn": alias_arn(id.region.as_deref().unwrap_or(&self.region), &account, &a.name),
                "TargetKeyId": a.key_id, "CreationDate": a.created, "LastUpdatedDate": a.updated
            }));
        }
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Aliases", page, next))
    }
}

/// `alias/NAME` or `arn:aws:kms:REGION:ACCOUNT:alias/NAME` → `alias/NAME`.
pub(super) fn alias_name(key_id: &str) -> Option<String> {
    if key_id.starts_with("alias/") {
        return Some(key_id.to_owned());
    }
    key_id
        .rsplit_once(":alias/")
        .map(|(_, n)| format!("alias/{n}"))
}

pub(super) fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

pub(super) fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let rest = name.strip_prefix("alias/").ok_or_else(|| {
        KmsError::validation(format!(
            "Alias must start with the prefix \"alias/\": {name}"
        ))
    })?;
    if rest.starts_with("aws/") {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            "Aliases beginning with alias/aws/ are reserved for AWS managed keys",
        ));
    }
    let ok = !rest.is_empty()
        && name.len() <= 256
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )))
    }
}
