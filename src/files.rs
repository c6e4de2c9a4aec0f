//! Files that hold secrets or tenants' data (the root key, the store with
//! its grant tokens, the audit log with encryption contexts, identities):
//! created readable by their owner only, whatever the umask, in a directory
//! only the owner can list.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Options that create a file with mode 0600.
pub fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Makes an existing file (if there is one) readable by its owner only.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    set_mode(path, 0o600)
}

/// Creates a directory (and its parents) with mode 0700, or restricts an
/// existing one to its owner.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)?;
    set_mode(path, 0o700)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Makes a directory's entries (a file created, renamed or removed in it)
/// durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}
