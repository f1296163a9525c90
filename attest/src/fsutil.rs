//! Atomic file writes: a temp file in the destination's folder, written, synced, then
//! renamed over (or linked into) place, so a reader never sees half a key or half an
//! envelope, and a crash leaves the old file intact.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// How to treat an existing file at the destination.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Existing {
    Replace,
    /// Fail with [`Error::KeyExists`]: used for keys, which must never be clobbered.
    Refuse,
}

/// Write `bytes` to `path` atomically, creating it with Unix `mode` (before umask).
///
/// The temp file is created with `mode` from the start, so a private key is never
/// readable by others, not even for an instant.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32, existing: Existing) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".speedcert-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(tmp.path(), e))?;
    match existing {
        Existing::Replace => {
            tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        }
        Existing::Refuse => {
            tmp.persist_noclobber(path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::KeyExists { path: path.into() }
                } else {
                    Error::io(path, e.error)
                }
            })?;
        }
    }
    // Make the rename itself durable; a failure here loses nothing already written.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
