//! The training stream: the only way a submission gets training data. It hands out
//! batches in order (as the speedrun's loader does) and counts every token, so the
//! harness knows what a run trained on and can hold it to the track's budget.
//!
//! With data-parallel ranks, one [`Dealer`] owns the source and every rank's stream asks
//! it for its part: call `k` of every rank is one round of the stream, and rank `r` gets
//! the `r`-th slice of it, as the speedrun's distributed loader deals a global batch. So
//! `world` ranks asking for `b` sequences read exactly the tokens one rank reads asking
//! for `b` sequences `world` times, in the same order.

use std::sync::{Arc, Mutex};

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StreamError {
    #[error(
        "training token budget exhausted: {budget} tokens allowed, {requested} more requested after {served}"
    )]
    BudgetExhausted {
        budget: u64,
        served: u64,
        requested: u64,
    },
    #[error(
        "rank {rank} asked for {asked} tokens in its call {call}, another rank for {dealt}: every rank must ask for the same batch in the same call"
    )]
    RanksDisagree {
        rank: usize,
        call: usize,
        asked: usize,
        dealt: usize,
    },
    #[error("training data: {0}")]
    Source(String),
}

/// Where training tokens come from, in order.
pub trait TokenSource: Send {
    fn fill(&mut self, out: &mut [u16]) -> Result<(), StreamError>;
}

/// One training batch: `targets` are `inputs` shifted by one token.
pub struct Batch<B: Backend> {
    pub inputs: Tensor<B, 2, Int>,
    pub targets: Tensor<B, 2, Int>,
}

/// Deals one token source out to `world` ranks, round by round, and counts and budgets
/// every token handed out on any rank.
pub struct Dealer {
    state: Mutex<Deal>,
}

struct Deal {
    source: Box<dyn TokenSource>,
    world: usize,
    budget: Option<u64>,
    /// Input tokens handed out on all ranks together.
    served: u64,
    /// Stream position of `window[0]`.
    base: u64,
    /// Tokens read from the source and still needed by some rank.
    window: std::collections::VecDeque<u16>,
    /// Per round: its first stream position and the tokens each rank gets in it.
    rounds: Vec<(u64, usize)>,
    /// Calls made so far, per rank.
    calls: Vec<usize>,
}

impl Deal {
    /// Stream position where the round after the last one dealt starts.
    fn next_round(&self) -> u64 {
        self.rounds
            .last()
            .map_or(0, |&(s, n)| s + (self.world * n) as u64)
    }
}

impl Dealer {
    pub fn new(source: Box<dyn TokenSource>, world: usize, budget: Option<u64>) -> Arc<Self> {
        let world = world.max(1);
        Arc::new(Self {
            state: Mutex::new(Deal {
                source,
                world,
                budget,
                served: 0,
                base: 0,
                window: Default::default(),
                rounds: Vec::new(),
                calls: vec![0; world],
            }),
        })
    }

    /// Ranks this dealer serves.
    pub fn world(&self) -> usize {
        self.lock().world
    }

    /// Input tokens handed out on every rank so far.
    pub fn served(&self) -> u64 {
        self.lock().served
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Deal> {
        // A rank that panicked mid-deal leaves the counts as they were: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `need + 1` tokens for `rank`'s next call: its inputs and, shifted by one, targets.
    fn deal(&self, rank: usize, need: usize, out: &mut Vec<u16>) -> Result<(), StreamError> {
        let mut d = self.lock();
        let call = d.calls[rank];
        if call == d.rounds.len() {
            let round = (d.world * need) as u64;
            if let Some(budget) = d.budget
                && d.served + round > budget
            {
                return Err(StreamError::BudgetExhausted {
                    budget,
                    served: d.served,
                    requested: round,
                });
            }
            let start = d.next_round();
            d.rounds.push((start, need));
            d.served += round;
        }
        let (round_start, dealt) = d.rounds[call];
        if dealt != need {
            return Err(StreamError::RanksDisagree {
                rank,
                call,
                asked: need,
                dealt,
            });
        }
        let start = round_start + (rank * need) as u64;
        let end = start + need as u64 + 1;
        let have = d.base + d.window.len() as u64;
        if end > have {
            let mut fresh = vec![0u16; (end - have) as usize];
            d.source.fill(&mut fresh)?;
            d.window.extend(fresh);
        }
        let from = (start - d.base) as usize;
        out.clear();
        out.extend(d.window.range(from..from + need + 1));
        d.calls[rank] += 1;
        // Forget what no rank will ask for again: everything before the earliest next call.
        let next_round = d.next_round();
        let keep = (0..d.world)
            .map(|r| match d.rounds.get(d.calls[r]) {
                Some(&(s, n)) => s + (r * n) as u64,
                None => next_round,
            })
            .min()
            .unwrap_or(d.base);
        let drop = keep.saturating_sub(d.base).min(d.window.len() as u64) as usize;
        d.window.drain(..drop);
        d.base += drop as u64;
        Ok(())
    }
}

/// The only way a submission gets training data. It streams sequentially (as the
/// speedrun's loader does), so token `i` is handed out at most once as an input.
pub struct TrainStream<B: Backend> {
    dealer: Arc<Dealer>,
    rank: usize,
    device: B::Device,
    buf: Vec<u16>,
}

impl<B: Backend> TrainStream<B> {
    /// The whole stream for one rank.
    pub fn new(source: Box<dyn TokenSource>, device: B::Device, budget: Option<u64>) -> Self {
        Self::rank(Dealer::new(source, 1, budget), 0, device)
    }

    /// Rank `rank`'s part of `dealer`'s stream, on that rank's device.
    pub fn rank(dealer: Arc<Dealer>, rank: usize, device: B::Device) -> Self {
        assert!(
            rank < dealer.world(),
            "rank {rank} of a {}-rank dealer",
            dealer.world()
        );
        Self {
            dealer,
            rank,
            device,
            buf: Vec::new(),
        }
    }

    /// Input tokens handed out so far, on every rank (targets are the same tokens
    /// shifted by one).
    pub fn tokens_served(&self) -> u64 {
        self.dealer.served()
    }

    /// The next `batch` sequences of `seq_len` tokens, on the run's device: on rank `r`
    /// of `world`, the `r`-th of `world` such batches.
    pub fn next_batch(&mut self, batch: usize, seq_len: usize) -> Result<Batch<B>, StreamError> {
        let need = batch * seq_len;
        self.dealer.deal(self.rank, need, &mut self.buf)?;
        let ids: Vec<i32> = self.buf.iter().map(|&t| t as i32).collect();
        let inputs = TensorData::new(ids[..need].to_vec(), [batch, seq_len]);
        let targets = TensorData::new(ids[1..].to_vec(), [batch, seq_len]);
        Ok(Batch {
            inputs: Tensor::from_data(inputs, &self.device),
            targets: Tensor::from_data(targets, &self.device),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CyclicTokens;

    type B = burn::backend::Flex;

    fn ids(b: Batch<B>) -> (Vec<i64>, Vec<i64>) {
        let read = |t: Tensor<B, 2, Int>| t.into_data().convert::<i64>().to_vec().unwrap();
        (read(b.inputs), read(b.targets))
    }

    /// Two ranks read, round by round, exactly what one rank reads in twice the calls.
    #[test]
    fn ranks_split_each_round_as_one_rank_reads_it_in_order() {
        let device = Default::default();
        let mut one = TrainStream::<B>::new(Box::new(CyclicTokens::new(1000)), device, None);
        let dealer = Dealer::new(Box::new(CyclicTokens::new(1000)), 2, None);
        let mut r0 = TrainStream::<B>::rank(dealer.clone(), 0, device);
        let mut r1 = TrainStream::<B>::rank(dealer.clone(), 1, device);
        for round in 0..4 {
            // Rank 1 may run ahead of rank 0 within and across rounds.
            let (b1, b0) = if round % 2 == 0 {
                (r1.next_batch(2, 3).unwrap(), r0.next_batch(2, 3).unwrap())
            } else {
                let b0 = r0.next_batch(2, 3).unwrap();
                (r1.next_batch(2, 3).unwrap(), b0)
            };
            assert_eq!(ids(b0), ids(one.next_batch(2, 3).unwrap()), "round {round}");
            assert_eq!(ids(b1), ids(one.next_batch(2, 3).unwrap()), "round {round}");
        }
        assert_eq!(r0.tokens_served(), one.tokens_served());
        assert_eq!(r1.tokens_served(), 4 * 2 * 6);
    }

    #[test]
    fn the_budget_counts_every_rank_and_ranks_must_agree_on_the_batch() {
        let device = Default::default();
        let dealer = Dealer::new(Box::new(CyclicTokens::new(7)), 2, Some(20));
        let mut r0 = TrainStream::<B>::rank(dealer.clone(), 0, device);
        let mut r1 = TrainStream::<B>::rank(dealer.clone(), 1, device);
        r0.next_batch(2, 3).unwrap();
        r1.next_batch(2, 3).unwrap();
        // The second round would hand out 12 more tokens, 6 on each rank: 24 > 20.
        let err = r1.next_batch(2, 3).err().unwrap();
        assert!(
            matches!(
                err,
                StreamError::BudgetExhausted {
                    budget: 20,
                    served: 12,
                    requested: 12
                }
            ),
            "{err}"
        );
        let dealer = Dealer::new(Box::new(CyclicTokens::new(7)), 2, None);
        let mut r0 = TrainStream::<B>::rank(dealer.clone(), 0, device);
        let mut r1 = TrainStream::<B>::rank(dealer, 1, device);
        r0.next_batch(2, 3).unwrap();
        let err = r1.next_batch(1, 3).err().unwrap().to_string();
        assert!(
            err.contains("rank 1 asked for 3 tokens in its call 0"),
            "{err}"
        );
    }
}
