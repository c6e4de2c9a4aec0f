//! The data directory is its owner's alone: the directory 0700 and the root
//! key, the store (grant tokens), its WAL and the audit log (encryption
//! contexts) 0600, whatever the umask, including directories made by older
//! versions with looser modes.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keyward::service::{DataDir, KeyService};
use serde_json::json;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn used(dir: &Path) {
    let data = DataDir::new(dir);
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    svc.call(&crate::service::admin(), "CreateKey", &json!({}))
        .expect("create key");
    svc.sync().expect("sync");
    assert_eq!(mode(dir), 0o700, "data directory");
    for f in [
        "root.key",
        "keyward.db",
        "keyward.db-wal",
        "keyward.db-shm",
        "audit.jsonl",
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
}

#[test]
fn a_new_data_directory_is_private() {
    let dir = std::env::temp_dir().join(format!("keyward-files-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    used(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_older_loose_data_directory_is_tightened() {
    let dir = std::env::temp_dir().join(format!("keyward-files-old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    DataDir::new(&dir).init().expect("init");
    std::fs::write(dir.join("audit.jsonl"), b"").expect("audit");
    {
        let data = DataDir::new(&dir);
        let _svc = KeyService::open(&data, "us-east-1").expect("open");
    }
    let loose = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    loose(&dir, 0o755);
    for f in ["keyward.db", "audit.jsonl"] {
        loose(&dir.join(f), 0o644);
    }
    used(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}
