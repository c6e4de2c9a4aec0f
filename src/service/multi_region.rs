//! Multi-Region keys: ReplicateKey and UpdatePrimaryRegion.
//!
//! A multi-Region key is a set of related keys, one per Region, sharing a
//! key id (`mrk-…`), key material, key spec, usage, origin and rotation;
//! each has its own key policy, description, tags, aliases, grants and
//! state. A ciphertext names only the key id and version, so it decrypts
//! under the related key of any Region.

use std::sync::Arc;

use serde::Serialize;

use crate::store::{KeyRecord, KeyState, VersionRecord};

use super::access::Reach;
use super::api::types::Tag;
use super::api::{DESCRIPTION, KEY_ID, POLICY, REGION, Rule, request};
use super::keys::{creation_facts, default_policy};
use super::metadata::KeyMetadata;
use super::rotation::not_primary;
use super::tags::{check_tags, tag_facts};
use super::{Call, Empty, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, Need};
use crate::scope::Region;

request! {
    /// ReplicateKey.
    ReplicateKeyRequest {
        key_id: req String = "KeyId" KEY_ID,
        replica_region: req String = "ReplicaRegion" REGION,
        policy: opt String = "Policy" POLICY,
        bypass_policy_lockout_safety_check: opt bool =
            "BypassPolicyLockoutSafetyCheck" Rule::Boolean,
        description: opt String = "Description" DESCRIPTION,
        tags: opt Vec<Tag> = "Tags" super::api::TAGS,
    }
}

request! {
    /// UpdatePrimaryRegion.
    UpdatePrimaryRegionRequest {
        key_id: req String = "KeyId" KEY_ID,
        primary_region: req String = "PrimaryRegion" REGION,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReplicateKeyResponse {
    replica_key_metadata: KeyMetadata,
    replica_policy: String,
    replica_tags: Vec<Tag>,
}

/// The primary of a multi-Region key, or AWS's refusal.
fn primary_only(key: &KeyRecord) -> Result<(), KmsError> {
    if !key.is_multi_region() {
        return Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!("{} is not a multi-Region key.", key.arn),
        ));
    }
    if key.is_replica() {
        return Err(not_primary(key));
    }
    Ok(())
}

impl KeyService {
    /// A Region this keyward serves, or AWS's refusal.
    fn served_region(&self, name: &str) -> Result<Region, KmsError> {
        Region::parse(name)
            .filter(|r| self.regions.contains(r))
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::UnsupportedOperation,
                    format!("Region {name} is not served by this keyward, so it cannot hold a replica key."),
                )
            })
    }

    pub(super) fn replicate_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ReplicateKeyRequest,
    ) -> Result<ReplicateKeyResponse, KmsError> {
        let (primary, _) = self.resolve(id, &input.key_id, Reach::Own)?;
        self.authorize(
            call,
            id,
            &primary,
            "ReplicateKey",
            Need::Any,
            Facts::one("kms:ReplicaRegion", input.replica_region.clone()),
        )?;
        primary_only(&primary)?;
        match primary.state {
            KeyState::Disabled => {
                return Err(KmsError::new(
                    ErrorKind::Disabled,
                    format!("{} is disabled.", primary.arn),
                ));
            }
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => {
                return Err(KmsError::new(
                    ErrorKind::KmsInvalidState,
                    format!("{} is pending deletion.", primary.arn),
                ));
            }
            KeyState::Enabled | KeyState::PendingImport => {}
        }
        let region = self.served_region(&input.replica_region)?;
        let exists = || {
            KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "A multi-Region key with key ID {} already exists in {region}.",
                    primary.key_id
                ),
            )
        };
        if region == primary.scope.region {
            return Err(exists());
        }
        // The replica is created in its Region: the caller's IAM policies
        // there must allow CreateKey (and TagResource for tags).
        let tags = input.tags.unwrap_or_default();
        let there = Identity {
            region: Some(region.clone()),
            ..id.clone()
        };
        let mut extra = creation_facts(
            &primary.key_spec,
            &primary.key_usage,
            &primary.origin,
            Some("REPLICA"),
        );
        extra.extend(tag_facts(&tags));
        let bypass = input.bypass_policy_lockout_safety_check.unwrap_or(false);
        extra.push((
            "kms:BypassPolicyLockoutSafetyCheck".into(),
            crate::eval::ContextValue::one(bypass.to_string()),
        ));
        self.authorize_account(
            call,
            &there,
            "CreateKey",
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        check_tags(&tags, &[])?;
        let scope = primary.scope.with_region(region.clone());
        let imported = primary.is_imported();
        let replica = KeyRecord {
            key_id: primary.key_id.clone(),
            arn: scope.key_arn(&primary.key_id),
            description: input.description.unwrap_or_default(),
            state: if imported {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            created: self.now(),
            deletion_date: None,
            pending_window_days: None,
            policy: input
                .policy
                .unwrap_or_else(|| default_policy(&scope.account.0)),
            scope,
            ..primary.clone()
        };
        let tables = Arc::new(KeyTables {
            policy: Arc::new(self.check_new_policy(&there, &replica, &replica.policy, bypass)?),
            grants: Arc::default(),
        });
        if !tags.is_empty() {
            self.authorize_with(
                call,
                &there,
                &replica,
                &tables,
                "TagResource",
                Need::Any,
                Facts {
                    extra: tag_facts(&tags),
                    ..Facts::default()
                },
            )?;
        }
        // The replica holds the same material, every version of it; a
        // replica of imported material waits for the same material to be
        // imported into it.
        let versions: Vec<VersionRecord> = self
            .store
            .versions(&primary)?
            .into_iter()
            .map(|v| {
                if imported {
                    VersionRecord {
                        sealed: None,
                        expiration_model: None,
                        valid_to: None,
                        ..v
                    }
                } else {
                    v
                }
            })
            .collect();
        call.resources
            .push((replica.scope.account.0.clone(), replica.arn.clone()));
        let tag_pairs: Vec<(String, String)> = tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        let since = self.cache.since();
        if !self
            .store
            .insert_key(&replica, &versions, &tag_pairs, &mut self.journal(call, id))?
        {
            return Err(exists());
        }
        self.cache.drop_records(&replica.key_id);
        self.cache.put_tables(&replica, tables, since);
        Ok(ReplicateKeyResponse {
            replica_key_metadata: self.metadata(&replica)?,
            replica_policy: replica.policy,
            replica_tags: tags,
        })
    }

    pub(super) fn update_primary_region(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: UpdatePrimaryRegionRequest,
    ) -> Result<Empty, KmsError> {
        let (primary, _) = self.resolve(id, &input.key_id, Reach::Own)?;
        let facts = || Facts::one("kms:PrimaryRegion", input.primary_region.clone());
        self.authorize(
            call,
            id,
            &primary,
            "UpdatePrimaryRegion",
            Need::Any,
            facts(),
        )?;
        primary_only(&primary)?;
        let region = self.served_region(&input.primary_region)?;
        if region == primary.scope.region {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("{} is already the primary key.", primary.arn),
            ));
        }
        let scope = primary.scope.with_region(region.clone());
        let replica = self.load_key(&scope, &primary.key_id)?.ok_or_else(|| {
            KmsError::not_found(format!(
                "Key '{}' does not exist",
                scope.key_arn(&primary.key_id)
            ))
        })?;
        // The replica's own key policy must allow it too.
        self.authorize(
            call,
            id,
            &replica,
            "UpdatePrimaryRegion",
            Need::Any,
            facts(),
        )?;
        for k in [&primary, &replica] {
            match k.state {
                KeyState::Enabled => {}
                KeyState::Disabled => {
                    return Err(KmsError::new(
                        ErrorKind::Disabled,
                        format!("{} is disabled.", k.arn),
                    ));
                }
                other => {
                    return Err(KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{} is in state {}.", k.arn, other.as_str()),
                    ));
                }
            }
        }
        self.store.set_primary_region(
            &primary.scope.account,
            &primary.key_id,
            &region,
            &mut self.journal(call, id),
        )?;
        self.cache.drop_records(&primary.key_id);
        Ok(Empty {})
    }
}
