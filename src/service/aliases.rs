//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde::Serialize;

use crate::scope::Scope;
use crate::store::AliasRecord;

use super::access::Reach;
use super::api::{ALIAS_NAME, KEY_ID, LIMIT, MARKER, request};
use super::fields::{Page, paginate};
use super::{Call, Empty, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

request! {
    /// CreateAlias.
    CreateAliasRequest {
        alias_name: req String = "AliasName" ALIAS_NAME,
        target_key_id: req String = "TargetKeyId" KEY_ID,
    }
}

request! {
    /// UpdateAlias.
    UpdateAliasRequest {
        alias_name: req String = "AliasName" ALIAS_NAME,
        target_key_id: req String = "TargetKeyId" KEY_ID,
    }
}

request! {
    /// DeleteAlias.
    DeleteAliasRequest { alias_name: req String = "AliasName" ALIAS_NAME }
}

request! {
    /// ListAliases.
    ListAliasesRequest {
        key_id: opt String = "KeyId" KEY_ID,
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
    }
}

/// An `AliasListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AliasEntry {
    alias_name: String,
    alias_arn: String,
    target_key_id: String,
    creation_date: i64,
    last_updated_date: i64,
}

/// How often UpdateAlias and DeleteAlias retry when the alias moves between
/// authorization and the write.
const ALIAS_RETRIES: usize = 8;

impl KeyService {
    /// Aliases live in the caller's account and Region; a caller without an
    /// account (a service principal) has none.
    fn alias_scope(&self, id: &Identity, name: &str) -> Result<Scope, KmsError> {
        self.caller_scope(id)
            .ok_or_else(|| KmsError::not_found(format!("Alias {name} is not found.")))
    }

    /// CreateAlias: one insert that fails when the name is taken in the
    /// caller's account and Region, so two racing calls cannot both win.
    pub(super) fn create_alias(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CreateAliasRequest,
    ) -> Result<Empty, KmsError> {
        let name = input.alias_name.as_str();
        check_alias_name(name)?;
        let scope = self.alias_scope(id, name)?;
        let (key, _) = self.resolve(id, &input.target_key_id, Reach::Own)?;
        self.authorize(
            call,
            id,
            &key,
            "CreateAlias",
            Need::NotPending,
            Facts::default(),
        )?;
        let now = self.now();
        let created = self.store.insert_alias(
            &scope,
            &AliasRecord {
                name: name.to_owned(),
                key_id: key.key_id.clone(),
                created: now,
                updated: now,
            },
            &mut self.journal(call, id),
        )?;
        if !created {
            return Err(KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "An alias with the name {} already exists",
                    scope.alias_arn(name)
                ),
            ));
        }
        Ok(Empty {})
    }

    /// UpdateAlias: authorized on the key the alias points to and on the new
    /// target, then re-pointed only if it still points where it did.
    pub(super) fn update_alias(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: UpdateAliasRequest,
    ) -> Result<Empty, KmsError> {
        let name = input.alias_name.as_str();
        check_alias_name(name)?;
        let scope = self.alias_scope(id, name)?;
        let (new, _) = self.resolve(id, &input.target_key_id, Reach::Own)?;
        for _ in 0..ALIAS_RETRIES {
            let alias = self
                .store
                .alias(&scope, name)?
                .ok_or_else(|| alias_not_found(&scope, name))?;
            let (old, _) = self.resolve(id, &alias.key_id, Reach::Own)?;
            self.authorize(call, id, &old, "UpdateAlias", Need::Any, Facts::default())?;
            self.authorize(
                call,
                id,
                &new,
                "UpdateAlias",
                Need::NotPending,
                Facts::default(),
            )?;
            if self.store.repoint_alias(
                &scope,
                name,
                &old.key_id,
                &new.key_id,
                self.now(),
                &mut self.journal(call, id),
            )? {
                return Ok(Empty {});
            }
        }
        Err(alias_contended(name))
    }

    pub(super) fn delete_alias(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DeleteAliasRequest,
    ) -> Result<Empty, KmsError> {
        let name = input.alias_name.as_str();
        let scope = self.alias_scope(id, name)?;
        for _ in 0..ALIAS_RETRIES {
            let alias = self
                .store
                .alias(&scope, name)?
                .ok_or_else(|| alias_not_found(&scope, name))?;
            let (key, _) = self.resolve(id, &alias.key_id, Reach::Own)?;
            self.authorize(call, id, &key, "DeleteAlias", Need::Any, Facts::default())?;
            if self
                .store
                .delete_alias(&scope, name, &key.key_id, &mut self.journal(call, id))?
            {
                return Ok(Empty {});
            }
        }
        Err(alias_contended(name))
    }

    /// ListAliases: the aliases of the caller's account and Region only.
    pub(super) fn list_aliases(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListAliasesRequest,
    ) -> Result<Page<AliasEntry>, KmsError> {
        let filter = match &input.key_id {
            Some(k) => Some(self.resolve(id, k, Reach::Own)?.0),
            None => None,
        };
        match &filter {
            Some(key) => {
                self.authorize(call, id, key, "ListAliases", Need::Any, Facts::default())?;
            }
            None => self.authorize_account(call, id, "ListAliases", Facts::default())?,
        }
        let items = match self.caller_scope(id) {
            None => Vec::new(),
            Some(scope) => self
                .store
                .aliases(&scope)?
                .into_iter()
                .filter(|a| filter.as_ref().is_none_or(|k| k.key_id == a.key_id))
                .map(|a| AliasEntry {
                    alias_arn: scope.alias_arn(&a.name),
                    alias_name: a.name,
                    target_key_id: a.key_id,
                    creation_date: a.created,
                    last_updated_date: a.updated,
                })
                .collect(),
        };
        paginate("Aliases", items, input.limit, input.marker.as_deref())
    }
}

/// AWS's NotFoundException for an alias.
pub(super) fn alias_not_found(scope: &Scope, name: &str) -> KmsError {
    KmsError::not_found(format!("Alias {} is not found.", scope.alias_arn(name)))
}

fn alias_contended(name: &str) -> KmsError {
    KmsError::new(
        ErrorKind::KmsInternal,
        format!("{name} kept changing while this request was authorized; retry"),
    )
}

/// The rules AWS applies to an alias name beyond the model's pattern.
pub(super) fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let rest = name.strip_prefix("alias/").ok_or_else(|| {
        KmsError::validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        )
    })?;
    if rest.starts_with("aws/") {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            "Aliases beginning with alias/aws/ are reserved for AWS managed keys",
        ));
    }
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "{name} contains invalid characters for an alias"
        )))
    }
}
