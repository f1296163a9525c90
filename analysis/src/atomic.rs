//! Atomic file output. A reader (a web server, `git diff`, a second `rebuild`) must
//! never see a half-written runs.csv, so every file is written to a temporary file in
//! the same folder and renamed over the target, which POSIX makes atomic.

use std::io::Write;
use std::path::Path;

use crate::error::{AnalysisError, Result};

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| AnalysisError::io(parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".speedcert-")
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(|e| AnalysisError::io(parent, e))?;
    // tempfile creates 0600 files; published tables and pages are meant to be read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| AnalysisError::io(tmp.path(), e))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| AnalysisError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| AnalysisError::io(path, e.error))?;
    Ok(())
}
