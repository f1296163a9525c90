//! Reading and writing a bundle's JSON files (and reading its CSV logs). Every write is atomic (speedcert-fsio), and
//! every error names the file.

use std::path::{Path, PathBuf};

use speedcert_fsio::{FsError, Mode};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Attest(#[from] speedcert_attest::Error),
    /// Raw files that contradict each other (a run of another track, a seed not the
    /// planned one, a log edited after its run): no summary can be computed from them.
    #[error("the bundle's files contradict each other:{}", problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Inconsistent {
        problems: Vec<crate::consistency::Problem>,
    },
}

impl BundleError {
    /// A file whose content is wrong, with what is wrong.
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        BundleError::Format {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// The `map_err` for an I/O failure on `path`, so every message names the file.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `value` as pretty JSON with a final newline; bundle files are public.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), BundleError> {
    let mut text =
        serde_json::to_vec_pretty(value).map_err(|e| BundleError::format(path, e.to_string()))?;
    text.push(b'\n');
    Ok(speedcert_fsio::write_atomic(path, &text, Mode::Public)?)
}

/// Writes raw bytes (a step log, a copied track) atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    Ok(speedcert_fsio::write_atomic(path, bytes, Mode::Public)?)
}

/// The largest JSON file of a bundle a reader loads (a plan of the most runs allowed is
/// well under 1 MiB): a verifier reads what others wrote, so size is capped before parsing.
pub const MAX_JSON_BYTES: u64 = 16 << 20;

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BundleError> {
    let bytes = speedcert_fsio::read_capped(path, MAX_JSON_BYTES, "MAX_JSON_BYTES")?;
    serde_json::from_slice(&bytes).map_err(|e| BundleError::format(path, e.to_string()))
}

/// Every row of the CSV file `path` (a run's steps.csv or gpu.csv), read no further than
/// `limit` bytes (`cap` names the limit in the error); errors name the file.
pub fn read_csv_rows<T: serde::de::DeserializeOwned>(
    path: &Path,
    limit: u64,
    cap: &'static str,
) -> Result<Vec<T>, String> {
    let bytes = speedcert_fsio::read_capped(path, limit, cap).map_err(|e| e.to_string())?;
    csv::Reader::from_reader(bytes.as_slice())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Creates run `index`'s folder (and `runs/`) and returns its path.
pub fn create_run_dir(bundle: &Path, index: usize) -> Result<PathBuf, BundleError> {
    let dir = crate::layout::run_dir(bundle, index);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

/// Writes a run's files; run.json goes last, so its presence marks a finished run.
/// `gpu_csv` is `None` where no GPU was sampled (the file then holds only its header).
/// Returns the run.json written: `record` with the digests of the two logs.
pub fn write_run(
    dir: &Path,
    record: &crate::run::RunRecord,
    steps: &crate::steps::StepLog,
    gpu_csv: Option<&[u8]>,
) -> Result<crate::run::RunRecord, BundleError> {
    use crate::layout;
    let steps_csv = steps.to_csv();
    let gpu_csv = gpu_csv.unwrap_or(crate::gpu::GPU_CSV_HEADER.as_bytes());
    write_bytes(&dir.join(layout::STEPS), &steps_csv)?;
    write_bytes(&dir.join(layout::GPU), gpu_csv)?;
    let record = crate::run::RunRecord {
        steps_sha256: Some(speedcert_fsio::sha256_bytes(&steps_csv)),
        gpu_sha256: Some(speedcert_fsio::sha256_bytes(gpu_csv)),
        ..record.clone()
    };
    write_json(&dir.join(layout::RUN), &record)?;
    Ok(record)
}

/// The first 12 characters of a hex digest, as messages name one (the whole value when
/// it is shorter).
pub(crate) fn short_digest(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// A DSSE envelope of `payload_type` holding a `T` (a journal seal, a ledger line), as
/// read before its signatures are checked: the envelope, its decoded payload and the
/// payload parsed. The error says which layer is wrong; the caller names the file.
pub fn open_envelope<T: serde::de::DeserializeOwned>(
    raw: &[u8],
    payload_type: &str,
    what: &str,
) -> Result<(speedcert_attest::Envelope, Vec<u8>, T), String> {
    let env = speedcert_attest::Envelope::from_json(raw)
        .map_err(|e| format!("not a DSSE envelope: {e:?}"))?;
    let body = env
        .decode_payload()
        .map_err(|e| format!("payload is not base64: {e}"))?;
    if env.payload_type != payload_type {
        return Err(format!(
            "payload type {:?}, expected {payload_type:?}",
            env.payload_type
        ));
    }
    let value = serde_json::from_slice(&body).map_err(|e| format!("payload is not {what}: {e}"))?;
    Ok((env, body, value))
}
