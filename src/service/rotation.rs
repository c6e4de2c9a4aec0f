//! Key rotation: automatic and on-demand rotations and their listing.

use serde_json::{Value, json};

use crate::crypto::Secret;
use crate::store::{Journal, KeyRecord, VersionRecord};

use super::access::Reach;
use super::fields::{in_range, int, page_response, paginate, required};
use super::{Call, Facts, Identity, KeyService, KmsError, Need};

impl KeyService {
    pub(super) fn rotate(
        &self,
        key: &mut KeyRecord,
        kind: &str,
        journal: &mut dyn Journal,
    ) -> Result<(), KmsError> {
        let version = key.current_version + 1;
        let material = Secret::random(32);
        let sealed = self
            .root
            .seal(&key.key_id, version, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let now = self.now();
        key.current_version = version;
        if let Some(days) = key.rotation_period_days {
            key.next_rotation = Some(now + days * 86_400);
        }
        self.store.add_version(
            key,
            &VersionRecord {
                version,
                sealed,
                created: now,
                kind: kind.to_owned(),
            },
            journal,
        )?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
    }

    pub(super) fn enable_rotation(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        enable: bool,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        if enable {
            let days = int(input, "RotationPeriodInDays")?.unwrap_or(365);
            self.authorize(
                call,
                id,
                &key,
                "EnableKeyRotation",
                Need::Usable,
                Facts::one("kms:RotationPeriodInDays", days.to_string()),
            )?;
            in_range(days, 90, 2560, "rotationPeriodInDays")?;
            key.rotation_period_days = Some(days);
            key.next_rotation = Some(self.now() + days * 86_400);
        } else {
            self.authorize(
                call,
                id,
                &key,
                "DisableKeyRotation",
                Need::Usable,
                Facts::default(),
            )?;
            key.rotation_period_days = None;
            key.next_rotation = None;
        }
        self.save_key(&key, &mut self.journal(call, id, input))?;
        Ok(json!({}))
    }

    pub(super) fn rotation_status(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let key = self.authorized_key(call, id, input, "GetKeyRotationStatus", Need::Any)?;
        let mut out =
            json!({"KeyId": key.arn, "KeyRotationEnabled": key.rotation_period_days.is_some()});
        if let (Some(o), Some(days)) = (out.as_object_mut(), key.rotation_period_days) {
            o.insert("RotationPeriodInDays".into(), json!(days));
            o.insert("NextRotationDate".into(), json!(key.next_rotation));
        }
        Ok(out)
    }

    pub(super) fn rotate_on_demand(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let mut key = self.authorized_key(call, id, input, "RotateKeyOnDemand", Need::Usable)?;
        self.rotate(&mut key, "ON_DEMAND", &mut self.journal(call, id, input))?;
        Ok(json!({ "KeyId": key.arn }))
    }

    pub(super) fn list_rotations(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let key = self.authorized_key(call, id, input, "ListKeyRotations", Need::Any)?;
        let items: Vec<Value> = self
            .store
            .versions(&key)?
            .into_iter()
            .filter(|v| v.version > 1)
            .map(|v| json!({"KeyId": key.arn, "RotationDate": v.created, "RotationType": v.kind}))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Rotations", page, next))
    }
}
