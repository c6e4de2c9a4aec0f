//! Where a service keeps its files: the store, the root key and the audit log.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::crypto::RootKey;

use super::KmsError;

/// The files of a data directory.
pub struct DataDir {
    pub root: PathBuf,
    audit: Option<PathBuf>,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir {
            root: root.into(),
            audit: None,
        }
    }

    /// Writes the audit log somewhere other than the data directory.
    pub fn with_audit_log(mut self, path: impl Into<PathBuf>) -> DataDir {
        self.audit = Some(path.into());
        self
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("keyward.db")
    }

    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }

    pub fn audit_log(&self) -> PathBuf {
        self.audit
            .clone()
            .unwrap_or_else(|| self.root.join("audit.jsonl"))
    }

    /// Creates the directory and a new root key (mode 0600) if there is none;
    /// `true` when a key was created.
    pub fn init(&self) -> Result<bool, KmsError> {
        let io = |e: std::io::Error| KmsError::internal(format!("{}: {e}", self.root.display()));
        crate::files::private_dir(&self.root).map_err(io)?;
        let path = self.root_key();
        if path.exists() {
            return Ok(false);
        }
        let key = RootKey::generate();
        write_private(&path, B64.encode(key.expose()).as_bytes()).map_err(io)?;
        Ok(true)
    }

    /// The root key: `KEYWARD_ROOT_KEY` (base64) if set, else the key file.
    pub fn load_root_key(&self) -> Result<RootKey, KmsError> {
        let text = match std::env::var("KEYWARD_ROOT_KEY") {
            Ok(v) if !v.is_empty() => v,
            _ => std::fs::read_to_string(self.root_key()).map_err(|e| {
                KmsError::internal(format!(
                    "cannot read the root key {}: {e} (run `keyward init`)",
                    self.root_key().display()
                ))
            })?,
        };
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| KmsError::internal("the root key is not base64"))?;
        RootKey::from_bytes(bytes).map_err(|e| KmsError::internal(format!("root key: {e}")))
    }
}

/// Writes a new file readable by its owner only (mode 0600), durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::files::private_options()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
