//! The data directory's settings (where its root key is) and moving every
//! sealed record to another root key in one transaction.

use super::sql::vals;
use super::{Journal, Store, StoreError};

/// The setting that names a data directory's root key: a PKCS#11 URI
/// (without PIN); absent for the root key file.
pub const ROOT_KEY: &str = "root-key";

/// One sealed record, as [`Store::reseal_all`] hands it over.
pub enum Sealed<'a> {
    /// Key material of one key version.
    Material {
        key_id: &'a str,
        version: u32,
        sealed: &'a [u8],
    },
    /// One of keyward's own keys, or a custom key store's password.
    Internal { purpose: &'a str, sealed: &'a [u8] },
}

/// The purpose a custom key store's password is sealed for.
pub fn password_purpose(account: &str, region: &str, id: &str) -> String {
    format!("custom-key-store-password\0{account}\0{region}\0{id}")
}

impl Store {
    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.row(
            "SELECT value FROM settings WHERE name = ?1",
            &vals![name],
            |r| r.get(0),
        )
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.session()?.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &vals![name, value],
        )?;
        Ok(())
    }

    /// Replaces every record sealed under the root key by what `reseal`
    /// makes of it, and sets `setting` to `value`, in one transaction: a
    /// crash leaves either every record under the old root or every record
    /// under the new one. Custom key store keys hold a label in their token,
    /// not sealed material, and are left alone. The change is recorded by
    /// `journal` when there is an audit log to record it in. The number of
    /// records.
    pub fn reseal_all(
        &self,
        reseal: &dyn Fn(Sealed<'_>) -> Result<Vec<u8>, String>,
        setting: &str,
        value: &str,
        journal: Option<&mut dyn Journal>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin()?;
        let mut count = 0;
        let versions = tx.query(
            "SELECT v.account, v.region, v.key_id, v.version, v.sealed FROM key_versions v
             JOIN keys k ON k.account = v.account AND k.region = v.region AND k.key_id = v.key_id
             WHERE v.sealed IS NOT NULL AND k.custom_key_store_id IS NULL",
            &[],
        )?;
        for r in versions {
            let (account, region, key_id, version, sealed): (String, String, String, u32, Vec<u8>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let new = reseal(Sealed::Material {
                key_id: &key_id,
                version,
                sealed: &sealed,
            })
            .map_err(|e| StoreError::new(format!("key {key_id} version {version}: {e}")))?;
            tx.execute(
                "UPDATE key_versions SET sealed = ?5
                 WHERE account = ?1 AND region = ?2 AND key_id = ?3 AND version = ?4",
                &vals![account, region, key_id, version, new],
            )?;
            count += 1;
        }
        let internal = tx.query("SELECT purpose, sealed FROM internal_keys", &[])?;
        for r in internal {
            let (purpose, sealed): (String, Vec<u8>) = (r.get(0)?, r.get(1)?);
            let new = reseal(Sealed::Internal {
                purpose: &purpose,
                sealed: &sealed,
            })
            .map_err(|e| StoreError::new(format!("{purpose}: {e}")))?;
            tx.execute(
                "UPDATE internal_keys SET sealed = ?2 WHERE purpose = ?1",
                &vals![purpose, new],
            )?;
            count += 1;
        }
        let passwords = tx.query(
            "SELECT account, region, id, password FROM custom_key_stores",
            &[],
        )?;
        for r in passwords {
            let (account, region, id, sealed): (String, String, String, Vec<u8>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let purpose = password_purpose(&account, &region, &id);
            let new = reseal(Sealed::Internal {
                purpose: &purpose,
                sealed: &sealed,
            })
            .map_err(|e| StoreError::new(format!("custom key store {id}: {e}")))?;
            tx.execute(
                "UPDATE custom_key_stores SET password = ?4 WHERE account = ?1 AND region = ?2 AND id = ?3",
                &vals![account, region, id, new],
            )?;
            count += 1;
        }
        tx.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &vals![setting, value],
        )?;
        tx.changes_everything();
        match journal {
            Some(j) => self.commit(tx, j)?,
            None => tx.commit()?,
        }
        Ok(count)
    }
}
