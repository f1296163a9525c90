//! Writes that never leave a partial file under its final name: data goes to a temp
//! file in the same folder (so the rename cannot cross file systems), is fsynced, and
//! is renamed over the final name; on any error the temp is removed.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an atomic write failed, naming the final file (the temp is already gone).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct AtomicWriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp name beside `path`, unique within this process and across processes.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `path` through `fill`, atomically: readers see the old file or the whole new
/// one, never a prefix. The writer is buffered; `fill` need not flush.
pub fn write_atomic<T>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<T>,
) -> Result<T, AtomicWriteError> {
    let wrap = |source| AtomicWriteError {
        path: path.to_owned(),
        source,
    };
    let tmp = temp_path_for(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let value = {
            let mut w = BufWriter::with_capacity(1 << 20, &file);
            let value = fill(&mut w)?;
            w.flush()?;
            value
        };
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        Ok(value)
    })();
    match result {
        Ok(v) => {
            sync_dir(path);
            Ok(v)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(wrap(e))
        }
    }
}

/// Makes a rename durable by syncing the folder; best effort (not every platform can
/// open a folder for syncing, and the data itself is already on disk).
pub fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err::<(), _>(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.bin"), "{err}");
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old", "old content is kept");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp removed: {names:?}");
    }

    #[test]
    fn a_good_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_error_names_the_file_and_removes_the_temp() {
        // /dev/full fails every write with ENOSPC; write through a closure that copies
        // into it to get the real error kind without filling a disk.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard.bin");
        let err = write_atomic(&path, |w| {
            w.write_all(&[0u8; 16])?;
            let mut full = File::options().write(true).open("/dev/full")?;
            full.write_all(&[0u8; 4096])?;
            full.flush()
        })
        .unwrap_err();
        assert_eq!(err.source.raw_os_error(), Some(28), "ENOSPC: {err}");
        assert!(err.to_string().contains("shard.bin"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
