//! Data-parallel ranks: where a submission's copy of the model sits among the run's
//! replicas, and the one collective operation it needs. The harness starts one rank per
//! device, registers them with burn's collective and deals each its slice of every
//! batch ([`crate::stream::Dealer`]); a submission averages its gradients across ranks
//! with [`Ranks::all_reduce`] before its optimizer step, so every replica takes the same
//! step and `world` ranks train as one rank with `world` times the batch.

use std::marker::PhantomData;

use burn::collective::{CollectiveError, PeerId, ReduceOperation, all_reduce, broadcast};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorPrimitive};

use crate::SubmissionError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranks {
    /// This replica, `0..world`; rank 0's model is the one the harness validates.
    pub rank: usize,
    /// Replicas training together, one per device.
    pub world: usize,
}

impl Ranks {
    /// One rank: no collective, nothing to average.
    pub const SOLO: Ranks = Ranks { rank: 0, world: 1 };

    /// The id burn's collective knows this rank by.
    pub fn peer(&self) -> PeerId {
        PeerId::from(self.rank)
    }

    /// `batch` sequences split over the ranks: what each rank trains on per step.
    pub fn share(&self, batch: usize) -> Result<usize, SubmissionError> {
        if !batch.is_multiple_of(self.world) || batch < self.world {
            return Err(SubmissionError::Message(format!(
                "a batch of {batch} sequences does not split evenly over {} ranks",
                self.world
            )));
        }
        Ok(batch / self.world)
    }

    /// The mean of every rank's gradients of `module`'s parameters, on every rank. A
    /// no-op for one rank.
    ///
    /// Gradients are paired across ranks in the order `module` visits its parameters,
    /// which is the same on every replica. (burn's `GradientsParams::all_reduce` pairs
    /// them by sorted parameter id, and ids are drawn at random when a replica is built,
    /// so replicas that each built their own model would pair different tensors.)
    pub fn all_reduce<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        mut grads: GradientsParams,
        module: &M,
    ) -> Result<GradientsParams, SubmissionError> {
        if self.world == 1 {
            return Ok(grads);
        }
        let mut mean = MeanOverRanks::<B> {
            grads: &mut grads,
            peer: self.peer(),
            failed: None,
            backend: PhantomData,
        };
        module.visit(&mut mean);
        match mean.failed {
            None => Ok(grads),
            Some(e) => Err(SubmissionError::Message(format!(
                "averaging gradients across {} ranks failed on rank {}: {e:?}",
                self.world, self.rank
            ))),
        }
    }

    /// `module` with rank 0's parameter values on every rank, as PyTorch's DDP starts.
    /// Call it once in `init`, after building the model on `device`. A no-op for one
    /// rank.
    ///
    /// Backends seed one process-wide generator and burn initialises parameters
    /// lazily, on first use, so replicas built at once would draw their weights
    /// interleaved: rank 0's model would depend on thread timing. Here every rank first
    /// waits for the others (so no later `B::seed` restarts the generator), then only
    /// rank 0 draws its weights and sends them; the others load them without ever
    /// initialising their own.
    pub fn broadcast<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: M,
        device: &B::Device,
    ) -> Result<M, SubmissionError> {
        if self.world == 1 {
            return Ok(module);
        }
        let failed = |e: String| {
            SubmissionError::Message(format!(
                "copying rank 0's parameters to {} ranks failed on rank {}: {e}",
                self.world, self.rank
            ))
        };
        // The barrier: a collective returns on no rank before every rank has called it.
        self.mean::<B>(0.0, device)?;
        let mut from_zero = FromRankZero::<B> {
            ranks: *self,
            failed: None,
            backend: PhantomData,
        };
        let module = module.map(&mut from_zero);
        match from_zero.failed {
            None => Ok(module),
            Some(e) => Err(failed(format!("{e:?}"))),
        }
    }

    /// The mean of `value` over every rank: a step's train loss for the log, which
    /// then is the whole batch's as one rank accumulating it would report.
    pub fn mean<B: AutodiffBackend>(
        &self,
        value: f64,
        device: &B::Device,
    ) -> Result<f64, SubmissionError> {
        if self.world == 1 {
            return Ok(value);
        }
        let t = Tensor::<B::InnerBackend, 1>::from_floats([value as f32], device);
        let mean = all_reduce::<B::InnerBackend>(
            self.peer(),
            t.into_primitive().tensor(),
            ReduceOperation::Mean,
        )
        .map_err(|e| {
            SubmissionError::Message(format!(
                "averaging a value across {} ranks failed on rank {}: {e:?}",
                self.world, self.rank
            ))
        })?;
        Ok(
            Tensor::<B::InnerBackend, 1>::from_primitive(TensorPrimitive::Float(mean))
                .into_scalar()
                .elem::<f64>(),
        )
    }
}

/// Replaces each parameter's value by rank 0's.
struct FromRankZero<B: AutodiffBackend> {
    ranks: Ranks,
    failed: Option<CollectiveError>,
    backend: PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleMapper<B> for FromRankZero<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if self.failed.is_some() {
            return param;
        }
        let peer = self.ranks.peer();
        if self.ranks.rank == 0 {
            let sent = param.val().inner().into_primitive().tensor();
            if let Err(e) = broadcast::<B::InnerBackend>(peer, Some(sent)) {
                self.failed = Some(e);
            }
            return param;
        }
        match broadcast::<B::InnerBackend>(peer, None) {
            Ok(t) => {
                let inner = Tensor::<B::InnerBackend, D>::from_primitive(TensorPrimitive::Float(t));
                // burn's loading path: keeps the parameter's id, device and autodiff
                // setting, and never runs its initialiser.
                let id = param.id;
                param.transform_for_load(Tensor::from_inner(inner), id)
            }
            Err(e) => {
                self.failed = Some(e);
                param
            }
        }
    }
}

/// Replaces each visited parameter's gradient by its mean over the ranks.
struct MeanOverRanks<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    peer: PeerId,
    failed: Option<CollectiveError>,
    backend: PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for MeanOverRanks<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.failed.is_some() {
            return;
        }
        let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) else {
            return;
        };
        match all_reduce::<B::InnerBackend>(
            self.peer,
            grad.into_primitive().tensor(),
            ReduceOperation::Mean,
        ) {
            Ok(mean) => self.grads.register::<B::InnerBackend, D>(
                param.id,
                Tensor::from_primitive(TensorPrimitive::Float(mean)),
            ),
            Err(e) => self.failed = Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitContext;
    use crate::reference::GptAdamW;
    use crate::stream::{Dealer, TrainStream};
    use crate::testing::{CpuBackend, CyclicTokens, tiny_track};
    use burn::collective::{CollectiveConfig, finish_collective, register};
    use burn::tensor::{Int, TensorData};

    type B = CpuBackend;

    /// Probe logits of every rank after `steps` steps of the reference recipe on `world`
    /// ranks (threads), with the recipe's micro-batch `micro`.
    fn train(world: usize, micro: Option<usize>, steps: usize) -> Vec<Vec<f32>> {
        let mut track = tiny_track(steps);
        track.reference.micro_batch_size = micro;
        let dealer = Dealer::new(Box::new(CyclicTokens::new(61)), world, None);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..world)
                .map(|rank| {
                    let (track, dealer) = (&track, dealer.clone());
                    scope.spawn(move || {
                        let device = Default::default();
                        let ranks = Ranks { rank, world };
                        if world > 1 {
                            register::<<B as AutodiffBackend>::InnerBackend>(
                                ranks.peer(),
                                device,
                                CollectiveConfig::default().with_num_devices(world),
                            )
                            .unwrap();
                        }
                        let ctx = InitContext {
                            track,
                            device: &device,
                            seed: 5,
                            run_index: 0,
                            ranks,
                        };
                        let mut run = GptAdamW::<B>::new(&ctx, track.reference.clone()).unwrap();
                        let mut stream = TrainStream::<B>::rank(dealer, rank, device);
                        for step in 0..steps {
                            run.step(&mut stream, step).unwrap();
                        }
                        let ids: Vec<i32> = (0..32).map(|i| i % 61).collect();
                        let probe =
                            Tensor::<<B as AutodiffBackend>::InnerBackend, 2, Int>::from_data(
                                TensorData::new(ids, [2, 16]),
                                &device,
                            );
                        let logits = run.logits(probe).into_data().to_vec::<f32>().unwrap();
                        if world > 1 {
                            finish_collective::<<B as AutodiffBackend>::InnerBackend>(ranks.peer())
                                .unwrap();
                        }
                        logits
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Two replicas averaging gradients stay equal, and equal one rank accumulating the
    /// same batch in two halves.
    #[test]
    fn two_ranks_train_the_model_one_rank_accumulates() {
        let two = train(2, None, 8);
        let one = train(1, Some(4), 8);
        assert_eq!(max_diff(&two[0], &two[1]), 0.0, "the replicas differ");
        let d = max_diff(&two[0], &one[0]);
        assert!(d < 1e-3, "two ranks differ from accumulation by {d}");
    }
}
