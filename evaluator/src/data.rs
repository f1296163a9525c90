//! The harness's side of data: the sources behind the training stream a submission pulls
//! batches from (the stream itself is the contract's, in `speedcert-sdk`), and the
//! validation slices only the harness reads. Token storage itself (shards, the synthetic corpus) lives in `speedcert-data`.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use speedcert_bundle::run::{DataShard, HeldoutWindow};
use speedcert_data::synthetic::{SyntheticSpec, SyntheticStream};

pub use speedcert_sdk::stream::{Batch, Dealer, StreamError, TokenSource, TrainStream};

/// The synthetic corpus as a training source (a wrapper: the contract crate does not know
/// the corpus).
pub struct SyntheticSource(pub SyntheticStream);

impl TokenSource for SyntheticSource {
    fn fill(&mut self, out: &mut [u16]) -> Result<(), StreamError> {
        self.0.fill(out);
        Ok(())
    }
}

/// A validation slice: non-overlapping windows of `seq_len` inputs with shifted targets.
#[derive(Debug, Clone)]
pub struct EvalSet {
    tokens: Vec<u16>,
    seq_len: usize,
}

impl EvalSet {
    /// The first `n_tokens` (rounded down to whole windows) of a token sequence.
    pub fn from_tokens(mut tokens: Vec<u16>, seq_len: usize, n_tokens: u64) -> Self {
        let windows = (n_tokens as usize / seq_len).min(tokens.len().saturating_sub(1) / seq_len);
        tokens.truncate(windows * seq_len + 1);
        Self { tokens, seq_len }
    }

    pub fn synthetic(spec: &SyntheticSpec, seed: u64, n_tokens: u64, seq_len: usize) -> Self {
        let mut stream = SyntheticStream::new(spec, seed).expect("track validated the language");
        let windows = n_tokens as usize / seq_len;
        Self::from_tokens(stream.take_tokens(windows * seq_len + 1), seq_len, n_tokens)
    }

    pub fn windows(&self) -> usize {
        self.tokens.len().saturating_sub(1) / self.seq_len
    }

    /// Predicted tokens in the whole slice.
    pub fn target_tokens(&self) -> u64 {
        (self.windows() * self.seq_len) as u64
    }

    pub fn tokens(&self) -> &[u16] {
        &self.tokens
    }

    /// Windows `start..start + n` as `(inputs, targets)`.
    pub fn batch<B: Backend>(
        &self,
        start: usize,
        n: usize,
        device: &B::Device,
    ) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
        let t = self.seq_len;
        let mut inputs = Vec::with_capacity(n * t);
        let mut targets = Vec::with_capacity(n * t);
        for w in start..start + n {
            let s = &self.tokens[w * t..w * t + t + 1];
            inputs.extend(s[..t].iter().map(|&x| x as i32));
            targets.extend(s[1..].iter().map(|&x| x as i32));
        }
        (
            Tensor::from_data(TensorData::new(inputs, [n, t]), device),
            Tensor::from_data(TensorData::new(targets, [n, t]), device),
        )
    }
}

/// The training token source of a track, and the shards checked before any clock
/// starts (none for a synthetic track), as run.json `data` records them.
pub fn train_source(
    track: &crate::track::Track,
) -> Result<(Box<dyn TokenSource>, Vec<DataShard>), String> {
    match &track.spec.data {
        crate::track::DataSpec::Synthetic(s) => Ok((
            Box::new(SyntheticSource(
                SyntheticStream::new(&s.language, s.train_seed).map_err(|e| e.to_string())?,
            )),
            Vec::new(),
        )),
        crate::track::DataSpec::Shards(d) => shards::train_source(d),
    }
}

/// The public validation slice, and the held-out one with where it was read in a held-out
/// shard (run.json `heldout_window`; `None` when it follows the public slice).
pub type EvalSets = (EvalSet, Option<(EvalSet, Option<HeldoutWindow>)>);

/// Validation slices of a shard track: the public slice is the first
/// `validation.tokens` of the val shards; the held-out slice is drawn from the track's
/// held-out shard at the offset `heldout_seed` gives (with where it was read), or, on a
/// track without one, the tokens after the public slice.
pub fn shard_eval_sets(
    data: &crate::track::ShardData,
    v: &crate::track::ValidationSpec,
    seq_len: usize,
    heldout_seed: Option<u64>,
) -> Result<EvalSets, String> {
    shards::eval_sets(data, v, seq_len, heldout_seed)
}

mod shards {
    use std::path::PathBuf;

    use speedcert_bundle::run::DigestOrigin;
    use speedcert_data::fetch::ShardSource;
    use speedcert_data::lock::{DataLock, DigestSource, verify_dir};
    use speedcert_data::shard::ShardReader;

    use super::*;
    use crate::track::{ShardData, ValidationSpec};

    fn sources(refs: &[crate::track::ShardRef]) -> Vec<ShardSource> {
        refs.iter()
            .map(|s| ShardSource::new(s.name.clone(), s.sha256.clone()))
            .collect()
    }

    /// Verifies the validation shards and every training shard present on disk
    /// against their pins (or the data lock), before any clock starts; returns them in
    /// the track's order, each with the digest it matched and where that came from.
    pub fn verify(data: &ShardData) -> Result<Vec<DataShard>, String> {
        let lock = DataLock::load(&data.dir).map_err(|e| e.to_string())?;
        let mut wanted = sources(&data.val);
        wanted.extend(sources(data.heldout.as_slice()));
        wanted.extend(
            sources(&data.train)
                .into_iter()
                .filter(|s| data.dir.join(&s.name).is_file()),
        );
        // verify_dir returns every shard asked for, in the order asked, or fails.
        let verified = verify_dir(&data.dir, &wanted, &lock).map_err(|e| e.to_string())?;
        Ok(verified
            .into_iter()
            .map(|v| {
                let (digest, first_seen) = match &v.digest {
                    DigestSource::Pinned => (DigestOrigin::Pinned, None),
                    DigestSource::Tofu { first_fetched, .. } => {
                        (DigestOrigin::FirstUse, Some(first_fetched.clone()))
                    }
                };
                DataShard {
                    name: v.name,
                    sha256: v.info.sha256,
                    digest,
                    first_seen,
                }
            })
            .collect())
    }

    /// Reads the training shards in order, moving to the next at the end of each.
    struct ShardStream {
        paths: Vec<PathBuf>,
        next: usize,
        reader: Option<(ShardReader, u64)>,
    }

    impl TokenSource for ShardStream {
        fn fill(&mut self, out: &mut [u16]) -> Result<(), StreamError> {
            let mut filled = 0;
            while filled < out.len() {
                if self.reader.as_ref().is_none_or(|(r, pos)| *pos >= r.len()) {
                    let Some(path) = self.paths.get(self.next) else {
                        return Err(StreamError::Source(format!(
                            "all {} training shards are used up; fetch more (speedcert data fetch --shards N)",
                            self.paths.len()
                        )));
                    };
                    if !path.is_file() {
                        return Err(StreamError::Source(format!(
                            "{}: training shard not on disk; fetch it (speedcert data fetch --shards {})",
                            path.display(),
                            self.next + 1
                        )));
                    }
                    let r =
                        ShardReader::open(path).map_err(|e| StreamError::Source(e.to_string()))?;
                    self.reader = Some((r, 0));
                    self.next += 1;
                }
                let (reader, pos) = self.reader.as_mut().expect("opened above");
                let n = ((reader.len() - *pos) as usize).min(out.len() - filled);
                reader
                    .read_into(*pos, &mut out[filled..filled + n])
                    .map_err(|e| StreamError::Source(e.to_string()))?;
                *pos += n as u64;
                filled += n;
            }
            Ok(())
        }
    }

    pub fn train_source(
        data: &ShardData,
    ) -> Result<(Box<dyn TokenSource>, Vec<DataShard>), String> {
        let checked = verify(data)?;
        Ok((
            Box::new(ShardStream {
                paths: data.train.iter().map(|s| data.dir.join(&s.name)).collect(),
                next: 0,
                reader: None,
            }),
            checked,
        ))
    }

    /// The first `n` tokens of the validation shards.
    fn val_tokens(data: &ShardData, n: u64) -> Result<Vec<u16>, String> {
        let mut out = Vec::with_capacity(n as usize);
        for s in &data.val {
            if out.len() as u64 >= n {
                break;
            }
            let path = data.dir.join(&s.name);
            let mut r = ShardReader::open(&path).map_err(|e| e.to_string())?;
            let take = r.len().min(n - out.len() as u64);
            out.extend(r.read_range(0, take).map_err(|e| e.to_string())?);
        }
        if (out.len() as u64) < n {
            return Err(format!(
                "{}: the validation shards hold {} tokens, the track needs {n}",
                data.dir.display(),
                out.len()
            ));
        }
        Ok(out)
    }

    pub fn eval_sets(
        data: &ShardData,
        v: &ValidationSpec,
        seq_len: usize,
        heldout_seed: Option<u64>,
    ) -> Result<EvalSets, String> {
        let public_n = v.tokens + 1;
        let Some(shard) = &data.heldout else {
            let all = val_tokens(
                data,
                speedcert_data::shard::validation_tokens_needed(v.tokens, v.heldout_tokens),
            )?;
            let public = EvalSet::from_tokens(all[..public_n as usize].to_vec(), seq_len, v.tokens);
            let heldout = (v.heldout_tokens > 0).then(|| {
                let set = EvalSet::from_tokens(
                    all[public_n as usize..].to_vec(),
                    seq_len,
                    v.heldout_tokens,
                );
                (set, None)
            });
            return Ok((public, heldout));
        };
        let public = EvalSet::from_tokens(val_tokens(data, public_n)?, seq_len, v.tokens);
        let Some(seed) = heldout_seed.filter(|_| v.heldout_tokens > 0) else {
            return Ok((public, None));
        };
        let path = data.dir.join(&shard.name);
        let mut r = ShardReader::open(&path).map_err(|e| e.to_string())?;
        let shard_tokens = r.len();
        let offset = crate::track::heldout_offset(seed, shard_tokens, v.heldout_tokens)
            .ok_or_else(|| {
                format!(
                    "{}: data.heldout holds {shard_tokens} tokens, the held-out slice needs {}",
                    path.display(),
                    v.heldout_tokens + 1
                )
            })?;
        let tokens = r
            .read_range(offset, v.heldout_tokens + 1)
            .map_err(|e| e.to_string())?;
        let window = HeldoutWindow {
            shard: shard.name.clone(),
            shard_tokens,
            offset,
        };
        Ok((
            public,
            Some((
                EvalSet::from_tokens(tokens, seq_len, v.heldout_tokens),
                Some(window),
            )),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::track::Track;
    use speedcert_data::prepare::{PrepareOptions, prepare};
    use speedcert_data::shard::read_shard;

    /// What `data prepare` writes is what the harness reads: the track it writes loads both
    /// validation slices (its shards once held one token too few for each slice's last
    /// target, and the first run of the track failed).
    #[test]
    fn a_prepared_track_loads_both_validation_slices() {
        let src = tempfile::tempdir().unwrap();
        let text = "the quick brown fox jumps over the lazy dog. ".repeat(150);
        std::fs::write(src.path().join("a.txt"), text).unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut opts = PrepareOptions::new(vec![src.path().to_owned()], out.path().join("p"));
        opts.name = "mini".into();
        opts.val_tokens = 300;
        opts.heldout_tokens = 300;
        opts.shard_tokens = 400;
        opts.progress = false;
        let report = prepare(&opts).unwrap();
        let val: Vec<u16> = report
            .val
            .iter()
            .flat_map(|s| read_shard(&s.path).unwrap())
            .collect();
        assert_eq!(val.len(), 602, "300 + 1 public, 300 + 1 held out");

        let track = Track::load(&report.track).unwrap();
        let (public, heldout) = crate::harness::eval_sets(&track, Some(7)).unwrap();
        let (heldout, window) = heldout.expect("the track has a held-out slice");
        assert_eq!(
            window, None,
            "no data.heldout: the slice follows the public one"
        );
        let seq = track.spec.model.seq_len;
        assert_eq!((public.windows(), heldout.windows()), (1, 1));
        assert_eq!(public.tokens(), &val[..seq + 1]);
        assert_eq!(heldout.tokens(), &val[301..301 + seq + 1]);
    }
}
