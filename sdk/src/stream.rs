//! The training stream: the only way a submission gets training data. It hands out
//! batches in order (as the speedrun's loader does) and counts every token, so the
//! harness knows what a run trained on and can hold it to the track's budget.

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

/// The only way a submission gets training data. It streams sequentially (as the
/// speedrun's loader does), so token `i` is handed out at most once as an input.
pub struct TrainStream<B: Backend> {
    source: Box<dyn TokenSource>,
    device: B::Device,
    /// The last target of the previous batch is the first input of the next.
    carry: Option<u16>,
    served: u64,
    budget: Option<u64>,
    buf: Vec<u16>,
}

impl<B: Backend> TrainStream<B> {
    pub fn new(source: Box<dyn TokenSource>, device: B::Device, budget: Option<u64>) -> Self {
        Self {
            source,
            device,
            carry: None,
            served: 0,
            budget,
            buf: Vec::new(),
        }
    }

    /// Input tokens handed out so far (targets are the same tokens shifted by one).
    pub fn tokens_served(&self) -> u64 {
        self.served
    }

    /// The next `batch` sequences of `seq_len` tokens, on the run's device.
    pub fn next_batch(&mut self, batch: usize, seq_len: usize) -> Result<Batch<B>, StreamError> {
        let need = batch * seq_len;
        if let Some(budget) = self.budget
            && self.served + need as u64 > budget
        {
            return Err(StreamError::BudgetExhausted {
                budget,
                served: self.served,
                requested: need as u64,
            });
        }
        self.buf.resize(need + 1, 0);
        let fresh = match self.carry {
            Some(t) => {
                self.buf[0] = t;
                &mut self.buf[1..]
            }
            None => &mut self.buf[..],
        };
        self.source.fill(fresh)?;
        self.carry = Some(self.buf[need]);
        self.served += need as u64;
        let ids: Vec<i32> = self.buf.iter().map(|&t| t as i32).collect();
        let inputs = TensorData::new(ids[..need].to_vec(), [batch, seq_len]);
        let targets = TensorData::new(ids[1..].to_vec(), [batch, seq_len]);
        Ok(Batch {
            inputs: Tensor::from_data(inputs, &self.device),
            targets: Tensor::from_data(targets, &self.device),
        })
    }
}
